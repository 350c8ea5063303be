package probe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
)

// IPPrefer6 is the IP protocol preference (TargetSpec.IPProtocol) that
// takes the first IPv6 address of a host name, the first IPv4 one when it
// has none. IPAny prefers IPv4 the same way.
const IPPrefer6 = "prefer6"

// Resolver looks up the addresses of host names. *net.Resolver implements
// it; tests point a net.Resolver's Dial at a DNS server of their own.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// resolveTimeout bounds one lookup.
const resolveTimeout = 5 * time.Second

// resolver resolves host-name targets at start, every refresh (1m when 0)
// and after every Apply. On failure a target keeps its last address and
// counts the error. refresh is an engine setting: it cannot change after New.
func (e *Engine) resolver(ctx context.Context, refresh time.Duration, r Resolver) {
	defer e.wg.Done()
	if refresh <= 0 {
		refresh = time.Minute
	}
	if r == nil {
		r = net.DefaultResolver
	}
	t := time.NewTimer(refresh)
	defer t.Stop()
	for {
		e.resolveAll(ctx, r)
		t.Reset(refresh)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.resolveNow:
		}
	}
}

func (e *Engine) resolveAll(ctx context.Context, r Resolver) {
	type job struct {
		t          *target
		host, prot string
	}
	var jobs []job
	e.mu.Lock()
	for _, t := range e.c.targets {
		if t.spec.Host != "" {
			jobs = append(jobs, job{t, t.spec.Host, t.spec.IPProtocol})
		}
	}
	e.mu.Unlock()
	for _, j := range jobs {
		ip, err := Resolve(ctx, r, j.host, j.prot)
		if ctx.Err() != nil {
			return
		}
		e.mu.Lock()
		if err != nil {
			j.t.extra().dns++
			e.log.Debug("resolve failed", "target", j.host, "err", err)
		} else {
			e.c.setIP(j.t, ip, e.mono(time.Now()))
		}
		e.mu.Unlock()
	}
	e.nudge()
}

// Resolve returns the address of host that the IP protocol preference prot
// (IPAny, IPv4, IPv6 or IPPrefer6) picks: the first address of the wanted
// family, or with a preference the first of the preferred family and else
// the first one. r nil is net.DefaultResolver.
func Resolve(ctx context.Context, r Resolver, host, prot string) (netip.Addr, error) {
	addrs, err := ResolveAll(ctx, r, host, prot)
	if err != nil {
		return netip.Addr{}, err
	}
	want6 := prot == IPPrefer6
	for _, a := range addrs {
		if a.Is6() == want6 {
			return a, nil
		}
	}
	return addrs[0], nil
}

// ResolveAll returns every address of host of the family prot allows
// (IPv4 or IPv6 only for IPv4 and IPv6, both otherwise), unmapped, in the
// resolver's order, at least one. r nil is net.DefaultResolver.
func ResolveAll(ctx context.Context, r Resolver, host, prot string) ([]netip.Addr, error) {
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	network := "ip"
	if prot == IPv4 || prot == IPv6 {
		network = prot
	}
	addrs, err := r.LookupNetIP(ctx, network, host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	out := addrs[:0:0]
	for _, a := range addrs {
		a = a.Unmap()
		if network == IPv4 && !a.Is4() || network == IPv6 && !a.Is6() {
			continue
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("resolve %s: no %s address", host, network)
	}
	return out, nil
}

// HostsFile is a Resolver that answers from a file in /etc/hosts format
// ("address name [alias...]" per line, # comments) and passes names the file
// does not list to Next (nil: net.DefaultResolver). The file is read again
// when its modification time or size changes; a file that cannot be read
// answers nothing (every name goes to Next). It is safe for concurrent use.
type HostsFile struct {
	Path string
	Next Resolver

	mu    sync.Mutex
	stamp [2]int64 // modification time and size of the file read
	names map[string][]netip.Addr
}

// LookupNetIP implements Resolver.
func (h *HostsFile) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addrs := h.lookup(strings.ToLower(strings.TrimSuffix(host, ".")))
	var out []netip.Addr
	for _, a := range addrs {
		if network == IPv4 && !a.Is4() || network == IPv6 && !a.Is6() {
			continue
		}
		out = append(out, a)
	}
	if len(addrs) > 0 {
		if len(out) == 0 {
			return nil, &net.DNSError{Err: "no " + network + " address in " + h.Path, Name: host, IsNotFound: true}
		}
		return out, nil
	}
	next := h.Next
	if next == nil {
		next = net.DefaultResolver
	}
	return next.LookupNetIP(ctx, network, host)
}

func (h *HostsFile) lookup(host string) []netip.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	if fi, err := os.Stat(h.Path); err != nil {
		h.names, h.stamp = nil, [2]int64{}
	} else if st := [2]int64{fi.ModTime().UnixNano(), fi.Size()}; st != h.stamp {
		h.stamp, h.names = st, readHosts(h.Path)
	}
	return h.names[host]
}

// readHosts parses an /etc/hosts-style file; lines that do not parse are skipped.
func readHosts(path string) map[string][]netip.Addr {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	names := map[string][]netip.Addr{}
	for _, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		for _, n := range f[1:] {
			n = strings.ToLower(strings.TrimSuffix(n, "."))
			names[n] = append(names[n], a.Unmap())
		}
	}
	return names
}
