package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/internal/shard"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

// Applier receives every new Spec: the running probe.Engine.
type Applier interface {
	Apply(spec probe.Spec) error
}

// Options configure a Manager.
type Options struct {
	// Engine receives the combined Spec (static and discovered targets).
	Engine Applier
	// Shard keeps only this instance's share of the discovered targets,
	// decided after relabelling. The static targets come already filtered.
	Shard shard.Shard
	// Logger receives source errors (once per breakage) and invalid
	// targets (once per target and error); nil discards.
	Logger *slog.Logger
	// Now is the clock of the refresh timestamps; nil means time.Now.
	Now func() time.Time
	// Resolver looks up the host names of groups with resolve: all; nil
	// is net.DefaultResolver.
	Resolver probe.Resolver
}

// Manager runs the discovery sources of every group, turns their target
// groups into TargetSpecs (relabel_configs, override labels, the group's
// settings), combines them with the static targets and applies the result
// to the engine, whose diff keeps the state of unchanged targets. Its
// methods are safe for concurrent use.
type Manager struct {
	o Options

	applyMu sync.Mutex // serializes combine+Engine.Apply, so a newer Spec is never overtaken

	mu      sync.Mutex // guards the fields below
	static  probe.Spec
	staged  *config.Config
	groups  map[string]*config.DiscoveryGroup
	sources []*source
	closed  bool

	probe    config.ProbeSettings
	enrolled map[string]*enrolment // by group and target (the /probe endpoint)

	// Host names of groups with resolve: all (resolve.go).
	names      map[nameKey][]netip.Addr // every address, from the last good lookup
	wanted     map[nameKey]bool         // names the last combine needed
	resolveNow chan struct{}

	kick         chan struct{}
	stop         chan struct{}
	done         chan struct{} // run ended
	resolverDone chan struct{}

	descs metricDescs
}

// source is one running file_sd or http_sd entry of a group.
type source struct {
	group  string
	name   string // like file_sd_configs[0]
	cfg    any    // its configuration, without positions (to keep it across reloads)
	cancel context.CancelFunc
	done   chan struct{}

	// Guarded by Manager.mu.
	raw         []*targetgroup.Group
	targets     []probe.TargetSpec
	dropped     int
	invalid     int
	lastSuccess time.Time
	failures    int
	logged      map[string]string // invalid targets already logged: address → error
}

// New returns a Manager that applies to o.Engine. Call Build and Apply (as
// a reload does) to start it, and Close to stop its sources.
func New(o Options) *Manager {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Manager{
		o: o, groups: map[string]*config.DiscoveryGroup{}, enrolled: map[string]*enrolment{},
		names: map[nameKey][]netip.Addr{}, resolveNow: make(chan struct{}, 1),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		resolverDone: make(chan struct{}),
		descs:        newMetricDescs(),
	}
	go m.run()
	go m.resolver()
	return m
}

// Build wraps the function that turns a configuration into its static
// Spec: the configuration is kept for the next Apply, which starts, keeps
// or stops the discovery sources it lists.
func (m *Manager) Build(inner func(*config.Config) (probe.Spec, error)) func(*config.Config) (probe.Spec, error) {
	return func(cfg *config.Config) (probe.Spec, error) {
		spec, err := inner(cfg)
		if err != nil {
			return spec, err
		}
		m.mu.Lock()
		m.staged = cfg
		m.mu.Unlock()
		return spec, nil
	}
}

// Apply takes static as the new static part of the Spec (a configuration
// load), switches to the discovery settings of the configuration last
// passed through Build, and applies static plus every discovered target to
// the engine. Sources whose settings are unchanged keep running and keep
// their targets; new file sources are read before Apply returns.
func (m *Manager) Apply(static probe.Spec) error {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	m.mu.Lock()
	if m.staged != nil {
		m.reconfigure(m.staged)
		m.staged = nil
	}
	m.static = static
	spec := m.combine()
	m.mu.Unlock()
	return m.o.Engine.Apply(spec)
}

// Load is Build and Apply in one: it switches to cfg's discovery settings
// and applies static plus the discovered targets (at start).
func (m *Manager) Load(cfg *config.Config, static probe.Spec) error {
	m.mu.Lock()
	m.staged = cfg
	m.mu.Unlock()
	return m.Apply(static)
}

// Close stops every source. The engine keeps its last Spec.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	srcs := m.sources
	m.sources = nil
	m.mu.Unlock()
	close(m.stop)
	<-m.done
	<-m.resolverDone
	for _, s := range srcs {
		s.cancel()
		<-s.done
	}
}

// run applies the combined Spec after sources changed, coalescing changes
// that arrive while an apply is running.
func (m *Manager) run() {
	defer close(m.done)
	expiry := time.NewTicker(time.Second)
	defer expiry.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-m.kick:
		case <-expiry.C:
			m.mu.Lock()
			gone := m.expire()
			m.mu.Unlock()
			if !gone {
				continue
			}
		}
		m.applyMu.Lock()
		m.mu.Lock()
		spec := m.combine()
		m.mu.Unlock()
		start := time.Now()
		if err := m.o.Engine.Apply(spec); err != nil {
			m.o.Logger.Error("apply discovered targets", "err", err)
		} else {
			m.o.Logger.Debug("discovered targets applied", "targets", len(spec.Targets),
				"duration_seconds", time.Since(start).Seconds())
		}
		m.applyMu.Unlock()
	}
}

func (m *Manager) changed() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// reconfigure switches to cfg's groups and sources. Called with m.mu held.
func (m *Manager) reconfigure(cfg *config.Config) {
	m.groups = map[string]*config.DiscoveryGroup{}
	dgs := cfg.DiscoveryGroups()
	for i := range dgs {
		m.groups[dgs[i].Name] = &dgs[i]
	}
	old := m.sources
	m.sources = nil
	for i := range dgs {
		g := &dgs[i]
		for j, f := range g.FileSD {
			f.Pos = config.Pos{}
			m.addSource(g, fmt.Sprintf("file_sd_configs[%d]", j), f, &old)
		}
		for j, h := range g.HTTPSD {
			h.Pos = config.Pos{}
			m.addSource(g, fmt.Sprintf("http_sd_configs[%d]", j), h, &old)
		}
	}
	for _, s := range old {
		s.cancel()
	}
	m.probe = cfg.Probe()
	m.reenrol()
}

// addSource keeps the running source with the same group, name and
// settings (removing it from old), or starts a new one.
func (m *Manager) addSource(g *config.DiscoveryGroup, name string, cfg any, old *[]*source) {
	log := m.o.Logger.With("group", g.Name, "sd_config", name)
	for i, s := range *old {
		if s.group == g.Name && s.name == name && reflect.DeepEqual(s.cfg, cfg) {
			*old = append((*old)[:i], (*old)[i+1:]...)
			m.sources = append(m.sources, s)
			m.process(s, g) // the group's rules may have changed
			return
		}
	}
	s := &source{group: g.Name, name: name, cfg: cfg, done: make(chan struct{}), logged: map[string]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	m.sources = append(m.sources, s)
	var r refresher
	var interval time.Duration
	var w *fsnotify.Watcher
	first := false // refresh at once in the source's goroutine
	switch c := cfg.(type) {
	case config.FileSDConfig:
		f := newFileSource(c, log)
		r, interval = f, time.Duration(c.RefreshInterval)
		w = watch(f.watchDirs(), log) // before the first read: no change is missed
		m.deliver(s, f.refresh(ctx))  // file targets are there before Apply returns
	case config.HTTPSDConfig:
		h, err := newHTTPSource(c, log)
		if err != nil {
			log.Error("cannot start HTTP SD", "err", err)
			s.failures++
			close(s.done)
			return
		}
		r, interval, first = h, time.Duration(c.RefreshInterval), true
	}
	go func() {
		defer close(s.done)
		runSource(ctx, r, interval, first, w, func(res result) { m.update(s, res) })
	}()
}

// update records a refresh result of s and schedules an apply.
func (m *Manager) update(s *source, res result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || !m.current(s) {
		return
	}
	if m.deliver(s, res) {
		m.changed()
	}
}

func (m *Manager) current(s *source) bool {
	for _, x := range m.sources {
		if x == s {
			return true
		}
	}
	return false
}

// deliver records res for s and reports whether its targets changed.
// Called with m.mu held.
func (m *Manager) deliver(s *source, res result) bool {
	if res.failure {
		s.failures++
	}
	if res.ok {
		s.lastSuccess = m.o.Now()
	}
	if res.groups == nil {
		return false
	}
	s.raw = res.groups
	return m.process(s, m.groups[s.group])
}

// process turns s.raw into s.targets with the rules of group g and reports
// whether they changed. Called with m.mu held.
func (m *Manager) process(s *source, g *config.DiscoveryGroup) bool {
	prev := s.targets
	s.targets, s.dropped, s.invalid = make([]probe.TargetSpec, 0, len(prev)), 0, 0
	lb := labels.NewBuilder(labels.EmptyLabels())
	seen := make(map[string]bool, len(prev))
	bad := map[string]bool{} // addresses with an invalid target now
	for _, tg := range s.raw {
		for _, tl := range tg.Targets {
			lb.Reset(labels.EmptyLabels())
			for n, v := range tg.Labels {
				lb.Set(string(n), string(v))
			}
			for n, v := range tl {
				lb.Set(string(n), string(v))
			}
			ts, err := build(lb, g)
			if errors.Is(err, errDropped) {
				s.dropped++
				continue
			}
			if err != nil {
				addr := lb.Get(config.AddressLabel)
				s.invalid++
				bad[addr] = true
				if s.logged[addr] != err.Error() {
					s.logged[addr] = err.Error()
					m.o.Logger.Warn("invalid discovered target, not probed", "group", s.group, "sd_config", s.name,
						"address", addr, "err", err)
				}
				continue
			}
			for _, t := range ts {
				// The same target twice (after relabelling) is probed once,
				// with the labels of its first occurrence.
				if k := t.Key(); !seen[k] {
					seen[k] = true
					s.targets = append(s.targets, t)
				}
			}
		}
	}
	for a := range s.logged {
		if !bad[a] {
			delete(s.logged, a) // log again if it breaks again
		}
	}
	return !specsEqual(prev, s.targets)
}

type dropped struct{}

func (dropped) Error() string { return "dropped by relabel_configs" }

var errDropped error = dropped{}

// build relabels the labels in lb with g's relabel_configs and turns the
// result into a TargetSpec; errDropped when relabelling drops the target.
func build(lb *labels.Builder, g *config.DiscoveryGroup) ([]probe.TargetSpec, error) {
	if !relabel.ProcessBuilder(lb, g.Relabel...) {
		return nil, errDropped
	}
	return g.Targets(lb.Labels())
}

func specsEqual(a, b []probe.TargetSpec) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(&b[i]) {
			return false
		}
	}
	return true
}

// combine returns the static Spec with every discovered and enrolled
// target of this shard added; a discovered target with the key of one
// already in the Spec is left out. Host names of groups with resolve: all
// become one target per address (see expandNames). Called with m.mu held.
func (m *Manager) combine() probe.Spec {
	spec := m.static
	n := len(spec.Targets)
	for _, s := range m.sources {
		n += len(s.targets)
	}
	for _, e := range m.enrolled {
		if e.err == nil {
			n += len(e.specs)
		}
	}
	if n == len(spec.Targets) && !m.resolvesAll() {
		return spec
	}
	m.wanted = map[nameKey]bool{}
	spec.Targets = make([]probe.TargetSpec, 0, n)
	keys := make(map[string]struct{}, n)
	add := func(t *probe.TargetSpec, sharded bool) bool {
		if sharded && !m.o.Shard.Owns(t) {
			return true
		}
		if g := m.groups[t.Group]; g != nil && g.ResolveAll && t.Host != "" {
			m.expandName(t, func(x *probe.TargetSpec) {
				if _, dup := keys[x.Key()]; !dup {
					keys[x.Key()] = struct{}{}
					spec.Targets = append(spec.Targets, *x)
				}
			})
			return true
		}
		k := t.Key()
		if _, dup := keys[k]; dup {
			return false
		}
		keys[k] = struct{}{}
		spec.Targets = append(spec.Targets, *t)
		return true
	}
	for i := range m.static.Targets {
		add(&m.static.Targets[i], false) // filtered by the caller already
	}
	for _, s := range m.sources {
		for i := range s.targets {
			if !add(&s.targets[i], true) {
				m.o.Logger.Debug("discovered target already probed in its group", "group", s.group, "target", s.targets[i].Name)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m.enrolled)) {
		if e := m.enrolled[k]; e.err == nil {
			for i := range e.specs {
				add(&e.specs[i], false)
			}
		}
	}
	if len(m.wanted) > 0 {
		m.resolveSoon()
	}
	return spec
}

// Group returns the discovery view of the named group of the running
// configuration.
func (m *Manager) Group(name string) (*config.DiscoveryGroup, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.groups[name]
	return g, ok
}
