package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/relabel"
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

	// File is the path the configuration was read from.
	File string `yaml:"-"`

	spec      probe.Spec
	discovery []DiscoveryGroup
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
	MaxPPS           Field[int]           `yaml:"max_pps"`  // 0 = no ceiling
	SourceIPv4       Field[string]        `yaml:"source_ipv4"`
	SourceIPv6       Field[string]        `yaml:"source_ipv6"`
	Interface        Field[string]        `yaml:"interface"`
	DNSRefresh       Field[time.Duration] `yaml:"dns_refresh"`
	MaxCIDRAddresses Field[int]           `yaml:"max_cidr_addresses"`
	// HostsFile is an /etc/hosts-style file the resolver reads first (discovery.go).
	HostsFile Field[string] `yaml:"hosts_file"`
}

// Settings are the per-group probe settings; `defaults:` holds the same
// fields and gives groups the values they do not set.
type Settings struct {
	Interval       Field[time.Duration] `yaml:"interval"`
	Timeout        Field[time.Duration] `yaml:"timeout"`
	PayloadSize    Field[int]           `yaml:"payload_size"`
	TTL            Field[int]           `yaml:"ttl"`
	TOS            Field[int]           `yaml:"tos"`
	DownAfter      Field[int]           `yaml:"down_after"`
	UpAfter        Field[int]           `yaml:"up_after"`
	OutageHistory  Field[int]           `yaml:"outage_history"`
	IPProtocol     Field[string]        `yaml:"ip_protocol"`
	AllowBroadcast Field[bool]          `yaml:"allow_broadcast"`
	Histogram      Histogram            `yaml:"histogram"`
	Labels         Labels               `yaml:"labels"`
}

// Histogram selects the RTT histograms of a group.
type Histogram struct {
	Mode        Field[string]    `yaml:"mode"` // native|classic|both|none
	Buckets     Field[[]float64] `yaml:"buckets"`
	Aggregation Field[string]    `yaml:"aggregation"` // target|group
}

// Group is one entry of `groups:`.
type Group struct {
	Name     Field[string] `yaml:"name"`
	Settings `yaml:",inline"`
	Targets  Targets `yaml:"targets"`
	// Discovery adds targets from files and HTTP endpoints (discovery.go).
	Discovery `yaml:",inline"`
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
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		ps.add(syntaxPos(err), "", "invalid YAML: %s", syntaxMsg(err))
		return nil, ps.err()
	}
	if len(root.Content) == 0 {
		ps.add(Pos{}, "", "the file is empty; start from config.example.yml")
		return nil, ps.err()
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		ps.add(nodePos(doc), "", "want a mapping with source, engine, defaults, groups and otlp, got %s", describeNode(doc))
		return nil, ps.err()
	}

	cfg := &Config{File: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			ps.add(syntaxPos(err), "", "invalid YAML: %s", syntaxMsg(err))
			return nil, ps.err()
		}
		for _, e := range te.Errors {
			addDecodeError(ps, doc, e)
		}
		return nil, ps.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		ps.add(nodePos(&extra), "", "more than one YAML document (---); put everything in one")
		return nil, ps.err()
	}

	c := checker{ps: ps, cfg: cfg, lim: lim, groupPos: groupPositions(doc)}
	c.check()
	if err := cfg.OTLP.Validate(); err != nil {
		var fe *OTLPFieldError
		if errors.As(err, &fe) {
			ps.add(findPath(doc, fe.Field), fe.Field, "%s", fe.Msg)
		} else {
			ps.add(findPath(doc, "otlp"), "otlp", "%s", err.Error())
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

var (
	lineRE     = regexp.MustCompile(`(?:^|yaml: )line (\d+)(?:: column (\d+))?: (.*)$`)
	unknownRE  = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
	unmarshaRE = regexp.MustCompile("^cannot unmarshal !!(\\w+) (?:`(.*)` )?into (\\S+)$")
)

// parserProblems are the messages of yaml.v3's parser (as opposed to its
// scanner). yaml.v3 reports their line 0-based (scanner lines are 1-based),
// so syntaxPos adds one.
var parserProblems = []string{
	"did not find expected ',' or ']'", "did not find expected ',' or '}'",
	"did not find expected '-' indicator", "did not find expected <document start>",
	"did not find expected <stream-start>", "did not find expected key",
	"did not find expected node content", "found duplicate %TAG directive",
	"found duplicate %YAML directive", "found incompatible YAML document", "found undefined tag handle",
}

// syntaxMsg is the YAML syntax error without its "yaml: line N:" prefix.
func syntaxMsg(err error) string {
	if m := lineRE.FindStringSubmatch(err.Error()); m != nil {
		return m[3]
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

func syntaxPos(err error) Pos {
	m := lineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return Pos{}
	}
	l, _ := strconv.Atoi(m[1])
	if slices.Contains(parserProblems, m[3]) {
		l++
	}
	return Pos{Line: l}
}

// addDecodeError turns one yaml.TypeError line into a Problem with a path.
func addDecodeError(ps *problems, doc *yaml.Node, e string) {
	m := lineRE.FindStringSubmatch(e)
	if m == nil {
		ps.add(Pos{}, "", "%s", e)
		return
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	msg := m[3]
	pos := Pos{Line: line, Column: col}
	if u := unknownRE.FindStringSubmatch(msg); u != nil {
		path, p := findKey(doc, line, u[1])
		if p.Line > 0 {
			pos = p
		}
		ps.add(pos, path, "unknown field; allowed here: %s", strings.Join(allowedKeys(u[2]), ", "))
		return
	}
	path, p := findNode(doc, line, col)
	if p.Line > 0 {
		pos = p
	}
	if u := unmarshaRE.FindStringSubmatch(msg); u != nil {
		if u[2] == "" {
			msg = fmt.Sprintf("want %s, got %s", describeType(u[3]), kindName(u[1]))
		} else {
			msg = fmt.Sprintf("want %s, got %s %q", describeType(u[3]), kindName(u[1]), u[2])
		}
	}
	ps.add(pos, path, "%s", msg)
}

func kindName(tag string) string {
	switch tag {
	case "str":
		return "the string"
	case "int", "float":
		return "the number"
	case "bool":
		return "the boolean"
	case "seq":
		return "a list"
	case "map":
		return "a mapping"
	}
	return "!!" + tag
}

// configTypes are the struct types of the schema, for unknown-field help.
var configTypes = []reflect.Type{
	reflect.TypeFor[Config](), reflect.TypeFor[Source](), reflect.TypeFor[Engine](),
	reflect.TypeFor[Settings](), reflect.TypeFor[Histogram](), reflect.TypeFor[Group](),
	reflect.TypeFor[OTLP](), reflect.TypeFor[OTLPTLS](), reflect.TypeFor[FileSDConfig](), reflect.TypeFor[ProbeEndpoint](),
	reflect.TypeFor[HTTPSDConfig](), reflect.TypeFor[relabel.Config](),
}

func describeType(name string) string {
	switch {
	case strings.HasPrefix(name, "[]"):
		return "a list"
	case strings.HasPrefix(name, "map["):
		return "a mapping"
	case name == "time.Duration":
		return "a duration like 1s"
	case name == "string":
		return "a string"
	case name == "bool":
		return "true or false"
	case strings.HasPrefix(name, "int") || strings.HasPrefix(name, "uint"):
		return "a whole number"
	}
	for _, t := range configTypes {
		if t.String() == name {
			return "a mapping"
		}
	}
	return name
}

func allowedKeys(typeName string) []string {
	for _, t := range configTypes {
		if t.String() == typeName {
			return yamlKeys(t)
		}
	}
	return nil
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case name == "-" || !f.IsExported():
		case opts == "inline":
			keys = append(keys, yamlKeys(f.Type)...)
		case name == "":
			keys = append(keys, strings.ToLower(f.Name))
		default:
			keys = append(keys, name)
		}
	}
	slices.Sort(keys)
	return keys
}

// walk calls fn for every node of the tree below n with its field path;
// key is true for mapping keys (whose path names the key). fn returns true
// to stop.
func walk(n *yaml.Node, path string, fn func(n *yaml.Node, path string, key bool) bool) bool {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if walk(c, path, fn) {
				return true
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if fn(k, p, true) || fn(v, p, false) || walk(v, p, fn) {
				return true
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if fn(c, p, false) || walk(c, p, fn) {
				return true
			}
		}
	}
	return false
}

// findKey returns the path and position of the mapping key name on line.
func findKey(doc *yaml.Node, line int, name string) (string, Pos) {
	var path string
	var pos Pos
	walk(doc, "", func(n *yaml.Node, p string, key bool) bool {
		if key && n.Line == line && n.Value == name {
			path, pos = p, nodePos(n)
			return true
		}
		return false
	})
	return path, pos
}

// findNode returns the path of the value node at line and column (the
// first value on line when column is 0).
func findNode(doc *yaml.Node, line, col int) (string, Pos) {
	var path string
	var pos Pos
	walk(doc, "", func(n *yaml.Node, p string, key bool) bool {
		if !key && n.Line == line && (col == 0 || n.Column == col) {
			path, pos = p, nodePos(n)
			return true
		}
		return false
	})
	return path, pos
}

// findPath returns the position of the key at path (like otlp.endpoint),
// or of its closest existing parent.
func findPath(doc *yaml.Node, path string) Pos {
	for path != "" {
		var pos Pos
		walk(doc, "", func(n *yaml.Node, p string, key bool) bool {
			if key && p == path {
				pos = nodePos(n)
				return true
			}
			return false
		})
		if pos.Line > 0 {
			return pos
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return Pos{}
}

// groupPositions returns the position of each item of `groups:`.
func groupPositions(doc *yaml.Node) []Pos {
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "groups" && doc.Content[i+1].Kind == yaml.SequenceNode {
			var ps []Pos
			for _, g := range doc.Content[i+1].Content {
				ps = append(ps, nodePos(g))
			}
			return ps
		}
	}
	return nil
}
