package app

import (
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// streamFormats are the formats the metrics handler offers with a
// MetricsStreamer, in order of preference. Delimited protobuf and text are
// streamed; the two protobuf text formats (for people debugging) go through
// the registry. OpenMetrics is left out on purpose: Prometheus prefers it
// over the text format when it does not scrape protobuf, and it would have
// to take the slow registry path; the text format carries the same series.
var streamFormats = []expfmt.Format{
	expfmt.NewFormat(expfmt.TypeProtoDelim),
	expfmt.NewFormat(expfmt.TypeProtoText),
	expfmt.NewFormat(expfmt.TypeProtoCompact),
	expfmt.NewFormat(expfmt.TypeTextPlain),
}

// metricsHandler serves a Gatherer (the small collectors: build info,
// process, Go, reload, shard, OTLP, promhttp) and a MetricsStreamer (the
// per-target families) as one exposition: it gathers and encodes the
// Gatherer with expfmt like promhttp, then lets the streamer write its
// families from the engine snapshot. Each family appears once; the
// families are not sorted by name. It honours Accept (expfmt.NegotiateAccept),
// Accept-Encoding (gzip) and name[] like promhttp, and answers 500 only when
// the Gatherer fails without any metric; later errors are logged (the
// status is sent by then).
type metricsHandler struct {
	stall    time.Duration // see stallWriter
	total    time.Duration // the server's write timeout, kept by stallWriter
	gatherer prometheus.Gatherer
	stream   MetricsStreamer
	fallback http.Handler
	logger   *slog.Logger
	gzip     sync.Pool // *gzip.Writer
}

func newMetricsHandler(g prometheus.Gatherer, s MetricsStreamer, stall, total time.Duration, logger *slog.Logger) *metricsHandler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(s)
	return &metricsHandler{
		stall:    stall,
		total:    total,
		gatherer: g,
		stream:   s,
		fallback: promhttp.HandlerFor(prometheus.Gatherers{g, reg}, promhttp.HandlerOpts{
			ErrorLog:        slog.NewLogLogger(logger.Handler(), slog.LevelError),
			ErrorHandling:   promhttp.ContinueOnError,
			AcceptedFormats: streamFormats,
		}),
		logger: logger,
		gzip: sync.Pool{New: func() any {
			// BestSpeed: at 100k targets the text body is 170-400 MB and
			// the default level would take seconds of CPU per scrape.
			w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
			return w
		}},
	}
}

func (h *metricsHandler) ServeHTTP(rsp http.ResponseWriter, req *http.Request) {
	format := expfmt.NegotiateAccept(req.Header, streamFormats...)
	switch format.FormatType() {
	case expfmt.TypeTextPlain, expfmt.TypeProtoDelim:
	default:
		h.fallback.ServeHTTP(rsp, req)
		return
	}
	mfs, err := h.gatherer.Gather()
	if err != nil {
		h.logger.Error("gather metrics", "err", err)
		if len(mfs) == 0 {
			http.Error(rsp, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	hdr := rsp.Header()
	hdr.Add("Vary", "Accept")
	hdr.Add("Vary", "Accept-Encoding")
	hdr.Set("Content-Type", string(format))
	var body io.Writer = rsp
	if h.stall > 0 {
		sw := &stallWriter{w: rsp, rc: http.NewResponseController(rsp), stall: h.stall}
		if h.total > 0 {
			sw.end = time.Now().Add(h.total)
		}
		body = sw
	}
	if acceptsGzip(req.Header.Get("Accept-Encoding")) {
		hdr.Set("Content-Encoding", "gzip")
		gz := h.gzip.Get().(*gzip.Writer)
		gz.Reset(body)
		defer func() {
			if err := gz.Close(); err != nil {
				h.logger.Debug("finish gzip stream", "err", err)
			}
			gz.Reset(nil)
			h.gzip.Put(gz)
		}()
		body = gz
	}
	include := nameFilter(req)
	enc := expfmt.NewEncoder(body, format)
	for _, mf := range mfs {
		if include != nil && !include(mf.GetName()) {
			continue
		}
		if err := enc.Encode(mf); err != nil {
			h.logger.Error("encode metrics", "family", mf.GetName(), "err", err)
			return
		}
	}
	if err := h.stream.WriteMetrics(body, format, include); err != nil {
		h.logger.Error("write metrics", "err", err)
	}
}

// stallWriter gives every write to the client its own deadline. Scrapes
// are serialised while they write (collector.WriteMetrics), so a client
// that stops reading, or reads a byte per second, would hold every other
// scrape until the server's write timeout; with a deadline per write of
// about 64 KiB it is cut off after stall instead. Setting a deadline
// replaces the one of the server's write timeout, so the writer keeps that
// too (end). One timer update per write, not per series.
type stallWriter struct {
	w     io.Writer
	rc    *http.ResponseController
	stall time.Duration
	end   time.Time // zero: no overall deadline
}

func (s *stallWriter) Write(p []byte) (int, error) {
	d := time.Now().Add(s.stall)
	if !s.end.IsZero() && s.end.Before(d) {
		d = s.end
	}
	// An error means the writer cannot set deadlines (a test recorder): the
	// server's write timeout still bounds the scrape.
	_ = s.rc.SetWriteDeadline(d)
	return s.w.Write(p)
}

// nameFilter returns the filter of the name[] query parameters, or nil for
// none.
func nameFilter(req *http.Request) func(string) bool {
	if req.URL == nil {
		return nil
	}
	names := req.URL.Query()["name[]"]
	if len(names) == 0 {
		return nil
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return func(n string) bool { return set[n] }
}

// acceptsGzip reports whether an Accept-Encoding header value accepts gzip
// (explicitly or by *, with a q-value above 0) and prefers it over
// identity.
func acceptsGzip(header string) bool {
	gz, star, identity := -1.0, -1.0, -1.0
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		switch strings.ToLower(strings.TrimSpace(coding)) {
		case "gzip", "x-gzip":
			gz = max(gz, q)
		case "*":
			star = max(star, q)
		case "identity":
			identity = max(identity, q)
		}
	}
	if gz < 0 {
		gz = star
	}
	return gz > 0 && gz >= identity
}
