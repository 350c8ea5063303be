//go:build linux

package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
)

// Prefixes the target namespace of a Chain answers for.
var (
	ChainPrefix4 = netip.MustParsePrefix("10.252.0.0/16")
	ChainPrefix6 = netip.MustParsePrefix("fd00:252::/64")
)

// Chain is a routed lab: the probe namespace, n router namespaces with
// forwarding on, and the target namespace, each joined to the next by a
// veth pair. Link k (k = 0..n, from the probe side) is 10.251.k.0/24 and
// fd00:251:k::/64, .1 (::1) on the probe side and .2 (::2) on the target
// side. Every router answers a probe whose TTL runs out with time exceeded
// from its address on the probe side (Router4, Router6), unrate-limited;
// the target namespace answers for ChainPrefix4 and ChainPrefix6, which
// the probe namespace routes through the first router (its only route).
// The embedded Lab's Do, Exec, Start, HTTPClient and Addrs work on the
// chain's probe and target namespaces.
type Chain struct {
	*Lab
	// Routers are the router namespaces, from the probe side.
	Routers []string
	// Router4 and Router6 are each router's address on its probe side.
	Router4, Router6 []netip.Addr
	t                testing.TB
	cuts             atomic.Int32
}

// NewChain builds a chain of n routers (1..9) and registers its removal
// with t.Cleanup. Like New, it skips without root and fails the test when
// the chain cannot be built.
func NewChain(t testing.TB, n int) *Chain {
	t.Helper()
	RequireRoot(t, "creating network namespaces (CAP_SYS_ADMIN, CAP_NET_ADMIN)")
	Tool(t, "ip")
	Tool(t, "nft")
	if n < 1 || n > 9 {
		t.Fatalf("lab: chain of %d routers: want 1 to 9", n)
	}
	base := newBase(t)
	l := newLab(base, Options{Prefix4: ChainPrefix4, Prefix6: ChainPrefix6})
	l.t = t
	c := &Chain{Lab: l, t: t}
	for i := 1; i <= n; i++ {
		c.Routers = append(c.Routers, base+"-r"+strconv.Itoa(i))
		c.Router4 = append(c.Router4, linkAddr(i-1, 2, false))
		c.Router6 = append(c.Router6, linkAddr(i-1, 2, true))
	}
	l.Hop4, l.Hop6 = c.Router4[0], c.Router6[0]
	t.Cleanup(c.cleanup)
	if err := c.setup(); err != nil {
		t.Fatalf("lab: chain: %v", err)
	}
	return c
}

// linkAddr is side's (1: probe side, 2: target side) address on link k.
func linkAddr(k, side int, v6 bool) netip.Addr {
	if v6 {
		return netip.MustParseAddr(fmt.Sprintf("fd00:251:%d::%d", k, side))
	}
	return netip.AddrFrom4([4]byte{10, 251, byte(k), byte(side)})
}

// nodes are the namespaces from the probe side: probe, routers, target.
func (c *Chain) nodes() []string {
	return append(append([]string{c.Probe}, c.Routers...), c.Target)
}

func (c *Chain) setup() error {
	nodes := c.nodes()
	for _, ns := range nodes {
		if err := run("ip", "netns", "add", ns); err != nil {
			return err
		}
		// No duplicate address detection, for the link-local addresses
		// too: neighbour discovery would wait for it (about a second).
		if err := c.sysctls(ns, map[string]string{
			"net/ipv6/conf/default/accept_dad": "0", "net/ipv6/conf/all/accept_dad": "0",
		}); err != nil {
			return err
		}
	}
	var cmds [][]string
	for _, ns := range nodes {
		cmds = append(cmds, []string{"-n", ns, "link", "set", "lo", "up"})
	}
	// Link k joins nodes[k] ("dn0", the probe namespace's "veth0") and
	// nodes[k+1] ("up0").
	for k := 0; k+1 < len(nodes); k++ {
		left, right := nodes[k], nodes[k+1]
		ldev := "dn0"
		if k == 0 {
			ldev = "veth0"
		}
		cmds = append(cmds,
			[]string{"-n", left, "link", "add", ldev, "type", "veth", "peer", "name", "up0", "netns", right},
			[]string{"-n", left, "addr", "add", linkAddr(k, 1, false).String() + "/24", "dev", ldev},
			[]string{"-n", left, "addr", "add", linkAddr(k, 1, true).String() + "/64", "dev", ldev, "nodad"},
			[]string{"-n", right, "addr", "add", linkAddr(k, 2, false).String() + "/24", "dev", "up0"},
			[]string{"-n", right, "addr", "add", linkAddr(k, 2, true).String() + "/64", "dev", "up0", "nodad"},
			[]string{"-n", left, "link", "set", ldev, "up"},
			[]string{"-n", right, "link", "set", "up0", "up"})
	}
	n := len(c.Routers)
	first4, first6 := c.Router4[0].String(), c.Router6[0].String()
	cmds = append(cmds,
		[]string{"-n", c.Probe, "route", "add", ChainPrefix4.String(), "via", first4},
		[]string{"-n", c.Probe, "-6", "route", "add", ChainPrefix6.String(), "via", first6},
		[]string{"-n", c.Probe, "route", "add", "10.251.0.0/16", "via", first4},
		[]string{"-n", c.Probe, "-6", "route", "add", "fd00:251::/48", "via", first6},
		[]string{"-n", c.Target, "route", "add", "local", ChainPrefix4.String(), "dev", "lo"},
		[]string{"-n", c.Target, "-6", "route", "add", "local", ChainPrefix6.String(), "dev", "lo"},
		[]string{"-n", c.Target, "route", "add", "default", "via", linkAddr(n, 1, false).String()},
		[]string{"-n", c.Target, "-6", "route", "add", "default", "via", linkAddr(n, 1, true).String()})
	for i, r := range c.Routers { // router i+1: link i behind, link i+1 ahead
		cmds = append(cmds,
			[]string{"-n", r, "route", "add", ChainPrefix4.String(), "via", linkAddr(i+1, 2, false).String()},
			[]string{"-n", r, "-6", "route", "add", ChainPrefix6.String(), "via", linkAddr(i+1, 2, true).String()})
		if i > 0 {
			cmds = append(cmds,
				[]string{"-n", r, "route", "add", "10.251.0.0/24", "via", linkAddr(i, 1, false).String()},
				[]string{"-n", r, "-6", "route", "add", "fd00:251:0::/64", "via", linkAddr(i, 1, true).String()})
		}
	}
	for _, args := range cmds {
		if err := run("ip", args...); err != nil {
			return err
		}
	}
	quiet := map[string]string{
		"net/ipv4/icmp_ratelimit":    "0",
		"net/ipv4/icmp_msgs_per_sec": "10000000",
		"net/ipv4/icmp_msgs_burst":   "10000000",
		"net/ipv6/icmp/ratelimit":    "0",
	}
	for _, r := range c.Routers {
		kv := map[string]string{"net/ipv4/ip_forward": "1", "net/ipv6/conf/all/forwarding": "1"}
		for k, v := range quiet {
			kv[k] = v
		}
		if err := c.sysctls(r, kv); err != nil {
			return err
		}
	}
	if err := c.sysctls(c.Target, quiet); err != nil {
		return err
	}
	return c.sysctls(c.Probe, map[string]string{"net/ipv4/ping_group_range": "0 2147483647"})
}

func (c *Chain) cleanup() {
	c.Lab.cleanup()
	for _, ns := range c.Routers {
		if _, err := os.Stat(nsPath(ns)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := run("ip", "netns", "delete", ns); err != nil {
			c.t.Errorf("lab cleanup: %v", err)
		}
	}
}

// Cut drops every packet router i (1-based) forwards over or receives
// from its link towards the target, as a cut cable would; it still
// answers probes that expire there. The returned function undoes it. Cut
// reports failures on t (the calling test or subtest).
func (c *Chain) Cut(t testing.TB, i int) (restore func()) {
	t.Helper()
	if i < 1 || i > len(c.Routers) {
		t.Fatalf("lab: cut behind router %d of %d", i, len(c.Routers))
	}
	table := fmt.Sprintf("icmplab_cut_%d", c.cuts.Add(1))
	script := "table inet " + table + " {\n\tchain cut {\n\t\ttype filter hook forward priority 0; policy accept;\n" +
		"\t\toifname \"dn0\" drop\n\t\tiifname \"dn0\" drop\n\t}\n}\n"
	ns := nsPath(c.Routers[i-1])
	if err := doIn(ns, func() error { return runInput([]byte(script), "nft", "-f", "-") }); err != nil {
		t.Fatalf("lab: cut: %v", err)
	}
	done := false
	return func() {
		if done {
			return
		}
		done = true
		if err := doIn(ns, func() error { return runInput([]byte("delete table inet "+table+"\n"), "nft", "-f", "-") }); err != nil {
			t.Errorf("lab: restore cut: %v", err)
		}
	}
}

// SetMTU sets the MTU of the link behind router i (1-based, towards the
// target), on both ends. It reports failures on t.
func (c *Chain) SetMTU(t testing.TB, i, mtu int) {
	t.Helper()
	if i < 1 || i > len(c.Routers) {
		t.Fatalf("lab: MTU behind router %d of %d", i, len(c.Routers))
	}
	m := strconv.Itoa(mtu)
	for _, args := range [][]string{
		{"-n", c.Routers[i-1], "link", "set", "dn0", "mtu", m},
		{"-n", c.nodes()[i+1], "link", "set", "up0", "mtu", m},
	} {
		if err := run("ip", args...); err != nil {
			t.Fatalf("lab: %v", err)
		}
	}
}
