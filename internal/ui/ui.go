package ui

import (
	"bytes"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/icmp-exporter/icmp_exporter/internal/history"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

// Options configure New.
type Options struct {
	// Engine provides the snapshots (a *probe.Engine).
	Engine history.Snapshotter
	// History is the target history; nil shows lifetime counters only.
	History *history.Store
	// Prefix is the path the pages are served under; "" means /ui.
	Prefix string
	// PageSize is the number of rows of a table page; 0 means 100.
	PageSize int
	// MaxAge is how long a snapshot serves requests before a new one is
	// taken; 0 means 2s.
	MaxAge time.Duration
	// Logger receives template errors; nil discards.
	Logger *slog.Logger
}

//go:embed templates/*.html
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"rtt":      fmtSeconds,
	"loss":     fmtLoss,
	"duration": fmtDuration,
	"utc":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
}).ParseFS(templateFS, "templates/*.html"))

// Handler serves the status pages. It is safe for concurrent use.
type Handler struct {
	o   Options
	mux *http.ServeMux

	mu    sync.Mutex // guards snap, sums, idle; serializes building page data
	snap  *probe.Snapshot
	sums  []history.Summary
	taken time.Time
	idle  *time.Timer // drops snap and sums a minute after the last request
}

// keepIdle is how long the snapshot and summaries stay in memory after the
// last request.
const keepIdle = time.Minute

// New returns the handler of the pages under o.Prefix: the overview
// (Prefix/), a target (Prefix/target?group=G&target=T) and the outages
// (Prefix/outages). It serves GET and HEAD only.
func New(o Options) *Handler {
	if o.Prefix == "" {
		o.Prefix = "/ui"
	}
	if o.PageSize <= 0 {
		o.PageSize = 100
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{o: o, mux: http.NewServeMux()}
	h.mux.HandleFunc(o.Prefix+"/{$}", h.serve(h.overview))
	h.mux.HandleFunc(o.Prefix+"/target", h.serve(h.target))
	h.mux.HandleFunc(o.Prefix+"/outages", h.serve(h.outages))
	h.mux.HandleFunc(o.Prefix, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, o.Prefix+"/", http.StatusMovedPermanently)
	})
	return h
}

// Prefix is the path the pages are served under.
func (h *Handler) Prefix() string { return h.o.Prefix }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "The status pages are read-only.", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	h.mux.ServeHTTP(w, r)
}

// snapshot refreshes the cached snapshot when it is older than MaxAge
// (the summaries then are computed again when needed, see summaries).
// Callers hold h.mu.
func (h *Handler) snapshot() *probe.Snapshot {
	if h.snap == nil || time.Since(h.taken) >= h.o.MaxAge {
		h.snap = h.o.Engine.Snapshot(h.snap)
		h.taken = time.Now()
		h.sums = h.sums[:0]
	}
	if h.idle == nil {
		h.idle = time.AfterFunc(keepIdle, func() {
			h.mu.Lock()
			h.snap, h.sums = nil, nil
			h.mu.Unlock()
		})
	} else {
		h.idle.Reset(keepIdle)
	}
	return h.snap
}

// view is a page to render: its template, status code and data.
type view struct {
	name   string
	status int
	data   any
}

// serve builds a page's data under h.mu (the snapshot is shared) and
// renders it after unlocking, so a slow client holds up nobody else.
func (h *Handler) serve(build func(r *http.Request) view) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		v := build(r)
		h.mu.Unlock()
		var buf bytes.Buffer
		if err := templates.ExecuteTemplate(&buf, v.name, v.data); err != nil {
			h.o.Logger.Error("render status page", "page", v.name, "err", err)
			http.Error(w, "The page could not be rendered; the exporter's log has the error.", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(v.status)
		_, _ = buf.WriteTo(w)
	}
}

// summaries computes the summary of every target of the cached snapshot
// once per snapshot. Callers hold h.mu.
func (h *Handler) summaries() {
	if len(h.sums) == len(h.snap.Targets) {
		return
	}
	if h.o.History != nil {
		h.sums = h.o.History.Summaries(h.snap, time.Hour, h.sums)
	} else {
		h.sums = append(h.sums[:0], make([]history.Summary, len(h.snap.Targets))...)
	}
}

// targetURL is the address of a target's page.
func (h *Handler) targetURL(spec *probe.TargetSpec) string {
	return h.o.Prefix + "/target?" + url.Values{"group": {spec.Group}, "target": {spec.Name}}.Encode()
}

// page is what every template gets besides its own data.
type Page struct {
	Title   string
	Prefix  string
	Source  string
	Time    time.Time
	Refresh int // seconds; 0 for none
	History bool
}

func (h *Handler) page(title string, snap *probe.Snapshot) Page {
	return Page{Title: title, Prefix: h.o.Prefix, Source: snap.Source.Name, Time: snap.Time, Refresh: 30,
		History: h.o.History != nil && h.o.History.Enabled()}
}
