//go:build linux

package lab

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Shapes of the probe side's link (Options.Link). Each holds the probe
// namespace's addresses on another kind of interface stacked on or over the
// veth pair, as real hosts do: a capture on every interface then sees a
// packet on more than one of them.
const (
	// LinkVeth: the addresses are on the veth itself (the default).
	LinkVeth = "veth"
	// LinkBridge: the veth is a port of bridge br0, which holds the
	// addresses (a KVM or container host).
	LinkBridge = "bridge"
	// LinkMacvlan: macvlan mv0 (mode bridge, a MAC of its own) on the
	// veth holds the addresses; the veth holds none.
	LinkMacvlan = "macvlan"
	// LinkVXLAN: the veth carries a VXLAN overlay (VNI 42, UDP 4789) between
	// vx0 in both namespaces; the overlay addresses OverlayProbe4/6 and
	// OverlayTarget4/6 hold the routes to the targets.
	LinkVXLAN = "vxlan"
)

// Overlay addresses of LinkVXLAN.
var (
	OverlayProbe4  = netip.MustParseAddr("10.250.254.1")
	OverlayTarget4 = netip.MustParseAddr("10.250.254.2")
	OverlayProbe6  = netip.MustParseAddr("fd00:254::1")
	OverlayTarget6 = netip.MustParseAddr("fd00:254::2")
)

// MAC addresses of the stacked interfaces.
const (
	macvlanMAC  = "02:1c:ab:00:00:03"
	vxProbeMAC  = "02:1c:ab:00:00:11"
	vxTargetMAC = "02:1c:ab:00:00:12"
)

func (l *Lab) checkLink() error {
	switch l.Link {
	case "", LinkVeth, LinkBridge, LinkMacvlan, LinkVXLAN:
		return nil
	}
	return fmt.Errorf("options: link %q: want %q, %q, %q or %q", l.Link, LinkVeth, LinkBridge, LinkMacvlan, LinkVXLAN)
}

// linkCommands returns the `ip` commands that give the probe side its
// shape: addresses, permanent neighbour entries (no ARP or neighbour
// discovery, whose queues would drop the first burst of probes to a fresh
// lab) and, per shape, the stacked interface. They set ProbeIf, Hop4, Hop6.
func (l *Lab) linkCommands() [][]string {
	p, tg := l.Probe, l.Target
	addrs := func(ns, dev string, a4, a6 netip.Addr, bits4 string) [][]string {
		return [][]string{
			{"-n", ns, "addr", "add", a4.String() + bits4, "dev", dev},
			{"-n", ns, "addr", "add", a6.String() + "/64", "dev", dev, "nodad"},
		}
	}
	neigh := func(ns, dev string, a4, a6 netip.Addr, mac string) [][]string {
		return [][]string{
			{"-n", ns, "neigh", "replace", a4.String(), "lladdr", mac, "dev", dev, "nud", "permanent"},
			{"-n", ns, "neigh", "replace", a6.String(), "lladdr", mac, "dev", dev, "nud", "permanent"},
		}
	}
	var c [][]string
	c = append(c, addrs(tg, "veth0", TargetAddr4, TargetAddr6, "/30")...)
	c = append(c, neigh(p, "veth0", TargetAddr4, TargetAddr6, targetMAC)...)
	probeMACNow := probeMAC
	switch l.Link {
	case LinkBridge:
		l.ProbeIf = "br0"
		c = append(c,
			[]string{"-n", p, "link", "add", "br0", "address", probeMAC, "type", "bridge"},
			[]string{"-n", p, "link", "set", "veth0", "master", "br0"},
			[]string{"-n", p, "link", "set", "br0", "up"})
		c = append(c, neigh(p, "br0", TargetAddr4, TargetAddr6, targetMAC)...)
	case LinkMacvlan:
		l.ProbeIf, probeMACNow = "mv0", macvlanMAC
		c = append(c,
			[]string{"-n", p, "link", "add", "mv0", "link", "veth0", "address", macvlanMAC, "type", "macvlan", "mode", "bridge"},
			[]string{"-n", p, "link", "set", "mv0", "up"})
		c = append(c, neigh(p, "mv0", TargetAddr4, TargetAddr6, targetMAC)...)
	case LinkVXLAN:
		// The underlay keeps the veth addresses; the overlay carries the probes.
		c = append(c, addrs(p, "veth0", ProbeAddr4, ProbeAddr6, "/30")...)
		c = append(c, neigh(tg, "veth0", ProbeAddr4, ProbeAddr6, probeMAC)...)
		for _, side := range []struct {
			ns, mac, local, remote, peerMAC string
		}{
			{p, vxProbeMAC, ProbeAddr4.String(), TargetAddr4.String(), vxTargetMAC},
			{tg, vxTargetMAC, TargetAddr4.String(), ProbeAddr4.String(), vxProbeMAC},
		} {
			c = append(c,
				[]string{"-n", side.ns, "link", "add", "vx0", "address", side.mac, "type", "vxlan", "id", "42",
					"local", side.local, "remote", side.remote, "dstport", "4789", "dev", "veth0"},
				[]string{"-n", side.ns, "link", "set", "vx0", "up"})
		}
		c = append(c, addrs(p, "vx0", OverlayProbe4, OverlayProbe6, "/30")...)
		c = append(c, addrs(tg, "vx0", OverlayTarget4, OverlayTarget6, "/30")...)
		c = append(c, neigh(p, "vx0", OverlayTarget4, OverlayTarget6, vxTargetMAC)...)
		c = append(c, neigh(tg, "vx0", OverlayProbe4, OverlayProbe6, vxProbeMAC)...)
		l.ProbeIf, l.Hop4, l.Hop6 = "vx0", OverlayTarget4, OverlayTarget6
		return c
	}
	c = append(c, addrs(p, l.ProbeIf, ProbeAddr4, ProbeAddr6, "/30")...)
	c = append(c, neigh(tg, "veth0", ProbeAddr4, ProbeAddr6, probeMACNow)...)
	l.probeMAC = probeMACNow
	return c
}

// ProbeLinkLocal is the probe namespace's IPv6 link-local address on
// ProbeIf once LinkLocal was called.
var ProbeLinkLocal = netip.MustParseAddr("fe80::a:1")

// LinkLocal gives the target namespace n IPv6 link-local addresses on the
// link to the probe namespace (fe80::b:1, fe80::b:2, ...; no duplicate
// address detection, permanent neighbour entries both ways) and returns
// them with the probe side's interface as zone, as a user writes them
// (fe80::b:1%veth0). Not with LinkVXLAN.
func (l *Lab) LinkLocal(n int) []netip.Addr {
	l.t.Helper()
	if l.Link == LinkVXLAN {
		l.t.Fatal("lab: LinkLocal: not with a VXLAN link")
	}
	cmds := [][]string{
		{"-n", l.Probe, "addr", "add", ProbeLinkLocal.String() + "/64", "dev", l.ProbeIf, "nodad"},
		{"-n", l.Target, "neigh", "replace", ProbeLinkLocal.String(), "lladdr", l.probeMAC, "dev", "veth0", "nud", "permanent"},
	}
	var out []netip.Addr
	a := netip.MustParseAddr("fe80::b:0")
	for range n {
		a = a.Next()
		cmds = append(cmds,
			[]string{"-n", l.Target, "addr", "add", a.String() + "/64", "dev", "veth0", "nodad"},
			[]string{"-n", l.Probe, "neigh", "replace", a.String(), "lladdr", targetMAC, "dev", l.ProbeIf, "nud", "permanent"})
		out = append(out, a.WithZone(l.ProbeIf))
	}
	for _, args := range cmds {
		if err := run("ip", args...); err != nil {
			l.t.Fatalf("lab: link-local addresses: %v", err)
		}
	}
	return out
}

// PingSockets allows (the lab's default) or forbids ICMP ping sockets in
// the probe namespace (net.ipv4.ping_group_range), so an engine with the
// icmp datapath uses ping sockets or falls back to raw sockets.
func (l *Lab) PingSockets(allow bool) {
	l.t.Helper()
	v := "0 2147483647"
	if !allow {
		v = "1 0"
	}
	if err := l.sysctls(l.Probe, map[string]string{"net/ipv4/ping_group_range": v}); err != nil {
		l.t.Fatalf("lab: %v", err)
	}
}

// Prefixes for a router's errors from the target namespace's kernel (see
// Router): the probe namespace routes them through the target namespace.
var (
	RoutedPrefix4   = netip.MustParsePrefix("10.212.0.0/24")
	RoutedPrefix6   = netip.MustParsePrefix("fd00:212::/64")
	RedirectPrefix4 = netip.MustParsePrefix("10.213.0.0/24")
)

// Router makes the target namespace a router between the probe namespace
// and the responder's TUN device (StartResponder must run first), so ICMP
// errors come from a real kernel:
//   - probes to the responder with TTL 1 expire there: time exceeded;
//   - RoutedPrefix4/6 are routed by the target namespace as Route says
//     (e.g. "unreachable", "prohibit", or "local" with "dev lo" to answer);
//     IPv4 sends such errors at most once a second per source (a global
//     setting, net.ipv4.route.error_cost, that a lab does not change);
//   - RedirectPrefix4 is routed by the probe namespace through the target
//     namespace, which forwards it back over the same link (to the probe
//     namespace, which drops it: it does not forward) and sends the probe
//     namespace an ICMP redirect, rate-limited by the kernel to a few.
func (l *Lab) Router() {
	l.t.Helper()
	p, tg := l.Probe, l.Target
	for _, args := range [][]string{
		{"-n", p, "route", "add", RoutedPrefix4.String(), "via", l.Hop4.String(), "dev", l.ProbeIf},
		{"-n", p, "-6", "route", "add", RoutedPrefix6.String(), "via", l.Hop6.String(), "dev", l.ProbeIf},
		{"-n", p, "route", "add", RedirectPrefix4.String(), "via", l.Hop4.String(), "dev", l.ProbeIf},
		{"-n", tg, "route", "add", RedirectPrefix4.String(), "via", ProbeAddr4.String(), "dev", "veth0"},
	} {
		if err := run("ip", args...); err != nil {
			l.t.Fatalf("lab: router: %v", err)
		}
	}
	if err := l.sysctls(tg, map[string]string{
		"net/ipv4/conf/all/send_redirects": "1", "net/ipv4/conf/veth0/send_redirects": "1",
	}); err != nil {
		l.t.Fatalf("lab: router: %v", err)
	}
}

// Route replaces the target namespace's route for prefix (RoutedPrefix4 or
// RoutedPrefix6) with one of type typ and the extra arguments, e.g.
// Route(RoutedPrefix4, "unreachable") or Route(RoutedPrefix4, "local", "dev", "lo").
func (l *Lab) Route(prefix netip.Prefix, typ string, args ...string) {
	l.t.Helper()
	if prefix != RoutedPrefix4 && prefix != RoutedPrefix6 {
		l.t.Fatalf("lab: route %s: only RoutedPrefix4 and RoutedPrefix6", prefix)
	}
	fam := "-4"
	if prefix.Addr().Is6() {
		fam = "-6"
	}
	if err := run("ip", append([]string{"-n", l.Target, fam, "route", "replace", typ, prefix.String()}, args...)...); err != nil {
		l.t.Fatalf("lab: %v", err)
	}
}

// Reject installs an nftables rule in the target namespace that answers
// forwarded echo requests to addrs with an ICMP (ICMPv6) destination
// unreachable (host / address unreachable), as a firewall does.
func (l *Lab) Reject(addrs ...netip.Addr) {
	l.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "table inet icmplab_reject_%d {\n\tchain rej {\n\t\ttype filter hook forward priority 0; policy accept;\n", l.nftSeq.Add(1))
	for _, a := range addrs {
		if a.Is4() {
			fmt.Fprintf(&b, "\t\tip daddr %s icmp type echo-request reject with icmp type host-unreachable\n", a)
		} else {
			fmt.Fprintf(&b, "\t\tip6 daddr %s icmpv6 type echo-request reject with icmpv6 type addr-unreachable\n", a)
		}
	}
	b.WriteString("\t}\n}\n")
	if err := l.nft([]byte(b.String())); err != nil {
		l.t.Fatalf("lab: reject: %v", err)
	}
}

// ICMPOut reads a counter of the target namespace's kernel from the Icmp
// line of /proc/net/snmp (e.g. "OutRedirects", "OutTimeExcds").
func (l *Lab) ICMPOut(name string) uint64 {
	l.t.Helper()
	var v uint64
	err := l.DoTarget(func() error {
		b, err := os.ReadFile("/proc/thread-self/net/snmp")
		if err != nil {
			return err
		}
		var head []string
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || f[0] != "Icmp:" {
				continue
			}
			if head == nil {
				head = f
				continue
			}
			for i := range head {
				if head[i] == name && i < len(f) {
					v, err = strconv.ParseUint(f[i], 10, 64)
					return err
				}
			}
		}
		return fmt.Errorf("no Icmp counter %s in /proc/net/snmp", name)
	})
	if err != nil {
		l.t.Fatalf("lab: %v", err)
	}
	return v
}
