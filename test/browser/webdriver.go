package browser

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Chromium flags that work as root in a headless lab namespace.
var ChromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-dev-shm-usage", "--window-size=1280,1400",
}

// Session is a WebDriver session (W3C protocol over HTTP, as chromedriver
// speaks it). Its methods are safe for concurrent use as far as the driver
// allows; tests use one goroutine.
type Session struct {
	client *http.Client
	base   string // http://host:port/session/ID
}

// NewSession starts a browser through the driver at driverURL
// (http://127.0.0.1:9515) with the given Chromium binary, flags and a
// profile directory of its own.
func NewSession(ctx context.Context, client *http.Client, driverURL, binary, userDataDir string, flags []string) (*Session, error) {
	args := append(append([]string(nil), flags...), "--user-data-dir="+userDataDir)
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName":        "chrome",
		"goog:chromeOptions": map[string]any{"binary": binary, "args": args},
		"goog:loggingPrefs":  map[string]any{"browser": "ALL"},
	}}}
	var out struct {
		SessionID string `json:"sessionId"`
	}
	s := &Session{client: client, base: strings.TrimSuffix(driverURL, "/") + "/session"}
	if err := s.call(ctx, http.MethodPost, "", caps, &out); err != nil {
		return nil, fmt.Errorf("new webdriver session: %w", err)
	}
	s.base += "/" + out.SessionID
	return s, nil
}

// call sends a command and decodes the "value" of the answer into out.
func (s *Session) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return fmt.Errorf("%s %s: status %d, undecodable answer %q", method, path, resp.StatusCode, data)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, env.Value)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(env.Value, out)
}

// Close ends the session and the browser.
func (s *Session) Close(ctx context.Context) error {
	return s.call(ctx, http.MethodDelete, "", nil, nil)
}

// Navigate loads url and waits for the page to load.
func (s *Session) Navigate(ctx context.Context, url string) error {
	return s.call(ctx, http.MethodPost, "/url", map[string]string{"url": url}, nil)
}

// Eval runs a script (a function body that returns a value) in the page
// and decodes its result into out.
func (s *Session) Eval(ctx context.Context, out any, script string, args ...any) error {
	if args == nil {
		args = []any{}
	}
	return s.call(ctx, http.MethodPost, "/execute/sync", map[string]any{"script": script, "args": args}, out)
}

// Count returns the number of elements matching a CSS selector.
func (s *Session) Count(ctx context.Context, selector string) (int, error) {
	var n int
	err := s.Eval(ctx, &n, "return document.querySelectorAll(arguments[0]).length", selector)
	return n, err
}

// Text returns the text content of the elements matching a CSS selector.
func (s *Session) Text(ctx context.Context, selector string) ([]string, error) {
	var out []string
	err := s.Eval(ctx, &out, "return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent)", selector)
	return out, err
}

// LogEntry is one browser console message.
type LogEntry struct {
	Level   string `json:"level"`
	Message string `json:"message"`
}

// ConsoleLog returns the browser console messages since the last call.
func (s *Session) ConsoleLog(ctx context.Context) ([]LogEntry, error) {
	var out []LogEntry
	err := s.call(ctx, http.MethodPost, "/se/log", map[string]string{"type": "browser"}, &out)
	return out, err
}

// CDP runs a Chrome DevTools protocol command (chromedriver's extension).
func (s *Session) CDP(ctx context.Context, cmd string, params map[string]any) error {
	return s.call(ctx, http.MethodPost, "/goog/cdp/execute", map[string]any{"cmd": cmd, "params": params}, nil)
}

// BasicAuth makes the browser send HTTP basic credentials with every request.
func (s *Session) BasicAuth(ctx context.Context, user, password string) error {
	if err := s.CDP(ctx, "Network.enable", map[string]any{}); err != nil {
		return err
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
	return s.CDP(ctx, "Network.setExtraHTTPHeaders", map[string]any{"headers": map[string]string{"Authorization": auth}})
}

// Screenshot returns a PNG of the viewport.
func (s *Session) Screenshot(ctx context.Context) ([]byte, error) {
	var b64 string
	if err := s.call(ctx, http.MethodGet, "/screenshot", nil, &b64); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(b64)
}
