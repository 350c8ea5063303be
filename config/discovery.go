package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// Defaults of the discovery settings (Prometheus' own).
const (
	DefaultFileSDRefresh = 5 * time.Minute
	DefaultHTTPSDRefresh = time.Minute
)

// AddressLabel is the label that holds a discovered target's address or
// host name (Prometheus' __address__); a ":port" suffix is ignored.
const AddressLabel = model.AddressLabel

// Discovery is the service discovery part of a group: targets from files
// and HTTP endpoints in Prometheus' formats, relabelled with Prometheus'
// relabel_configs. It is inlined in Group.
type Discovery struct {
	FileSD  []FileSDConfig  `yaml:"file_sd_configs"`
	HTTPSD  []HTTPSDConfig  `yaml:"http_sd_configs"`
	Relabel []RelabelConfig `yaml:"relabel_configs"`
	// IPVersion picks the addresses of host names: 4, 6, both (two
	// series, told apart by the ip_version label), prefer4 or prefer6.
	IPVersion Field[string] `yaml:"ip_version"`
	// Resolve is first (default: one address per host name and family)
	// or all (every address, each its own series).
	Resolve Field[string] `yaml:"resolve"`
}

// IPVersionLabel tells the two series of a host name apart in a group with
// ip_version: both ("4" or "6"); every target of such a group has it.
const IPVersionLabel = "ip_version"

// IP versions of ip_version, and the IP protocol each one sets.
var ipVersions = map[string]string{"4": probe.IPv4, "6": probe.IPv6, "prefer4": probe.IPAny, "prefer6": probe.IPPrefer6, ipBoth: ""}

const ipBoth = "both"

// family returns the TargetSpecs that t (from a group with ip_version v)
// stands for: with both, a host name twice (IPv4 and IPv6, each with the
// ip_version label) and an address with the label of its family; else t.
func family(t probe.TargetSpec, v string) []probe.TargetSpec {
	if v != ipBoth {
		return []probe.TargetSpec{t}
	}
	with := func(t probe.TargetSpec, prot, ver string) probe.TargetSpec {
		t.IPProtocol = prot
		t.Labels = mergeLabels(t.Labels, []probe.Label{{Name: IPVersionLabel, Value: ver}})
		return t
	}
	switch {
	case t.Host != "":
		return []probe.TargetSpec{with(t, probe.IPv4, "4"), with(t, probe.IPv6, "6")}
	case t.Addr.Is4():
		return []probe.TargetSpec{with(t, "", "4")}
	default:
		return []probe.TargetSpec{with(t, "", "6")}
	}
}

func (d *Discovery) empty() bool { return len(d.FileSD) == 0 && len(d.HTTPSD) == 0 }

// FileSDConfig is one entry of file_sd_configs: Prometheus' file-based
// discovery. Files holds glob patterns of JSON (.json) or YAML (.yml,
// .yaml) target-group files, relative to the configuration file's directory.
type FileSDConfig struct {
	Files           []string       `yaml:"files"`
	RefreshInterval model.Duration `yaml:"refresh_interval"`
	Pos             Pos            `yaml:"-"`
}

// UnmarshalYAML implements yaml.Unmarshaler (strict keys, defaults).
func (f *FileSDConfig) UnmarshalYAML(n *yaml.Node) error {
	type plain FileSDConfig
	p := plain{RefreshInterval: model.Duration(DefaultFileSDRefresh)}
	if err := decodeStrict(n, &p, reflect.TypeFor[FileSDConfig]()); err != nil {
		return err
	}
	*f = FileSDConfig(p)
	f.Pos = nodePos(n)
	return nil
}

// HTTPSDConfig is one entry of http_sd_configs: Prometheus' HTTP-based
// discovery, with Prometheus' HTTP client options (TLS, basic auth, bearer
// token file, proxy, ...).
type HTTPSDConfig struct {
	HTTPClientConfig commoncfg.HTTPClientConfig `yaml:",inline"`
	URL              string                     `yaml:"url"`
	RefreshInterval  model.Duration             `yaml:"refresh_interval"`
	Pos              Pos                        `yaml:"-"`
}

// UnmarshalYAML implements yaml.Unmarshaler (strict keys, defaults).
func (h *HTTPSDConfig) UnmarshalYAML(n *yaml.Node) error {
	type plain HTTPSDConfig
	p := plain{HTTPClientConfig: commoncfg.DefaultHTTPClientConfig, RefreshInterval: model.Duration(DefaultHTTPSDRefresh)}
	if err := decodeStrict(n, &p, reflect.TypeFor[HTTPSDConfig]()); err != nil {
		return err
	}
	*h = HTTPSDConfig(p)
	h.Pos = nodePos(n)
	return nil
}

// RelabelConfig is one entry of relabel_configs, in Prometheus' format and
// with Prometheus' semantics (github.com/prometheus/prometheus/model/relabel).
type RelabelConfig struct {
	relabel.Config
	Pos Pos
}

// UnmarshalYAML implements yaml.Unmarshaler (strict keys, Prometheus' defaults).
func (r *RelabelConfig) UnmarshalYAML(n *yaml.Node) error {
	r.Pos = nodePos(n)
	return decodeStrict(n, &r.Config, reflect.TypeFor[relabel.Config]())
}

// decodeStrict decodes the mapping n into v, refusing keys that schema
// (v's type or the type v's is derived from) does not have: yaml.v3 does
// not pass KnownFields on to Node.Decode.
func decodeStrict(n *yaml.Node, v any, schema reflect.Type) error {
	var ve valueError
	if n.Kind != yaml.MappingNode {
		ve.add(nodePos(n), "", "want a mapping, got %s", describeValue(n))
		return ve.orNil()
	}
	allowed := yamlKeys(schema)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains(allowed, k.Value) {
			ve.add(nodePos(k), "."+k.Value, "unknown field; allowed here: %s", strings.Join(allowed, ", "))
		}
	}
	if len(ve.problems) > 0 {
		return ve.orNil()
	}
	if err := n.Decode(v); err != nil {
		ve.add(nodePos(n), "", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		return ve.orNil()
	}
	return nil
}

// yamlKeys are the keys a mapping decoded into struct type t may have.
func yamlKeys(t reflect.Type) []string { return sortedKeys(structFields(t)) }

// Defaults and limits of the /probe endpoint.
const (
	DefaultProbeMaxTargets  = 1000
	DefaultProbeExpireAfter = 10 * time.Minute
	MaxProbeMaxTargets      = 1_000_000
)

// ProbeEndpoint is the `probe_endpoint:` section: the blackbox-compatible
// /probe?target=X&module=GROUP endpoint, which enrols X into continuous
// probing in group GROUP. Off unless Enabled.
type ProbeEndpoint struct {
	Enabled Field[bool] `yaml:"enabled"`
	// MaxTargets bounds the targets enrolled through /probe at once.
	MaxTargets Field[int] `yaml:"max_targets"`
	// ExpireAfter drops an enrolled target not scraped for this long.
	ExpireAfter Field[time.Duration] `yaml:"expire_after"`
}

// ProbeSettings are the checked settings of the /probe endpoint.
type ProbeSettings struct {
	Enabled     bool
	MaxTargets  int
	ExpireAfter time.Duration
}

// Probe returns the settings of the /probe endpoint, defaults filled in.
func (c *Config) Probe() ProbeSettings {
	p := &c.ProbeEndpoint
	return ProbeSettings{
		Enabled:     orDefault(p.Enabled, false),
		MaxTargets:  orDefault(p.MaxTargets, DefaultProbeMaxTargets),
		ExpireAfter: orDefault(p.ExpireAfter, DefaultProbeExpireAfter),
	}
}

// HostsFile returns engine.hosts_file: an /etc/hosts-style file that
// answers host-name lookups before DNS ("" for none).
func (c *Config) HostsFile() string { return c.Engine.HostsFile.Value }

func (c *checker) probeEndpoint() {
	if f := c.cfg.Engine.HostsFile; f.Set && f.Value != "" {
		if !filepath.IsAbs(f.Value) {
			c.cfg.Engine.HostsFile.Value = filepath.Join(filepath.Dir(c.ps.file), f.Value)
		}
		if _, err := os.Stat(c.cfg.Engine.HostsFile.Value); err != nil {
			c.ps.add(f.Pos, "engine.hosts_file", "%s; want the path of a file in /etc/hosts format, or remove the key", err)
		}
	}
	p := &c.cfg.ProbeEndpoint
	c.intRange(p.MaxTargets, "probe_endpoint.max_targets", 1, MaxProbeMaxTargets, "targets enrolled through /probe at once")
	if f := p.ExpireAfter; f.Set && (f.Value < time.Second || f.Value > MaxDNSRefresh) {
		c.ps.add(f.Pos, "probe_endpoint.expire_after", "%q is out of range; want a duration between 1s and %s like 10m (longer than the scrape interval)", f.Value, MaxDNSRefresh)
	}
}

// fileSDPattern is the file name pattern Prometheus' file discovery accepts.
var fileSDPattern = regexp.MustCompile(`^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`)

// discovery checks the discovery settings of group g, applies ip_version
// to the group's static targets (c.cfg.spec.Targets[start:]) and records the
// group for DiscoveryGroups.
func (c *checker) discovery(g *Group, path string, start int) {
	dir := filepath.Dir(c.ps.file)
	d := &g.Discovery
	ipv := ""
	if f := d.IPVersion; f.Set {
		prot, ok := ipVersions[f.Value]
		switch {
		case !ok:
			c.ps.add(f.Pos, path+".ip_version", "%q is not allowed; want 4, 6, both, prefer4 or prefer6", f.Value)
		case g.IPProtocol.Set:
			c.ps.add(f.Pos, path+".ip_version", "set together with ip_protocol in the group; remove ip_protocol (ip_version replaces it)")
		default:
			ipv = f.Value
			// ip_version wins over an ip_protocol of the defaults.
			g.IPProtocol = Field[string]{Value: prot, Pos: f.Pos, Set: true}
		}
	}
	if f := d.Resolve; f.Set && f.Value != "first" && f.Value != "all" {
		c.ps.add(f.Pos, path+".resolve", "%q is not allowed; want first (one address per host name) or all (every address)", f.Value)
	}
	if ipv != "" && start <= len(c.cfg.spec.Targets) {
		var out []probe.TargetSpec
		for _, t := range c.cfg.spec.Targets[start:] {
			if t.Host != "" && ipv != ipBoth {
				t.IPProtocol = ipVersions[ipv]
			}
			out = append(out, family(t, ipv)...)
		}
		c.cfg.spec.Targets = append(c.cfg.spec.Targets[:start], out...)
	}
	for i := range d.FileSD {
		f := &d.FileSD[i]
		fp := fmt.Sprintf("%s.file_sd_configs[%d]", path, i)
		if len(f.Files) == 0 {
			c.ps.add(f.Pos, fp+".files", "no files; list glob patterns of target files like [targets/*.json]")
		}
		for j, pat := range f.Files {
			if !filepath.IsAbs(pat) {
				f.Files[j] = filepath.Join(dir, pat)
			}
			if _, err := filepath.Match(f.Files[j], ""); err != nil || !fileSDPattern.MatchString(pat) {
				c.ps.add(f.Pos, fmt.Sprintf("%s.files[%d]", fp, j),
					"%q is not a usable pattern; want a path or glob (* only in the last part) ending in .json, .yml or .yaml", pat)
			}
		}
		if f.RefreshInterval <= 0 {
			c.ps.add(f.Pos, fp+".refresh_interval", "must be above 0; use a duration like 5m")
		}
	}
	for i := range d.HTTPSD {
		h := &d.HTTPSD[i]
		hp := fmt.Sprintf("%s.http_sd_configs[%d]", path, i)
		u, err := url.Parse(h.URL)
		switch {
		case h.URL == "":
			c.ps.add(h.Pos, hp+".url", "missing; set the URL of a Prometheus HTTP SD endpoint like http://inventory:8080/targets")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			c.ps.add(h.Pos, hp+".url", "%q is not an http or https URL", h.URL)
		}
		if h.RefreshInterval <= 0 {
			c.ps.add(h.Pos, hp+".refresh_interval", "must be above 0; use a duration like 1m")
		}
		h.HTTPClientConfig.SetDirectory(dir)
		if err := h.HTTPClientConfig.Validate(); err != nil {
			c.ps.add(h.Pos, hp, "%s", err.Error())
		}
	}
	rcs := make([]*relabel.Config, len(d.Relabel))
	for i := range d.Relabel {
		r := &d.Relabel[i]
		if err := r.Validate(model.LegacyValidation); err != nil {
			c.ps.add(r.Pos, fmt.Sprintf("%s.relabel_configs[%d]", path, i), "%s", err.Error())
		}
		rcs[i] = &r.Config
	}
	if c.cfg.spec.Targets == nil {
		c.cfg.spec.Targets = []probe.TargetSpec{} // a loaded Spec, even if every group only discovers
	}
	tmpl, ok := c.template(g, path)
	c.cfg.discovery = append(c.cfg.discovery, DiscoveryGroup{
		Name: g.Name.Value, Path: path, FileSD: d.FileSD, HTTPSD: d.HTTPSD, Relabel: rcs,
		ResolveAll: d.Resolve.Value == "all", ipVersion: ipv,
		cfg: c.cfg, group: g, tmpl: tmpl, tmplOK: ok,
		allowBcast: orDefault(pick(g.AllowBroadcast, c.cfg.Defaults.AllowBroadcast), false),
	})
}

// DiscoveryGroup is one group of the configuration as discovery sees it:
// its sources, its relabelling and the rules that turn a discovered target
// into a probe.TargetSpec. It is safe for concurrent use.
type DiscoveryGroup struct {
	Name    string // the group's name
	Path    string // its field path, like groups[2]
	FileSD  []FileSDConfig
	HTTPSD  []HTTPSDConfig
	Relabel []*relabel.Config
	// ResolveAll says that every address of a host name is probed
	// (resolve: all): the caller resolves host-name targets of the group and
	// probes each address as its own target of the same name.
	ResolveAll bool

	ipVersion  string
	cfg        *Config
	group      *Group
	tmpl       probe.TargetSpec
	tmplOK     bool
	allowBcast bool
}

// DiscoveryGroups returns every group of the configuration, in file order,
// with its discovery settings (none for groups of static targets only).
func (c *Config) DiscoveryGroups() []DiscoveryGroup { return c.discovery }

// HasSources reports whether the group discovers targets.
func (g *DiscoveryGroup) HasSources() bool { return len(g.FileSD) > 0 || len(g.HTTPSD) > 0 }

// OverrideLabel returns the reserved label that sets the group setting key
// (a key of Settings, like interval) for one discovered target: __interval__.
func OverrideLabel(key string) string { return "__" + key + "__" }

// overrideKeys are the settings a discovered target can set for itself:
// every scalar setting of a group.
var overrideKeys = func() []string {
	var keys []string
	for _, k := range yamlKeys(reflect.TypeFor[Settings]()) {
		if k != "labels" && k != "histogram" {
			keys = append(keys, k)
		}
	}
	return keys
}()

// OverrideLabels returns the reserved labels a discovered target can carry
// to set its own probe settings (__interval__, __timeout__, ...).
func OverrideLabels() []string {
	out := make([]string, len(overrideKeys))
	for i, k := range overrideKeys {
		out[i] = OverrideLabel(k)
	}
	return out
}

// Targets turns one discovered target (its labels after relabelling) into
// the TargetSpecs of the group: one, or two for a host name in a group with
// ip_version: both. __address__ is the address or host name (a
// ":port" suffix is dropped); labels starting with __ are dropped except the
// override labels (OverrideLabels), which set the target's own settings and
// are checked by the same rules as the configuration file; the other labels
// become the target's labels, over the group's.
func (g *DiscoveryGroup) Targets(lbls labels.Labels) ([]probe.TargetSpec, error) {
	addr := StripPort(lbls.Get(AddressLabel))
	if addr == "" {
		return nil, fmt.Errorf("no %s label; the target has no address", AddressLabel)
	}
	ps := &problems{file: "target " + addr}
	c := &checker{ps: ps, cfg: g.cfg}
	tmpl, ok, allowBcast := g.tmpl, g.tmplOK, g.allowBcast
	var ov *yaml.Node
	var user []probe.Label
	lbls.Range(func(l labels.Label) {
		switch {
		case strings.HasPrefix(l.Name, "__"):
			k := strings.TrimSuffix(strings.TrimPrefix(l.Name, "__"), "__")
			if OverrideLabel(k) == l.Name && slices.Contains(overrideKeys, k) {
				if ov == nil {
					ov = &yaml.Node{Kind: yaml.MappingNode}
				}
				ov.Content = append(ov.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k},
					&yaml.Node{Kind: yaml.ScalarNode, Value: l.Value})
			}
		default:
			if why := labelNameProblem(l.Name); why != "" {
				ps.add(Pos{}, "labels."+l.Name, "%s", why)
			} else if !utf8.ValidString(l.Value) {
				ps.add(Pos{}, "labels."+l.Name, "value is not valid UTF-8")
			}
			user = append(user, probe.Label{Name: l.Name, Value: l.Value})
		}
	})
	if ov != nil {
		var s Settings
		newDecoder(ps, ov).value(ov, reflect.ValueOf(&s).Elem(), "")
		if err := ps.err(); err != nil {
			return nil, overrideNames(err)
		}
		c.settings(&s, "")
		syn := *g.group
		overlay(&syn.Settings, &s)
		tmpl, ok = c.template(&syn, "")
		allowBcast = orDefault(pick(syn.AllowBroadcast, g.cfg.Defaults.AllowBroadcast), false)
	}
	a, why := addressOrHost(addr, allowBcast)
	if why != "" {
		ps.add(Pos{}, "", "%s", why)
	}
	if err := ps.err(); err != nil {
		return nil, overrideNames(err)
	}
	if !ok {
		return nil, fmt.Errorf("target %s: the group's settings conflict", addr)
	}
	t := tmpl
	t.Name, t.Addr = addr, a
	if !a.IsValid() {
		t.Host = addr
	} else {
		t.IPProtocol = ""
	}
	if len(user) > 0 {
		t.Labels = mergeLabels(tmpl.Labels, user)
	}
	return family(t, g.ipVersion), nil
}

// overrideNames rewrites the field paths of problems with override values
// (".interval") to the label that set them (__interval__).
func overrideNames(err error) error {
	var ce *Error
	if !errors.As(err, &ce) {
		return err
	}
	for i := range ce.Problems {
		p := &ce.Problems[i]
		if k, ok := strings.CutPrefix(p.Path, "."); ok {
			p.Path = OverrideLabel(k)
		}
	}
	return err
}

// overlay copies the settings that o sets onto s.
func overlay(s, o *Settings) {
	sv, ov := reflect.ValueOf(s).Elem(), reflect.ValueOf(o).Elem()
	for i := range sv.NumField() {
		f := ov.Field(i)
		if set := f.FieldByName("Set"); set.IsValid() && set.Bool() {
			sv.Field(i).Set(f)
		}
	}
}

// mergeLabels returns base with add laid over it (add's values win),
// sorted by name. base is not modified.
func mergeLabels(base, add []probe.Label) []probe.Label {
	out := make([]probe.Label, 0, len(base)+len(add))
	out = append(out, add...)
	for _, b := range base {
		if !slices.ContainsFunc(add, func(l probe.Label) bool { return l.Name == b.Name }) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b probe.Label) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// StripPort returns a target address without a ":port" suffix: "host:80"
// and "[2001:db8::1]:80" lose the port, a bare IPv6 address stays as it is.
func StripPort(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		if i := strings.LastIndex(s, "]"); i > 0 {
			return s[1:i]
		}
		return s
	}
	if strings.Count(s, ":") == 1 {
		return s[:strings.IndexByte(s, ':')]
	}
	return s
}
