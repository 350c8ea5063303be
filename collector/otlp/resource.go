package otlp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
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
	envSDKDisabled   = "OTEL_SDK_DISABLED"
)

// ErrSDKDisabled is returned by New when OTEL_SDK_DISABLED is "true": the
// OpenTelemetry SDK is switched off for the process, so nothing is pushed.
var ErrSDKDisabled = errors.New("OTLP push off: OTEL_SDK_DISABLED=true")

// sdkDisabled reports whether OTEL_SDK_DISABLED asks for the SDK to be off
// (only "true", case-insensitive, as the specification says).
func sdkDisabled(getenv func(string) string) bool {
	return strings.EqualFold(strings.TrimSpace(getenv(envSDKDisabled)), "true")
}

// Resource describes the exporter process to the collector: the OTel
// resource every pushed metric carries.
type Resource struct {
	// ServiceName defaults to "icmp_exporter"; OTEL_SERVICE_NAME wins over it.
	ServiceName string
	// ServiceVersion is the exporter's version (e.g. version.Version).
	ServiceVersion string
	// InstanceID is service.instance.id. Empty means a random UUID (the
	// SDK's service detector): unique per process, so that replicas never
	// collide after ingestion.
	InstanceID string
	// Source is the config source: its name becomes icmp.source, its
	// location geo.location.lat / geo.location.lon.
	Source probe.Source
	// Attributes are extra resource attributes.
	Attributes map[string]string
}

// build makes the OTel resource with the SDK's detectors. Later ones win:
// the service detector (service.instance.id, a random version 4 UUID),
// telemetry.sdk.*, the Resource fields, then OTEL_RESOURCE_ATTRIBUTES and
// OTEL_SERVICE_NAME (the SDK's environment detector; the service name wins
// over a service.name in the attributes).
func (r Resource) build(ctx context.Context) (*resource.Resource, error) {
	kvs := []attribute.KeyValue{AttrServiceName.String(cmp.Or(r.ServiceName, DefaultService))}
	if r.ServiceVersion != "" {
		kvs = append(kvs, AttrServiceVer.String(r.ServiceVersion))
	}
	if r.InstanceID != "" {
		kvs = append(kvs, AttrServiceInst.String(r.InstanceID))
	}
	if r.Source.Name != "" {
		kvs = append(kvs, AttrSource.String(r.Source.Name))
	}
	if r.Source.HasLocation {
		kvs = append(kvs, AttrLatitude.Float64(r.Source.Latitude), AttrLongitude.Float64(r.Source.Longitude))
	}
	for k, v := range r.Attributes {
		kvs = append(kvs, attribute.String(k, v))
	}
	res, err := resource.New(ctx,
		resource.WithService(),
		resource.WithTelemetrySDK(),
		resource.WithAttributes(kvs...),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("detect resource (check %s: k1=v1,k2=v2 with percent-encoded values): %w", envResourceAttrs, err)
	}
	return res, nil
}
