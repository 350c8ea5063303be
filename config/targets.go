package config

import (
	"fmt"
	"github.com/icmp-exporter/icmp_exporter/probe"
	"net/netip"
	"slices"
	"strings"
)

const targetHelp = "want an IPv4 or IPv6 address, a CIDR block like 10.0.0.0/30, or a host name like example.com"

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// special says why a is not an ordinary unicast target, or "".
func special(a netip.Addr) string {
	switch {
	case a.IsMulticast():
		return "a multicast address"
	case a.IsUnspecified():
		return "the unspecified address"
	case a == limitedBroadcast:
		return "the broadcast address"
	}
	return ""
}

// noGroupAddrs says why broadcast, multicast and unspecified targets are
// refused and what to do instead.
const noGroupAddrs = "broadcast, multicast and unspecified addresses cannot be probed (their replies come from " +
	"member addresses, which the exporter cannot credit to the group address); list the member addresses as targets"

// allowBroadcast refuses allow_broadcast: true (the option was removed;
// false, the only behaviour, is still accepted).
func (c *checker) allowBroadcast(f Field[bool], path string) {
	if f.Set && f.Value {
		c.ps.add(f.Pos, path, "is no longer supported: %s", noGroupAddrs)
	}
}

// expand turns the targets of group g into TargetSpecs appended to the spec.
func (c *checker) expand(g *Group, path string) {
	tmpl, ok := c.template(g, path)
	const allowBcast = false // see allowBroadcast
	// Within a group, every address and host name is probed once.
	addrs := make(map[netip.Addr]Pos, len(g.Targets.Items))
	hosts := map[string]Pos{}
	c.cfg.spec.Targets = slices.Grow(c.cfg.spec.Targets, len(g.Targets.Items))
	for i, t := range g.Targets.Items {
		tp := fmt.Sprintf("%s.targets[%d]", path, i)
		s := t.Value
		switch {
		case strings.Contains(s, "/"):
			c.cidr(tmpl, t, tp, allowBcast, addrs, ok)
		default:
			a, why := addressOrHost(s, allowBcast)
			switch {
			case why != "":
				c.ps.add(t.Pos, tp, "%s", why)
				continue
			case a.IsValid():
				if prev, dup := addrs[a]; dup {
					c.ps.add(t.Pos, tp, "%s is listed twice in this group (first at line %d)", s, prev.Line)
					continue
				}
				addrs[a] = t.Pos
				c.add(tmpl, s, a, "", ok)
				continue
			}
			k := strings.ToLower(strings.TrimSuffix(s, "."))
			if prev, dup := hosts[k]; dup {
				c.ps.add(t.Pos, tp, "%s is listed twice in this group (first at line %d)", s, prev.Line)
				continue
			}
			hosts[k] = t.Pos
			c.add(tmpl, s, netip.Addr{}, s, ok)
		}
	}
}

// addressOrHost reads one target that is an address or a host name (not a
// CIDR block): the address (the zero Addr for a host name), or why s is not
// a target.
func addressOrHost(s string, allowBcast bool) (netip.Addr, string) {
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		if why := special(a); why != "" && !allowBcast {
			return netip.Addr{}, fmt.Sprintf("%s is %s; %s", s, why, noGroupAddrs)
		}
		return a, ""
	}
	if why := badHostName(s); why != "" {
		return netip.Addr{}, fmt.Sprintf("%q is not a valid target (%s); %s", s, why, targetHelp)
	}
	return netip.Addr{}, ""
}

func (c *checker) add(tmpl probe.TargetSpec, name string, a netip.Addr, host string, ok bool) {
	if !ok {
		return
	}
	tmpl.Name, tmpl.Addr, tmpl.Host = name, a, host
	if host == "" {
		tmpl.IPProtocol = "" // only host names use it; keeps Key and Equal stable
	}
	c.cfg.spec.Targets = append(c.cfg.spec.Targets, tmpl)
}

func (c *checker) cidr(tmpl probe.TargetSpec, t Target, tp string, allowBcast bool, addrs map[netip.Addr]Pos, ok bool) {
	s := t.Value
	p, err := netip.ParsePrefix(s)
	if err != nil {
		c.ps.add(t.Pos, tp, "%q is not a valid CIDR block; %s", s, targetHelp)
		return
	}
	if p.Addr().Is4In6() {
		c.ps.add(t.Pos, tp, "%s is an IPv4-mapped IPv6 block; write it as an IPv4 block", s)
		return
	}
	if m := p.Masked(); m != p {
		c.ps.add(t.Pos, tp, "%s has bits set after the prefix length; did you mean %s?", s, m)
		return
	}
	bits := p.Addr().BitLen() - p.Bits()
	maxAddrs := c.maxCIDR()
	if bits > 30 || 1<<bits > maxAddrs {
		c.ps.add(t.Pos, tp, "%s has %s addresses, more than engine.max_cidr_addresses (%d); split the block or raise engine.max_cidr_addresses",
			s, blockSize(bits), maxAddrs)
		return
	}
	n := 1 << bits                              // countTargets bounded the total before expansion
	skipEnds := p.Addr().Is4() && p.Bits() < 31 // network and broadcast address
	a := p.Addr()
	for i := 0; i < n; i, a = i+1, a.Next() {
		if skipEnds && (i == 0 || i == n-1) {
			continue
		}
		if why := special(a); why != "" && !allowBcast {
			c.ps.add(t.Pos, tp, "%s contains %s (%s); %s", s, a, why, noGroupAddrs)
			return
		}
		if prev, dup := addrs[a]; dup {
			c.ps.add(t.Pos, tp, "%s contains %s, already listed in this group at line %d", s, a, prev.Line)
			return
		}
	}
	c.cfg.spec.Targets = slices.Grow(c.cfg.spec.Targets, n)
	a = p.Addr()
	for i := 0; i < n; i, a = i+1, a.Next() {
		if skipEnds && (i == 0 || i == n-1) {
			continue
		}
		addrs[a] = t.Pos
		c.add(tmpl, a.String(), a, "", ok)
	}
}

func blockSize(bits int) string {
	if bits < 63 {
		return fmt.Sprint(uint64(1) << bits)
	}
	return fmt.Sprintf("2^%d", bits)
}

// badHostName says why s is not a host name, or "".
func badHostName(s string) string {
	h := strings.TrimSuffix(s, ".")
	if h == "" || len(h) > 253 {
		return "a host name has 1 to 253 characters"
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return "each dot-separated part has 1 to 63 characters"
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "parts cannot start or end with -"
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Sprintf("%q is not allowed in a host name", r)
			}
		}
	}
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" {
		return "looks like an IP address but is not one"
	}
	return ""
}
