package config

import "time"

// OTLP is the `otlp:` section: push the engine's measurements to an
// OpenTelemetry collector. Unset fields are filled from the standard
// OTEL_EXPORTER_OTLP_* environment variables.
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
