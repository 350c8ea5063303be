package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// Built-in defaults, used where neither a group nor `defaults:` sets a value.
const (
	DefaultInterval         = time.Second
	DefaultMaxTimeout       = time.Second // default timeout is min(interval, DefaultMaxTimeout)
	DefaultPayloadSize      = probe.MinPayload
	DefaultDownAfter        = 3
	DefaultUpAfter          = 1
	DefaultOutageHistory    = 10
	DefaultDNSRefresh       = time.Minute
	DefaultMaxCIDRAddresses = 65536
	// DefaultMaxTargets bounds the targets of a file (all groups, blocks
	// expanded) unless engine.max_targets raises it: ten times the design
	// scale of one process, and about a second of loading.
	DefaultMaxTargets = 1_000_000
	// DefaultMaxPPS is the global probe rate ceiling unless engine.max_pps
	// sets another: twice the design scale (100 000 targets at 1 s), so a
	// typo such as a /16 at 10ms cannot send millions of probes per second.
	DefaultMaxPPS = 200_000
)

// Config is the decoded configuration file. Fields keep their position in
// the file for error messages; use Spec for the expanded, defaulted values.
type Config struct {
	Source   Source   `yaml:"source"`
	Engine   Engine   `yaml:"engine"`
	Defaults Settings `yaml:"defaults"`
	Groups   []Group  `yaml:"groups"`
	OTLP     OTLP     `yaml:"otlp"`
	// ProbeEndpoint is the blackbox-style /probe endpoint (discovery.go).
	ProbeEndpoint ProbeEndpoint `yaml:"probe_endpoint"`
	// Vantage turns vantage health on (vantage.go); nil when absent.
	Vantage *Vantage `yaml:"vantage"`

	// File is the path the configuration was read from.
	File string `yaml:"-"`

	spec             probe.Spec
	discovery        []DiscoveryGroup
	historyRetention map[string]time.Duration
}

// Source is the `source:` section: where this exporter probes from.
type Source struct {
	Name      Field[string]  `yaml:"name"`      // default: the host name
	Latitude  Field[float64] `yaml:"latitude"`  // -90..90, together with longitude
	Longitude Field[float64] `yaml:"longitude"` // -180..180, together with latitude
}

// Engine is the `engine:` section. Changing it needs a restart.
type Engine struct {
	Datapath         Field[string]        `yaml:"datapath"` // auto|icmp|afpacket|pfring
	MaxPPS           Field[int]           `yaml:"max_pps"`  // default DefaultMaxPPS; 0 = no ceiling
	SourceIPv4       Field[string]        `yaml:"source_ipv4"`
	SourceIPv6       Field[string]        `yaml:"source_ipv6"`
	Interface        Field[string]        `yaml:"interface"`
	DNSRefresh       Field[time.Duration] `yaml:"dns_refresh"`
	MaxCIDRAddresses Field[int]           `yaml:"max_cidr_addresses"`
	MaxTargets       Field[int]           `yaml:"max_targets"`
	// HostsFile is an /etc/hosts-style file the resolver reads first (discovery.go).
	HostsFile Field[string] `yaml:"hosts_file"`
	// PathPPS is the path snapshot and path MTU probe budget (probe.PathPPSFor).
	PathPPS Field[int] `yaml:"path_pps"`
}

// Settings are the per-group probe settings; `defaults:` holds the same
// fields and gives groups the values they do not set.
type Settings struct {
	Interval      Field[time.Duration] `yaml:"interval"`
	Timeout       Field[time.Duration] `yaml:"timeout"`
	PayloadSize   Field[int]           `yaml:"payload_size"`
	TTL           Field[int]           `yaml:"ttl"`
	TOS           Field[int]           `yaml:"tos"`
	DownAfter     Field[int]           `yaml:"down_after"`
	UpAfter       Field[int]           `yaml:"up_after"`
	OutageHistory Field[int]           `yaml:"outage_history"`
	// HistoryRetention is how long the status pages keep the per-minute
	// history of each target (0: none); it is not part of the probe.Spec.
	HistoryRetention Field[time.Duration] `yaml:"history_retention"`
	IPProtocol       Field[string]        `yaml:"ip_protocol"`
	AllowBroadcast   Field[bool]          `yaml:"allow_broadcast"` // removed: only false is accepted (allowBroadcast)
	Histogram        Histogram            `yaml:"histogram"`
	Export           Export               `yaml:"export"`
	Labels           Labels               `yaml:"labels"`
	// Path configures path snapshots and path MTU (path.go).
	Path Path `yaml:"path"`
}

// Histogram selects the RTT histograms of a group.
type Histogram struct {
	Mode        Field[string]    `yaml:"mode"` // native|classic|both|none
	Buckets     Field[[]float64] `yaml:"buckets"`
	Aggregation Field[string]    `yaml:"aggregation"` // target|group
}

// Export selects the series a group's targets export (probe.Export).
type Export struct {
	// PerTarget names the kinds of per-target series (probe.ExportNames);
	// unset exports all of them.
	PerTarget Field[[]string] `yaml:"per_target"`
}

// Group is one entry of `groups:`.
type Group struct {
	Name     Field[string] `yaml:"name"`
	Settings `yaml:",inline"`
	Targets  Targets `yaml:"targets"`
	// Discovery adds targets from files and HTTP endpoints (discovery.go).
	Discovery `yaml:",inline"`
	// Vantage overrides the top-level vantage rule for this group (vantage.go).
	Vantage *Vantage `yaml:"vantage"`
}

// Load reads and checks the configuration file at path. A file with
// problems returns an *Error listing them all.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return Parse(data, path)
}

// Parse checks configuration data; file names it in error messages.
func Parse(data []byte, file string) (*Config, error) {
	return parse(data, file, defaultLimits)
}

// limits bound the work a file can cause.
type limits struct {
	maxTargets int // expanded targets over all groups
}

var defaultLimits = limits{maxTargets: 1 << 24}

func parse(data []byte, file string, lim limits) (*Config, error) {
	ps := &problems{file: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); errors.Is(err, io.EOF) || err == nil && len(root.Content) == 0 {
		ps.add(Pos{}, "", "the file is empty; start from config.example.yml")
		return nil, ps.err()
	} else if err != nil {
		line, problem := syntaxError(err)
		ps.add(Pos{Line: line}, "", "invalid YAML: %s", problem)
		return nil, ps.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		ps.add(nodePos(&extra), "", "more than one YAML document (---); put everything in one")
		return nil, ps.err()
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		ps.add(nodePos(doc), "", "want a mapping with source, engine, defaults, groups and otlp, got %s", describeValue(doc))
		return nil, ps.err()
	}

	cfg := &Config{File: file}
	d := newDecoder(ps, doc)
	d.mapping(doc, reflect.ValueOf(cfg).Elem(), "")
	if err := ps.err(); err != nil {
		return nil, err
	}

	c := checker{ps: ps, cfg: cfg, lim: lim, groupPos: groupPositions(d, len(cfg.Groups))}
	c.check()
	if err := cfg.OTLP.Validate(); err != nil {
		var fe *OTLPFieldError
		if errors.As(err, &fe) {
			ps.add(d.pos(fe.Field), fe.Field, "%s", fe.Msg)
		} else {
			ps.add(d.pos("otlp"), "otlp", "%s", err.Error())
		}
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	if err := cfg.spec.Validate(); err != nil {
		// A bug: config checks are stricter than probe's.
		return nil, fmt.Errorf("%s: config accepted but the engine refuses it: %w", file, err)
	}
	return cfg, nil
}

// HistoryRetention returns the history_retention of every group by group
// name, defaults filled in (history.DefaultRetention). The map must not be
// modified.
func (c *Config) HistoryRetention() map[string]time.Duration {
	return c.historyRetention
}

// Spec returns the probe.Spec the configuration describes: every CIDR
// block expanded, every default filled in. The Spec shares memory with the
// Config and with other calls of Spec; it must not be modified (copy
// Targets before filtering).
//
// Load already checked the Spec with probe.Spec.Validate; the error is for
// a Config that did not come from Load or Parse.
func (c *Config) Spec() (probe.Spec, error) {
	if c.spec.Targets == nil {
		return probe.Spec{}, fmt.Errorf("build spec from %q: config was not loaded with config.Load", c.File)
	}
	return c.spec, nil
}

// groupPositions returns the position of each item of `groups:`.
func groupPositions(d *decoder, n int) []Pos {
	ps := make([]Pos, n)
	for i := range ps {
		ps[i] = d.keys[fmt.Sprintf("groups[%d]", i)]
	}
	return ps
}
