package promtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// Options configure Start.
type Options struct {
	// Config is the prometheus.yml content. Paths in it (rule_files) must be absolute.
	Config string
	// Port to listen on at 127.0.0.1; 0 picks a free port of the current
	// network namespace (use a fixed one when Command enters another namespace).
	Port int
	// Command builds the process; nil means exec.CommandContext. test/lab's
	// Lab.Exec runs it inside the probe namespace.
	Command func(ctx context.Context, name string, args ...string) *exec.Cmd
	// Client reaches the server; nil means a client without proxy.
	Client *http.Client
	// Args are extra command line flags.
	Args []string
}

// Server is a running Prometheus. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:39123.
	URL    string
	client *http.Client
	cmd    *exec.Cmd
	out    *lab.SyncBuffer
	done   chan struct{}
	err    error
}

// Start runs prometheus with opts and waits until it is ready. The server is
// stopped and its storage removed in t.Cleanup; its log is printed when the
// test failed.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := lab.Tool(t, "prometheus")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(opts.Config), 0o644); err != nil {
		t.Fatalf("write prometheus config: %v", err)
	}
	client := opts.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 30 * time.Second}
	}
	command := opts.Command
	if command == nil {
		command = exec.CommandContext
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := opts.Port
		if port == 0 {
			p, err := freePort()
			if err != nil {
				t.Fatalf("start prometheus: %v", err)
			}
			port = p
		}
		s, err := start(t, bin, command, client, cfg, filepath.Join(dir, fmt.Sprintf("data%d", attempt)), port, opts.Args)
		if err == nil {
			return s
		}
		lastErr = err
		if opts.Port != 0 || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("start prometheus: %v", lastErr)
	return nil
}

func start(t testing.TB, bin string, command func(context.Context, string, ...string) *exec.Cmd,
	client *http.Client, cfg, data string, port int, extra []string) (*Server, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := append([]string{
		"--config.file=" + cfg,
		"--storage.tsdb.path=" + data,
		"--web.listen-address=" + addr,
		"--enable-feature=native-histograms",
		"--log.level=warn",
	}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := command(ctx, bin, args...)
	killWithParent(cmd)
	s := &Server{URL: "http://" + addr, client: client, cmd: cmd, out: &lab.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	go func() { s.err = cmd.Wait(); close(s.done) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			cancel()
			<-s.done
		}
		cancel()
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.done:
			cancel()
			return nil, fmt.Errorf("prometheus exited: %v: %s", s.err, s.out.String())
		default:
		}
		if s.ready() {
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("prometheus not ready on %s after 60s: %s", addr, s.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", s.out.String())
		}
	})
	return s, nil
}

func (s *Server) ready() bool {
	resp, err := s.client.Get(s.URL + "/-/ready")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// Log returns what prometheus wrote so far.
func (s *Server) Log() string { return s.out.String() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// APIError is an error answer of the Prometheus HTTP API.
type APIError struct {
	Status    int
	ErrorType string // e.g. bad_data for an expression that does not parse
	Message   string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("prometheus api: %s (%d): %s", e.ErrorType, e.Status, e.Message)
}

type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

func (s *Server) api(ctx context.Context, path string, form url.Values, dst any) error {
	var req *http.Request
	var err error
	if form != nil {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, s.URL+path, strings.NewReader(form.Encode()))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
	}
	if err != nil {
		return fmt.Errorf("request %s: %w", path, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("request %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("decode %s (%d): %w: %.200s", path, resp.StatusCode, err, body)
	}
	if r.Status != "success" {
		return &APIError{Status: resp.StatusCode, ErrorType: r.ErrorType, Message: r.Error}
	}
	if dst == nil {
		return nil
	}
	if err := json.Unmarshal(r.Data, dst); err != nil {
		return fmt.Errorf("decode %s data: %w", path, err)
	}
	return nil
}

// Sample is one element of an instant query result. Value is the float
// value; Histogram is set instead for a native histogram sample.
type Sample struct {
	Metric    map[string]string `json:"metric"`
	Value     float64
	Histogram json.RawMessage
}

// QueryResult is the result of an instant query.
type QueryResult struct {
	Type    string // vector, scalar, matrix, string
	Samples []Sample
}

// Query evaluates expr at time at (now when zero). A parse error comes back as
// *APIError with ErrorType "bad_data".
func (s *Server) Query(ctx context.Context, expr string, at time.Time) (QueryResult, error) {
	form := url.Values{"query": {expr}}
	if !at.IsZero() {
		form.Set("time", strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64))
	}
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := s.api(ctx, "/api/v1/query", form, &data); err != nil {
		return QueryResult{}, err
	}
	res := QueryResult{Type: data.ResultType}
	switch data.ResultType {
	case "vector":
		var raw []struct {
			Metric    map[string]string `json:"metric"`
			Value     []json.RawMessage `json:"value"`
			Histogram []json.RawMessage `json:"histogram"`
		}
		if err := json.Unmarshal(data.Result, &raw); err != nil {
			return res, fmt.Errorf("decode vector: %w", err)
		}
		for _, r := range raw {
			smp := Sample{Metric: r.Metric}
			switch {
			case len(r.Value) == 2:
				v, err := parseValue(r.Value[1])
				if err != nil {
					return res, err
				}
				smp.Value = v
			case len(r.Histogram) == 2:
				smp.Histogram = r.Histogram[1]
			}
			res.Samples = append(res.Samples, smp)
		}
	case "scalar":
		var raw []json.RawMessage
		if err := json.Unmarshal(data.Result, &raw); err != nil || len(raw) != 2 {
			return res, fmt.Errorf("decode scalar: %v", err)
		}
		v, err := parseValue(raw[1])
		if err != nil {
			return res, err
		}
		res.Samples = []Sample{{Value: v}}
	default:
		// matrix (a range selector at top level) and string: count elements only.
		var raw []json.RawMessage
		_ = json.Unmarshal(data.Result, &raw)
		res.Samples = make([]Sample, len(raw))
	}
	return res, nil
}

func parseValue(raw json.RawMessage) (float64, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("decode sample value: %w", err)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("decode sample value %q: %w", s, err)
	}
	return v, nil
}

// Rule is a rule as reported by /api/v1/rules.
type Rule struct {
	Name      string  `json:"name"`
	Query     string  `json:"query"`
	Type      string  `json:"type"` // alerting or recording
	Health    string  `json:"health"`
	LastError string  `json:"lastError"`
	State     string  `json:"state"` // alerting rules: inactive, pending, firing
	Alerts    []Alert `json:"alerts"`
}

// RuleGroupStatus is a rule group as reported by /api/v1/rules.
type RuleGroupStatus struct {
	Name  string `json:"name"`
	File  string `json:"file"`
	Rules []Rule `json:"rules"`
}

// Rules returns the loaded rule groups and their health.
func (s *Server) Rules(ctx context.Context) ([]RuleGroupStatus, error) {
	var data struct {
		Groups []RuleGroupStatus `json:"groups"`
	}
	if err := s.api(ctx, "/api/v1/rules", nil, &data); err != nil {
		return nil, err
	}
	return data.Groups, nil
}

// Alert is an active (pending or firing) alert.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    time.Time         `json:"activeAt"`
	Value       string            `json:"value"`
}

// Alerts returns the active alerts of Prometheus' own rule evaluation.
func (s *Server) Alerts(ctx context.Context) ([]Alert, error) {
	var data struct {
		Alerts []Alert `json:"alerts"`
	}
	if err := s.api(ctx, "/api/v1/alerts", nil, &data); err != nil {
		return nil, err
	}
	return data.Alerts, nil
}

// ScrapeTarget is an active scrape target from /api/v1/targets.
type ScrapeTarget struct {
	ScrapeURL string            `json:"scrapeUrl"`
	Labels    map[string]string `json:"labels"`
	Health    string            `json:"health"`
	LastError string            `json:"lastError"`
}

// Targets returns the active scrape targets.
func (s *Server) Targets(ctx context.Context) ([]ScrapeTarget, error) {
	var data struct {
		Active []ScrapeTarget `json:"activeTargets"`
	}
	if err := s.api(ctx, "/api/v1/targets?state=active", nil, &data); err != nil {
		return nil, err
	}
	return data.Active, nil
}

// IsBadData reports whether err is the API's answer to an expression that
// does not parse or type-check.
func IsBadData(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.ErrorType == "bad_data"
}
