package probe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// resolver resolves host-name targets at start and every DNSRefresh. On
// failure a target keeps its last address and counts the error.
func (e *Engine) resolver(ctx context.Context) {
	defer e.wg.Done()
	refresh := e.spec.Engine.DNSRefresh
	if refresh <= 0 {
		refresh = time.Minute
	}
	for {
		e.resolveAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(refresh):
		case <-e.resolveNow:
		}
	}
}

func (e *Engine) resolveAll(ctx context.Context) {
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
		ip, err := resolve(ctx, j.host, j.prot)
		if ctx.Err() != nil {
			return
		}
		e.mu.Lock()
		if err != nil {
			j.t.dnsErrors++
			e.log.Debug("resolve failed", "target", j.host, "err", err)
		} else {
			e.c.setIP(j.t, ip, e.mono(time.Now()))
		}
		e.mu.Unlock()
	}
	e.nudge()
}

func resolve(ctx context.Context, host, prot string) (netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	network := "ip"
	if prot != IPAny {
		network = prot
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, network, host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("resolve %s: no address", host)
	}
	return addrs[0].Unmap(), nil
}
