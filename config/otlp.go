package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// OTLP is the `otlp:` section: push the engine's measurements to an
// OpenTelemetry collector. Unset fields are filled from the standard
// OTEL_EXPORTER_OTLP_* environment variables (WithEnv), then from the
// defaults (WithDefaults).
type OTLP struct {
	Enabled     bool              `yaml:"enabled"`
	Protocol    string            `yaml:"protocol"` // grpc (default) | http
	Endpoint    string            `yaml:"endpoint"` // host:port or URL
	Insecure    bool              `yaml:"insecure"`
	TLS         OTLPTLS           `yaml:"tls"`
	Headers     map[string]Secret `yaml:"headers"`
	Interval    time.Duration     `yaml:"interval"`
	Timeout     time.Duration     `yaml:"timeout"`
	Compression string            `yaml:"compression"` // gzip | none
}

// OTLPTLS are the TLS files for the OTLP connection.
type OTLPTLS struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Secret is a string that never prints its value.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "<secret>"
}

// MarshalYAML hides the value.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// OTLP protocols accepted in OTLP.Protocol. "http/protobuf", the name the
// OTEL_EXPORTER_OTLP_PROTOCOL variable uses, is accepted as OTLPHTTP.
const (
	OTLPGRPC = "grpc"
	OTLPHTTP = "http"
)

// OTLP defaults applied by WithDefaults. The interval and timeout follow the
// OpenTelemetry SDK specification (OTEL_METRIC_EXPORT_INTERVAL,
// OTEL_EXPORTER_OTLP_TIMEOUT).
const (
	DefaultOTLPInterval     = 60 * time.Second
	DefaultOTLPTimeout      = 10 * time.Second
	DefaultOTLPGRPCEndpoint = "localhost:4317"
	DefaultOTLPHTTPEndpoint = "http://localhost:4318/v1/metrics"
	MinOTLPInterval         = 100 * time.Millisecond
)

// WithEnv returns a copy of o whose unset fields are filled from the standard
// OpenTelemetry environment variables, read with getenv (os.Getenv in
// production). The signal-specific OTEL_EXPORTER_OTLP_METRICS_* variable wins
// over the generic OTEL_EXPORTER_OTLP_* one. Fields set in the config file
// win over both; for headers, per header name.
//
// OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: for the http protocol it gets
// "/v1/metrics" appended, as the specification requires;
// OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is used exactly as given. Malformed
// values are kept as they are so that Validate reports them.
func (o OTLP) WithEnv(getenv func(string) string) OTLP {
	env := func(name string) string {
		if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_METRICS_" + name)); v != "" {
			return v
		}
		return strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_" + name))
	}
	if o.Protocol == "" {
		o.Protocol = env("PROTOCOL")
	}
	if o.Endpoint == "" {
		if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")); v != "" {
			o.Endpoint = v
		} else if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")); v != "" {
			if normProtocol(o.Protocol) == OTLPHTTP {
				v = strings.TrimSuffix(v, "/") + "/v1/metrics"
			}
			o.Endpoint = v
		}
	}
	if !o.Insecure {
		if b, err := strconv.ParseBool(env("INSECURE")); err == nil && b {
			o.Insecure = true
		}
	}
	if o.Timeout == 0 {
		if ms, err := strconv.ParseInt(env("TIMEOUT"), 10, 64); err == nil && ms > 0 {
			o.Timeout = time.Duration(ms) * time.Millisecond
		}
	}
	if o.Interval == 0 {
		if ms, err := strconv.ParseInt(strings.TrimSpace(getenv("OTEL_METRIC_EXPORT_INTERVAL")), 10, 64); err == nil && ms > 0 {
			o.Interval = time.Duration(ms) * time.Millisecond
		}
	}
	if o.Compression == "" {
		o.Compression = env("COMPRESSION")
	}
	if o.TLS.CAFile == "" {
		o.TLS.CAFile = env("CERTIFICATE")
	}
	if o.TLS.CertFile == "" && o.TLS.KeyFile == "" {
		o.TLS.CertFile = env("CLIENT_CERTIFICATE")
		o.TLS.KeyFile = env("CLIENT_KEY")
	}
	if h := parseHeaders(env("HEADERS")); len(h) > 0 {
		merged := make(map[string]Secret, len(h)+len(o.Headers))
		maps.Copy(merged, h)
		maps.Copy(merged, o.Headers) // the config file wins
		o.Headers = merged
	}
	return o
}

// parseHeaders decodes the W3C-baggage-like list "k1=v1,k2=v2" of
// OTEL_EXPORTER_OTLP_HEADERS; values are percent-decoded. Malformed entries
// are dropped, as the specification asks.
func parseHeaders(s string) map[string]Secret {
	if s == "" {
		return nil
	}
	h := make(map[string]Secret)
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			continue
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			continue
		}
		h[k] = Secret(dv)
	}
	return h
}

func normProtocol(p string) string {
	switch strings.ToLower(p) {
	case "", OTLPGRPC:
		return OTLPGRPC
	case OTLPHTTP, "http/protobuf":
		return OTLPHTTP
	}
	return p
}

// WithDefaults returns a copy of o with the protocol normalised ("grpc" or
// "http") and the empty endpoint, interval, timeout and compression set to
// their defaults (the timeout at most the interval). Call it after WithEnv.
func (o OTLP) WithDefaults() OTLP {
	o.Protocol = normProtocol(o.Protocol)
	if o.Endpoint == "" {
		o.Endpoint = DefaultOTLPGRPCEndpoint
		if o.Protocol == OTLPHTTP {
			o.Endpoint = DefaultOTLPHTTPEndpoint
		}
	}
	if o.Interval == 0 {
		o.Interval = DefaultOTLPInterval
	}
	if o.Timeout == 0 {
		o.Timeout = min(DefaultOTLPTimeout, o.Interval)
	}
	if o.Compression == "" {
		o.Compression = "none"
	}
	return o
}

// Validate checks the section. Zero values are valid (they mean the
// default), so Validate may run before or after WithDefaults. Errors name the
// field (e.g. "otlp.endpoint"); the config loader adds file and line. Header
// values never appear in errors.
func (o *OTLP) Validate() error {
	p := normProtocol(o.Protocol)
	if p != OTLPGRPC && p != OTLPHTTP {
		return fieldErrorf("otlp.protocol", "%q: want grpc or http (http/protobuf); http/json is not supported", o.Protocol)
	}
	if o.Endpoint != "" {
		if err := validateEndpoint(o.Endpoint, p); err != nil {
			return &OTLPFieldError{Field: "otlp.endpoint", Msg: fmt.Sprintf("%q: %s", o.Endpoint, err.Error()), Err: err}
		}
		if o.Insecure && strings.HasPrefix(strings.ToLower(o.Endpoint), "https://") {
			return fieldErrorf("otlp.endpoint", "%q: https URL contradicts otlp.insecure: true", o.Endpoint)
		}
	}
	if o.Interval < 0 || (o.Interval > 0 && o.Interval < MinOTLPInterval) {
		return fieldErrorf("otlp.interval", "%s: must be at least %s", o.Interval, MinOTLPInterval)
	}
	if o.Timeout < 0 {
		return fieldErrorf("otlp.timeout", "%s: must be positive", o.Timeout)
	}
	if o.Interval > 0 && o.Timeout > o.Interval {
		return fieldErrorf("otlp.timeout", "%s: must not exceed otlp.interval %s", o.Timeout, o.Interval)
	}
	switch strings.ToLower(o.Compression) {
	case "", "none", "gzip":
	default:
		return fieldErrorf("otlp.compression", "%q: want gzip or none", o.Compression)
	}
	if (o.TLS.CertFile == "") != (o.TLS.KeyFile == "") {
		return fieldErrorf("otlp.tls", "cert_file and key_file must be given together")
	}
	if o.Insecure && (o.TLS.CAFile != "" || o.TLS.CertFile != "" || o.TLS.InsecureSkipVerify) {
		return fieldErrorf("otlp.tls", "TLS settings given, but otlp.insecure: true disables TLS")
	}
	if strings.HasPrefix(strings.ToLower(o.Endpoint), "http://") && o.TLS != (OTLPTLS{}) {
		return fieldErrorf("otlp.tls", "TLS settings given, but the endpoint %q is plain http://; use https://", o.Endpoint)
	}
	for _, k := range slices.Sorted(maps.Keys(o.Headers)) {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") {
			return fieldErrorf("otlp.headers", "invalid header name %q", k)
		}
		if strings.ContainsAny(string(o.Headers[k]), "\r\n") {
			return fieldErrorf("otlp.headers", "value of %q contains a line break", k)
		}
	}
	return nil
}

// OTLPFieldError is a problem in one field of the otlp section; the config
// loader uses Field (like "otlp.endpoint") to find the line.
type OTLPFieldError struct {
	Field string
	Msg   string
	Err   error // underlying error, if any
}

func (e *OTLPFieldError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap returns the underlying error.
func (e *OTLPFieldError) Unwrap() error { return e.Err }

func fieldErrorf(field, format string, args ...any) error {
	return &OTLPFieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// validateEndpoint accepts a URL with scheme http or https, or host:port
// (gRPC only: an HTTP endpoint needs the path, so it must be a URL).
func validateEndpoint(ep, protocol string) error {
	if strings.Contains(ep, "://") {
		u, err := url.Parse(ep)
		if err != nil {
			return fmt.Errorf("parse URL: %w", err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("URL scheme %q: want http or https", u.Scheme)
		}
		if u.Host == "" {
			return fmt.Errorf("URL without host")
		}
		return nil
	}
	if protocol == OTLPHTTP {
		return fmt.Errorf("the http protocol needs a URL, e.g. http://collector:4318/v1/metrics")
	}
	host, port, err := net.SplitHostPort(ep)
	if err != nil {
		return fmt.Errorf("want host:port or a URL: %w", err)
	}
	if host == "" {
		return fmt.Errorf("empty host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q: want 1-65535", port)
	}
	return nil
}
