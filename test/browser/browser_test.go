//go:build linux

package browser

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// The exporter's basic auth user; passwordHash is bcrypt("lab-password").
const (
	user         = "admin"
	password     = "lab-password"
	passwordHash = "$2a$10$ylIKjjK88ZYDw6XOpWRNAeO6ECnXn.99GYdE0lH6ILzqqbYV1nvHa"
	driverPort   = "9515"
)

// ScreenshotsEnv set to 1 makes the test write its screenshots to docs/img.
const ScreenshotsEnv = "UPDATE_SCREENSHOTS"

// TestStatusPagesInBrowser runs the exporter with basic auth in a lab with
// three targets and 5-second history buckets; after about 15 s the third
// target is dropped for 6 s (a completed outage), then the second for good
// (down, ongoing outage). Headless Chromium then checks the overview, the
// target pages and the outages page in the DOM, and the console for errors.
func TestStatusPagesInBrowser(t *testing.T) {
	l := lab.New(t, lab.Options{})
	var tools = map[string]string{}
	for _, name := range []string{"chromium", "chromedriver"} {
		p, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("needs %s (Debian packages chromium, chromium-driver: run scripts/deps.sh): %v", name, err)
		}
		tools[name] = p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	addrs := l.Addrs(3, false)
	cfg := lab.WriteConfig(t, lab.ExporterConfig{Source: "browser-lab", Groups: []lab.ConfigGroup{{
		Name:           "lab",
		ConfigSettings: lab.ConfigSettings{Interval: 200 * time.Millisecond, Timeout: 200 * time.Millisecond, DownAfter: 3, Labels: map[string]string{"site": "lab"}},
		Targets:        addrs,
	}}})
	webConfig := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(webConfig, []byte("basic_auth_users:\n  "+user+": "+passwordHash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	x := l.StartExporter(ctx, lab.ExporterOptions{Config: cfg,
		Args: []string{"--web.config.file=" + webConfig, "--web.ui.history-bucket=5s"}})
	start := time.Now()
	lab.WaitFor(t, time.Minute, 200*time.Millisecond, "exporter asks for credentials on /ui/", func() (bool, string) {
		if err := x.Exited(); err != nil {
			t.Fatal(err)
		}
		code, err := status(ctx, x.Client, x.URL("/ui/"), "")
		return code == http.StatusUnauthorized, fmt.Sprintf("status %d, err %v", code, err)
	})
	if code, err := status(ctx, x.Client, x.URL("/ui/"), password); code != http.StatusOK {
		t.Fatalf("GET /ui/ with credentials: status %d, err %v", code, err)
	}

	driver := l.Start(ctx, tools["chromedriver"], "--port="+driverPort)
	driverURL := "http://127.0.0.1:" + driverPort
	lab.WaitFor(t, time.Minute, 200*time.Millisecond, "chromedriver answers", func() (bool, string) {
		code, err := status(ctx, x.Client, driverURL+"/status", "")
		return code == http.StatusOK, fmt.Sprintf("status %d, err %v; output %s", code, err, driver.Output())
	})
	s, err := NewSession(ctx, l.HTTPClient(), driverURL, tools["chromium"], t.TempDir(), ChromiumFlags)
	if err != nil {
		t.Fatalf("%v; chromedriver output:\n%s", err, driver.Output())
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	if err := s.BasicAuth(ctx, user, password); err != nil {
		t.Fatal(err)
	}

	// For the README's screenshots the same story takes three times as
	// long, so that the graphs hold more buckets.
	stretch := time.Duration(1)
	if os.Getenv(ScreenshotsEnv) == "1" {
		stretch = 3
	}
	time.Sleep(time.Until(start.Add(15 * time.Second * stretch)))
	l.DropWindow(addrs[2:3], 6*time.Second)
	time.Sleep(2 * time.Second * stretch)
	l.AddDrop(addrs[1:2]) // removed in cleanup
	down := addrs[1].String()

	overview := x.URL("/ui/")
	lab.WaitFor(t, time.Minute, time.Second, down+" down on the overview", func() (bool, string) {
		rows := rowStates(ctx, t, s, overview)
		return rows[down] == "down", fmt.Sprintf("rows %v", rows)
	})
	// Let the graph fill a few more buckets (5 s each).
	time.Sleep(time.Until(start.Add(50 * time.Second * stretch)))

	rows := rowStates(ctx, t, s, overview)
	for _, a := range addrs {
		want := "up"
		if a.String() == down {
			want = "down"
		}
		if rows[a.String()] != want {
			t.Errorf("overview: target %s is %q, want %q (rows %v)", a, rows[a.String()], want, rows)
		}
	}
	checkGraphs(ctx, t, s, "overview", 6) // 3 sparklines and 3 full graphs
	screenshot(ctx, t, s, "ui-overview.png")

	// The dropped target: down, its ongoing outage listed and drawn.
	nav(ctx, t, s, x.URL("/ui/target?group=lab&target="+down))
	if h1 := text(ctx, t, s, "h1"); !strings.Contains(h1, down) || !strings.Contains(h1, "down") {
		t.Errorf("target page of %s: heading %q, want the target and down", down, h1)
	}
	if o := text(ctx, t, s, "table.outages"); !strings.Contains(o, "ongoing") {
		t.Errorf("target page of %s: outage table %q lacks the ongoing outage", down, o)
	}
	checkGraphs(ctx, t, s, "target "+down, 1)
	for _, sel := range []string{"svg.graph rect.outage", "svg.graph path.median", "svg.graph rect.smoke", "svg.graph rect.loss"} {
		if n := count(ctx, t, s, sel); n == 0 {
			t.Errorf("target page of %s: no %s in the graph", down, sel)
		}
	}
	screenshot(ctx, t, s, "ui-target.png")

	// The target dropped for 6 s: up again, one completed outage of about 6 s.
	flap := addrs[2].String()
	nav(ctx, t, s, x.URL("/ui/target?group=lab&target="+flap))
	if o := text(ctx, t, s, "table.outages"); strings.Contains(o, "ongoing") || strings.Count(o, "UTC") != 2 {
		t.Errorf("target page of %s: outage table %q, want one completed outage (start and end)", flap, o)
	}
	if n := count(ctx, t, s, "svg.graph rect.outage"); n != 1 {
		t.Errorf("target page of %s: %d outages drawn, want 1", flap, n)
	}

	// Outages across targets: the ongoing one first.
	nav(ctx, t, s, x.URL("/ui/outages"))
	var firstRow []string
	if err := s.Eval(ctx, &firstRow, `const r = document.querySelectorAll("table.outages tr")[1]; return r ? Array.from(r.cells, c => c.textContent) : []`); err != nil {
		t.Fatal(err)
	}
	if len(firstRow) < 3 || !strings.Contains(firstRow[0], down) || firstRow[2] != "ongoing" {
		t.Errorf("outages page: first row %q, want the ongoing outage of %s", firstRow, down)
	}
	if o := text(ctx, t, s, "table.outages"); !strings.Contains(o, flap) {
		t.Errorf("outages page lacks the outage of %s", flap)
	}
	screenshot(ctx, t, s, "ui-outages.png")

	logs, err := s.ConsoleLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range logs {
		t.Errorf("browser console: %s %s", e.Level, e.Message)
	}
}

func status(ctx context.Context, c *http.Client, url, pw string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if pw != "" {
		req.SetBasicAuth(user, pw)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func nav(ctx context.Context, t *testing.T, s *Session, url string) {
	t.Helper()
	if err := s.Navigate(ctx, url); err != nil {
		t.Fatal(err)
	}
	var title string
	if err := s.Eval(ctx, &title, "return document.title"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(title, "icmp_exporter") {
		t.Fatalf("%s: page title %q: not a status page (basic auth refused?)", url, title)
	}
}

func text(ctx context.Context, t *testing.T, s *Session, sel string) string {
	t.Helper()
	texts, err := s.Text(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(texts, "\n")
}

func count(ctx context.Context, t *testing.T, s *Session, sel string) int {
	t.Helper()
	n, err := s.Count(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// rowStates loads the overview and returns the state (up, down) of every
// target row by target.
func rowStates(ctx context.Context, t *testing.T, s *Session, url string) map[string]string {
	t.Helper()
	nav(ctx, t, s, url)
	var rows [][]string
	if err := s.Eval(ctx, &rows, `return Array.from(document.querySelectorAll("table.targets tr"), r => Array.from(r.cells, c => c.textContent)).slice(1)`); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		if len(r) > 2 {
			out[r[2]] = strings.TrimSpace(r[0])
		}
	}
	return out
}

// checkGraphs checks that the page shows at least n graphs and that each is
// laid out with its full size and holds drawn shapes.
func checkGraphs(ctx context.Context, t *testing.T, s *Session, page string, n int) {
	t.Helper()
	var sizes []struct {
		W, H   float64
		Shapes int
	}
	if err := s.Eval(ctx, &sizes, `return Array.from(document.querySelectorAll("svg.graph"), g => {
		const r = g.getBoundingClientRect();
		return {W: r.width, H: r.height, Shapes: g.querySelectorAll("rect.smoke, path.median").length};
	})`); err != nil {
		t.Fatal(err)
	}
	if len(sizes) < n {
		t.Errorf("%s: %d graphs, want at least %d", page, len(sizes), n)
	}
	for i, g := range sizes {
		if g.W < 100 || g.H < 20 || g.Shapes == 0 {
			t.Errorf("%s: graph %d is %gx%g px with %d shapes: not rendered", page, i, g.W, g.H, g.Shapes)
		}
	}
}

func screenshot(ctx context.Context, t *testing.T, s *Session, name string) {
	t.Helper()
	png, err := s.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(png[:4], []byte{0x89, 'P', 'N', 'G'}) {
		t.Fatalf("screenshot %s is not a PNG", name)
	}
	if os.Getenv(ScreenshotsEnv) != "1" {
		return
	}
	root, err := lab.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "docs", "img")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", filepath.Join(dir, name))
}
