package discovery

import (
	"context"
	"slices"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
)

// nameKey is a host name of a group with resolve: all and the IP protocol
// its addresses are taken from.
type nameKey struct{ host, prot string }

// resolvesAll reports whether a group of the configuration has resolve: all.
// Called with m.mu held.
func (m *Manager) resolvesAll() bool {
	for _, g := range m.groups {
		if g.ResolveAll {
			return true
		}
	}
	return false
}

// expandName calls add with one TargetSpec per known address of the host
// name of t (same name, the address probed as a literal one, so each has
// its own key and state), and records the name as wanted. A name not
// resolved yet adds nothing until the resolver has its addresses. Called
// with m.mu held.
func (m *Manager) expandName(t *probe.TargetSpec, add func(*probe.TargetSpec)) {
	k := nameKey{t.Host, t.IPProtocol}
	m.wanted[k] = true
	for _, a := range m.names[k] {
		x := *t
		x.Addr, x.Host, x.IPProtocol = a, "", ""
		add(&x)
	}
}

func (m *Manager) resolveSoon() {
	select {
	case m.resolveNow <- struct{}{}:
	default:
	}
}

// resolver looks up the wanted names every dns_refresh and when combine
// finds names it has no addresses for; a failed lookup keeps the last
// addresses. A change of any address set leads to a new combine.
func (m *Manager) resolver() {
	defer close(m.resolverDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-m.stop; cancel() }()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		m.mu.Lock()
		refresh := m.static.Engine.DNSRefresh
		var want []nameKey
		for k := range m.wanted {
			want = append(want, k)
		}
		m.mu.Unlock()
		changed := false
		for _, k := range want {
			addrs, err := probe.ResolveAll(ctx, m.o.Resolver, k.host, k.prot)
			if ctx.Err() != nil {
				return
			}
			m.mu.Lock()
			if err != nil {
				m.o.Logger.Debug("resolve failed, keeping the last addresses", "host", k.host, "err", err)
			} else if !slices.Equal(m.names[k], addrs) {
				m.names[k], changed = addrs, true
			}
			m.mu.Unlock()
		}
		m.mu.Lock()
		for k := range m.names {
			if !m.wanted[k] {
				delete(m.names, k)
			}
		}
		m.mu.Unlock()
		if changed {
			m.changed()
		}
		if refresh <= 0 {
			refresh = time.Minute
		}
		t.Reset(refresh)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.resolveNow:
		}
	}
}
