package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/fsnotify/fsnotify"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"gopkg.in/yaml.v3"

	"github.com/icmp-exporter/icmp_exporter/config"
)

// Meta labels the sources set on every target group (Prometheus' names).
const (
	metaFilepath = model.MetaLabelPrefix + "filepath"
	metaURL      = model.MetaLabelPrefix + "url"
)

// result is the outcome of one refresh of a source.
type result struct {
	groups  []*targetgroup.Group // the source's whole list; nil keeps the last list
	ok      bool                 // every part was read: the last-success time moves
	failure bool                 // count one refresh failure
}

// refresher reads a source once. It is called from one goroutine at a time.
type refresher interface {
	refresh(ctx context.Context) result
}

// fileSource is a file_sd_configs entry: target-group files matched by
// globs. A file that cannot be read or parsed keeps its last good content;
// the breakage is logged and counted once (again only when the error
// changes or after the file was good again).
type fileSource struct {
	cfg    config.FileSDConfig
	log    *slog.Logger
	last   map[string][]*targetgroup.Group // last good content per file
	broken map[string]string               // error last logged per broken file
}

func newFileSource(cfg config.FileSDConfig, log *slog.Logger) *fileSource {
	return &fileSource{cfg: cfg, log: log, last: map[string][]*targetgroup.Group{}, broken: map[string]string{}}
}

func (f *fileSource) files() []string {
	var files []string
	for _, p := range f.cfg.Files {
		m, _ := filepath.Glob(p) // patterns were checked by config
		files = append(files, m...)
	}
	slices.Sort(files)
	return slices.Compact(files)
}

func (f *fileSource) refresh(context.Context) result {
	files := f.files()
	res := result{groups: []*targetgroup.Group{}, ok: true}
	for _, name := range files {
		tgs, err := readTargetFile(name)
		if err != nil {
			res.ok = false
			if f.broken[name] != err.Error() {
				f.broken[name] = err.Error()
				res.failure = true
				_, kept := f.last[name]
				f.log.Error("target file unusable, keeping its last good content", "file", name, "kept", kept, "err", err)
			}
			res.groups = append(res.groups, f.last[name]...)
			continue
		}
		if _, was := f.broken[name]; was {
			delete(f.broken, name)
			f.log.Info("target file usable again", "file", name)
		}
		f.last[name] = tgs
		res.groups = append(res.groups, tgs...)
	}
	for name := range f.last {
		if !slices.Contains(files, name) {
			delete(f.last, name)
			delete(f.broken, name)
		}
	}
	return res
}

// watchDirs returns the directories whose changes trigger a refresh.
func (f *fileSource) watchDirs() []string {
	var dirs []string
	for _, p := range f.cfg.Files {
		dirs = append(dirs, filepath.Dir(p))
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}

// readTargetFile reads a JSON (.json) or YAML (.yml, .yaml) file of target
// groups in Prometheus' file_sd format.
func readTargetFile(name string) ([]*targetgroup.Group, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	tgs, err := parseTargetGroups(data, filepath.Ext(name))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	for i, tg := range tgs {
		tg.Source = name + ":" + strconv.Itoa(i)
		if tg.Labels == nil {
			tg.Labels = model.LabelSet{}
		}
		tg.Labels[metaFilepath] = model.LabelValue(name)
	}
	return tgs, nil
}

// parseTargetGroups parses a list of target groups ([{targets: [...],
// labels: {...}}]) as JSON (ext .json) or YAML.
func parseTargetGroups(data []byte, ext string) ([]*targetgroup.Group, error) {
	var tgs []*targetgroup.Group
	switch ext {
	case ".json", ".JSON":
		if err := json.Unmarshal(data, &tgs); err != nil {
			return nil, err
		}
	case ".yml", ".yaml", ".YML", ".YAML":
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&tgs); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown file extension %q; want .json, .yml or .yaml", ext)
	}
	for i, tg := range tgs {
		if tg == nil {
			return nil, fmt.Errorf("item %d is empty; want {targets: [...], labels: {...}}", i)
		}
	}
	return tgs, nil
}

// httpSource is an http_sd_configs entry: Prometheus' HTTP SD. A failed
// refresh keeps the last good list; errors are logged when they change.
type httpSource struct {
	cfg     config.HTTPSDConfig
	client  *http.Client
	log     *slog.Logger
	lastErr string
}

// maxHTTPSDBody bounds a response (about 1.5 million targets of JSON).
const maxHTTPSDBody = 128 << 20

var jsonContentType = regexp.MustCompile(`^(?i:application/json(;\s*charset=("utf-8"|utf-8))?)$`)

func newHTTPSource(cfg config.HTTPSDConfig, log *slog.Logger) (*httpSource, error) {
	client, err := commoncfg.NewClientFromConfig(cfg.HTTPClientConfig, "http_sd")
	if err != nil {
		return nil, fmt.Errorf("http_sd client for %s: %w", cfg.URL, err)
	}
	return &httpSource{cfg: cfg, client: client, log: log}, nil
}

func (h *httpSource) refresh(ctx context.Context) result {
	tgs, err := h.fetch(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return result{}
		}
		if err.Error() != h.lastErr {
			h.lastErr = err.Error()
			h.log.Error("HTTP SD refresh failed, keeping the last good list", "url", h.cfg.URL, "err", err)
		}
		return result{failure: true}
	}
	if h.lastErr != "" {
		h.lastErr = ""
		h.log.Info("HTTP SD refresh works again", "url", h.cfg.URL)
	}
	return result{groups: tgs, ok: true}
}

func (h *httpSource) fetch(ctx context.Context) ([]*targetgroup.Group, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(h.cfg.RefreshInterval))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.cfg.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Prometheus-Refresh-Interval-Seconds",
		strconv.FormatFloat(time.Duration(h.cfg.RefreshInterval).Seconds(), 'f', -1, 64))
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil, fmt.Errorf("server returned HTTP status %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !jsonContentType.MatchString(ct) {
		return nil, fmt.Errorf("unsupported content type %q; want application/json", ct)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPSDBody+1))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if len(body) > maxHTTPSDBody {
		return nil, fmt.Errorf("response larger than %d bytes", maxHTTPSDBody)
	}
	tgs, err := parseTargetGroups(body, ".json")
	if err != nil {
		return nil, fmt.Errorf("parse response: %w", err)
	}
	for i, tg := range tgs {
		tg.Source = h.cfg.URL + ":" + strconv.Itoa(i)
		if tg.Labels == nil {
			tg.Labels = model.LabelSet{}
		}
		tg.Labels[metaURL] = model.LabelValue(h.cfg.URL)
	}
	return tgs, nil
}

// watchDebounce lets a burst of file events (a file written in parts)
// settle before the files are read again.
const watchDebounce = 100 * time.Millisecond

// watch returns a watcher of dirs, or nil (refresh_interval only) when
// the system cannot watch them.
func watch(dirs []string, log *slog.Logger) *fsnotify.Watcher {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		log.Warn("cannot watch target files, reading them every refresh_interval only", "err", err)
		return nil
	}
	for _, d := range dirs {
		if err := w.Add(d); err != nil {
			log.Warn("cannot watch directory, reading it every refresh_interval only", "dir", d, "err", err)
		}
	}
	return w
}

// runSource refreshes r every interval (and at once when first is set)
// and shortly after an event of w (nil: none), until ctx is done; it
// closes w. Every result goes to deliver.
func runSource(ctx context.Context, r refresher, interval time.Duration, first bool, w *fsnotify.Watcher, deliver func(result)) {
	var events <-chan fsnotify.Event
	if w != nil {
		defer w.Close()
		events = w.Events
		go func() { // drain watcher errors; a lost event is caught by the interval
			for range w.Errors {
			}
		}()
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	if first {
		deliver(r.refresh(ctx))
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			debounce.Reset(watchDebounce)
			continue
		case <-debounce.C:
		case <-tick.C:
		}
		deliver(r.refresh(ctx))
	}
}
