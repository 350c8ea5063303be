package discovery

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/probe"
)

// Errors of Enrol, matched with errors.Is.
var (
	ErrProbeDisabled = errors.New("the /probe endpoint is off; set probe_endpoint.enabled: true in the configuration")
	ErrUnknownModule = errors.New("unknown module: the module parameter names a group of the configuration")
	ErrProbeFull     = errors.New("too many targets enrolled through /probe")
	ErrBadTarget     = errors.New("invalid target")
)

// enrolment is one target enrolled through /probe.
type enrolment struct {
	group    string
	target   string             // as given to Enrol
	specs    []probe.TargetSpec // one, or two for a host name with ip_version: both
	err      error              // the group's rules refuse the target (after a reload)
	lastSeen time.Time
}

// Enrol adds target (an address or host name, a ":port" suffix ignored)
// to group for continuous probing, or marks it as still wanted when it is
// enrolled already. It returns a TargetSpec the engine probes (its Group
// and Name find its series: one, or two with ip_version: both). A new target is applied to the engine soon
// after Enrol returns (coalesced with other changes); targets not enrolled
// again within probe_endpoint.expire_after are dropped. Enrolled targets
// are probed whatever --shard says: the scraper chose this instance.
func (m *Manager) Enrol(group, target string) (probe.TargetSpec, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.probe.Enabled {
		return probe.TargetSpec{}, ErrProbeDisabled
	}
	g, ok := m.groups[group]
	if !ok {
		return probe.TargetSpec{}, fmt.Errorf("%w: no group %q", ErrUnknownModule, group)
	}
	key := group + "\x00" + config.StripPort(target)
	if e, ok := m.enrolled[key]; ok {
		e.lastSeen = m.o.Now()
		if e.err != nil {
			return probe.TargetSpec{}, e.err
		}
		return e.specs[0], nil
	}
	if len(m.enrolled) >= m.probe.MaxTargets {
		return probe.TargetSpec{}, fmt.Errorf("%w: %d, the probe_endpoint.max_targets limit; raise it, or let targets that are no longer scraped expire (probe_endpoint.expire_after %s)",
			ErrProbeFull, len(m.enrolled), m.probe.ExpireAfter)
	}
	specs, err := enrolSpecs(g, target)
	if err != nil {
		return probe.TargetSpec{}, err
	}
	m.enrolled[key] = &enrolment{group: group, target: target, specs: specs, lastSeen: m.o.Now()}
	m.changed()
	return specs[0], nil
}

func enrolSpecs(g *config.DiscoveryGroup, target string) ([]probe.TargetSpec, error) {
	specs, err := g.Targets(labels.FromStrings(config.AddressLabel, target))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTarget, err)
	}
	return specs, nil
}

// Enrolled returns how many targets are enrolled through /probe.
func (m *Manager) Enrolled() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.enrolled)
}

// expire drops enrolments not renewed within expire_after and reports
// whether any went. Called with m.mu held.
func (m *Manager) expire() bool {
	cut := m.o.Now().Add(-m.probe.ExpireAfter)
	gone := false
	for k, e := range m.enrolled {
		if e.lastSeen.Before(cut) {
			delete(m.enrolled, k)
			gone = true
		}
	}
	return gone
}

// reenrol applies the settings of a new configuration to the enrolled
// targets. Called with m.mu held.
func (m *Manager) reenrol() {
	if !m.probe.Enabled {
		clear(m.enrolled)
		return
	}
	for k, e := range m.enrolled {
		g, ok := m.groups[e.group]
		if !ok {
			delete(m.enrolled, k)
			continue
		}
		e.specs, e.err = enrolSpecs(g, e.target)
	}
}
