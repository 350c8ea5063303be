package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestOTLPWithEnv(t *testing.T) {
	tests := []struct {
		name string
		in   OTLP
		env  map[string]string
		want OTLP
	}{
		{
			name: "nothing set, nothing changes",
			in:   OTLP{Enabled: true},
			env:  nil,
			want: OTLP{Enabled: true},
		},
		{
			name: "generic endpoint gets /v1/metrics for http",
			in:   OTLP{Protocol: "http"},
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://col:4318/"},
			want: OTLP{Protocol: "http", Endpoint: "http://col:4318/v1/metrics"},
		},
		{
			name: "generic endpoint and protocol from env",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT": "https://col:4318/base",
				"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
			},
			want: OTLP{Protocol: "http/protobuf", Endpoint: "https://col:4318/base/v1/metrics"},
		},
		{
			name: "generic endpoint stays as is for grpc",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://col:4317"},
			want: OTLP{Endpoint: "http://col:4317"},
		},
		{
			name: "metrics endpoint used exactly and wins over generic",
			in:   OTLP{Protocol: "http"},
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT":         "http://generic:4318",
				"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://col:9999/custom",
			},
			want: OTLP{Protocol: "http", Endpoint: "http://col:9999/custom"},
		},
		{
			name: "config file endpoint wins over env",
			in:   OTLP{Endpoint: "file:4317"},
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4317"},
			want: OTLP{Endpoint: "file:4317"},
		},
		{
			name: "insecure, timeout, interval, compression, tls files",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_INSECURE":            "true",
				"OTEL_EXPORTER_OTLP_TIMEOUT":             "2500",
				"OTEL_METRIC_EXPORT_INTERVAL":            "15000",
				"OTEL_EXPORTER_OTLP_METRICS_COMPRESSION": "gzip",
				"OTEL_EXPORTER_OTLP_COMPRESSION":         "none",
				"OTEL_EXPORTER_OTLP_CERTIFICATE":         "/ca.pem",
				"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE":  "/c.pem",
				"OTEL_EXPORTER_OTLP_CLIENT_KEY":          "/k.pem",
			},
			want: OTLP{
				Insecure: true, Timeout: 2500 * time.Millisecond, Interval: 15 * time.Second,
				Compression: "gzip", TLS: OTLPTLS{CAFile: "/ca.pem", CertFile: "/c.pem", KeyFile: "/k.pem"},
			},
		},
		{
			name: "bad numbers ignored, config timeout kept",
			in:   OTLP{Timeout: time.Second},
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_TIMEOUT":  "5000",
				"OTEL_METRIC_EXPORT_INTERVAL": "soon",
				"OTEL_EXPORTER_OTLP_INSECURE": "yes please",
			},
			want: OTLP{Timeout: time.Second},
		},
		{
			name: "headers merged, config file wins per name, values decoded",
			in:   OTLP{Headers: map[string]Secret{"authorization": "Bearer file"}},
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20env, x-tenant = a%2Cb ,broken,=novalue",
			},
			want: OTLP{Headers: map[string]Secret{"authorization": "Bearer file", "x-tenant": "a,b"}},
		},
		{
			name: "metrics headers win over generic headers",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_HEADERS":         "a=generic",
				"OTEL_EXPORTER_OTLP_METRICS_HEADERS": "a=metrics",
			},
			want: OTLP{Headers: map[string]Secret{"a": "metrics"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			got := tt.in.WithEnv(envMap(tt.env))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("WithEnv:\n got %+v\nwant %+v", got, tt.want)
			}
			if !reflect.DeepEqual(in, tt.in) {
				t.Errorf("WithEnv modified its receiver")
			}
		})
	}
}

func TestOTLPWithDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   OTLP
		want OTLP
	}{
		{"empty is grpc", OTLP{}, OTLP{Protocol: "grpc", Endpoint: "localhost:4317", Interval: time.Minute, Timeout: 10 * time.Second, Compression: "none"}},
		{"http", OTLP{Protocol: "HTTP/protobuf"}, OTLP{Protocol: "http", Endpoint: "http://localhost:4318/v1/metrics", Interval: time.Minute, Timeout: 10 * time.Second, Compression: "none"}},
		{"short interval caps timeout", OTLP{Interval: 2 * time.Second}, OTLP{Protocol: "grpc", Endpoint: "localhost:4317", Interval: 2 * time.Second, Timeout: 2 * time.Second, Compression: "none"}},
		{"set values kept", OTLP{Protocol: "grpc", Endpoint: "c:1", Interval: time.Second, Timeout: time.Millisecond, Compression: "gzip"}, OTLP{Protocol: "grpc", Endpoint: "c:1", Interval: time.Second, Timeout: time.Millisecond, Compression: "gzip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.WithDefaults()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("defaults do not validate: %v", err)
			}
		})
	}
}

func TestOTLPValidate(t *testing.T) {
	tests := []struct {
		name  string
		in    OTLP
		field string // "" = valid
		msg   string
	}{
		{"zero value", OTLP{}, "", ""},
		{"full grpc", OTLP{Enabled: true, Protocol: "grpc", Endpoint: "collector.example:4317", Interval: 10 * time.Second, Timeout: 5 * time.Second, Compression: "gzip", Headers: map[string]Secret{"authorization": "Bearer x"}}, "", ""},
		{"grpc URL", OTLP{Endpoint: "https://collector:4317"}, "", ""},
		{"ipv6 host:port", OTLP{Endpoint: "[::1]:4317"}, "", ""},
		{"http URL", OTLP{Protocol: "http", Endpoint: "http://c:4318/v1/metrics", Insecure: true}, "", ""},
		{"mtls", OTLP{TLS: OTLPTLS{CAFile: "ca", CertFile: "c", KeyFile: "k", ServerName: "x"}}, "", ""},
		{"bad protocol", OTLP{Protocol: "http/json"}, "otlp.protocol", "http/json is not supported"},
		{"http needs URL", OTLP{Protocol: "http", Endpoint: "c:4318"}, "otlp.endpoint", "needs a URL"},
		{"no port", OTLP{Endpoint: "collector"}, "otlp.endpoint", "want host:port or a URL"},
		{"bad port", OTLP{Endpoint: "collector:99999"}, "otlp.endpoint", "want 1-65535"},
		{"empty host", OTLP{Endpoint: ":4317"}, "otlp.endpoint", "empty host"},
		{"bad scheme", OTLP{Endpoint: "ftp://c:21"}, "otlp.endpoint", "want http or https"},
		{"URL without host", OTLP{Endpoint: "http:///v1/metrics"}, "otlp.endpoint", "without host"},
		{"https and insecure", OTLP{Endpoint: "https://c:4317", Insecure: true}, "otlp.endpoint", "contradicts"},
		{"interval too short", OTLP{Interval: time.Millisecond}, "otlp.interval", "at least 100ms"},
		{"negative timeout", OTLP{Timeout: -time.Second}, "otlp.timeout", "positive"},
		{"timeout above interval", OTLP{Interval: time.Second, Timeout: 2 * time.Second}, "otlp.timeout", "must not exceed"},
		{"bad compression", OTLP{Compression: "zstd"}, "otlp.compression", "want gzip or none"},
		{"cert without key", OTLP{TLS: OTLPTLS{CertFile: "c"}}, "otlp.tls", "together"},
		{"insecure with tls", OTLP{Insecure: true, TLS: OTLPTLS{CAFile: "ca"}}, "otlp.tls", "disables TLS"},
		{"http URL with tls", OTLP{Endpoint: "http://c:4318/v1/metrics", Protocol: "http", TLS: OTLPTLS{CAFile: "ca"}}, "otlp.tls", "use https://"},
		{"bad header name", OTLP{Headers: map[string]Secret{"a b": "x"}}, "otlp.headers", "invalid header name"},
		{"header value line break", OTLP{Headers: map[string]Secret{"a": "topsecret\r\nx: y"}}, "otlp.headers", "line break"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var fe *OTLPFieldError
			if !errors.As(err, &fe) {
				t.Fatalf("want *OTLPFieldError, got %T %v", err, err)
			}
			if fe.Field != tt.field || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %q (field %s), want field %s and %q", err, fe.Field, tt.field, tt.msg)
			}
			if strings.Contains(err.Error(), "topsecret") {
				t.Errorf("error leaks a header value: %q", err)
			}
		})
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	o := OTLP{Headers: map[string]Secret{"authorization": "Bearer topsecret"}}
	out, err := yaml.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{string(out), fmt.Sprintf("%v", o), fmt.Sprintf("%+v", o), fmt.Sprint(o.Headers["authorization"])} {
		if strings.Contains(s, "topsecret") {
			t.Errorf("secret printed: %s", s)
		}
	}
}
