package otlp

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// Resource attribute keys beyond the service.* ones.
const (
	AttrSource       = attribute.Key("icmp.source") // the config source name (the Prometheus `source` label)
	AttrLatitude     = attribute.Key("geo.location.lat")
	AttrLongitude    = attribute.Key("geo.location.lon")
	AttrServiceName  = attribute.Key("service.name")
	AttrServiceVer   = attribute.Key("service.version")
	AttrServiceInst  = attribute.Key("service.instance.id")
	DefaultService   = "icmp_exporter"
	envServiceName   = "OTEL_SERVICE_NAME"
	envResourceAttrs = "OTEL_RESOURCE_ATTRIBUTES"
)

// Resource describes the exporter process to the collector: the OTel
// resource every pushed metric carries.
type Resource struct {
	// ServiceName defaults to "icmp_exporter"; OTEL_SERVICE_NAME wins over it.
	ServiceName string
	// ServiceVersion is the exporter's version (e.g. version.Version).
	ServiceVersion string
	// InstanceID is service.instance.id. Empty means hostname/source/random:
	// unique per process, so that replicas never collide after ingestion.
	InstanceID string
	// Source is the config source: its name becomes icmp.source, its
	// location geo.location.lat / geo.location.lon.
	Source probe.Source
	// Hostname is used in the default InstanceID; empty means os.Hostname.
	Hostname string
	// Attributes are extra resource attributes.
	Attributes map[string]string
}

// build makes the OTel resource. Precedence, lowest first: defaults, the
// Resource fields, OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME.
func (r Resource) build(getenv func(string) string, rnd io.Reader) (*resource.Resource, error) {
	attrs := map[attribute.Key]attribute.Value{}
	set := func(k attribute.Key, v attribute.Value) { attrs[k] = v }

	set(AttrServiceName, attribute.StringValue(DefaultService))
	if r.ServiceName != "" {
		set(AttrServiceName, attribute.StringValue(r.ServiceName))
	}
	if r.ServiceVersion != "" {
		set(AttrServiceVer, attribute.StringValue(r.ServiceVersion))
	}
	if r.Source.Name != "" {
		set(AttrSource, attribute.StringValue(r.Source.Name))
	}
	if r.Source.HasLocation {
		set(AttrLatitude, attribute.Float64Value(r.Source.Latitude))
		set(AttrLongitude, attribute.Float64Value(r.Source.Longitude))
	}
	for k, v := range r.Attributes {
		set(attribute.Key(k), attribute.StringValue(v))
	}
	envAttrs, err := parseResourceAttrs(getenv(envResourceAttrs))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", envResourceAttrs, err)
	}
	for _, kv := range envAttrs {
		set(kv.Key, kv.Value)
	}
	if v := strings.TrimSpace(getenv(envServiceName)); v != "" {
		set(AttrServiceName, attribute.StringValue(v))
	}
	if _, ok := attrs[AttrServiceInst]; !ok {
		id := r.InstanceID
		if id == "" {
			id, err = r.defaultInstanceID(rnd)
			if err != nil {
				return nil, err
			}
		}
		set(AttrServiceInst, attribute.StringValue(id))
	}
	kvs := make([]attribute.KeyValue, 0, len(attrs)+3)
	for k, v := range attrs {
		kvs = append(kvs, attribute.KeyValue{Key: k, Value: v})
	}
	kvs = append(kvs,
		attribute.String("telemetry.sdk.name", "opentelemetry"),
		attribute.String("telemetry.sdk.language", "go"),
	)
	return resource.NewSchemaless(kvs...), nil
}

// defaultInstanceID is hostname/source/8 random hex digits (the source is
// left out when it equals the hostname).
func (r Resource) defaultInstanceID(rnd io.Reader) (string, error) {
	host := r.Hostname
	if host == "" {
		h, err := os.Hostname()
		if err != nil {
			h = "unknown"
		}
		host = h
	}
	var b [4]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return "", fmt.Errorf("read random instance id: %w", err)
	}
	parts := []string{host}
	if r.Source.Name != "" && r.Source.Name != host {
		parts = append(parts, r.Source.Name)
	}
	return strings.Join(append(parts, hex.EncodeToString(b[:])), "/"), nil
}

// parseResourceAttrs decodes OTEL_RESOURCE_ATTRIBUTES: "k1=v1,k2=v2" with
// percent-encoded values. A malformed entry is an error, as in the SDK.
func parseResourceAttrs(s string) ([]attribute.KeyValue, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var kvs []attribute.KeyValue
	for _, p := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("entry %q: want key=value", p)
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", p, err)
		}
		kvs = append(kvs, attribute.String(k, dv))
	}
	return kvs, nil
}

// randReader is the source of instance id randomness.
func randReader() io.Reader { return rand.Reader }
