//go:build linux

package faults

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// dnsServer is a tiny authoritative DNS server over UDP: it answers A
// queries for the names in its table, AAAA queries with no answer, and
// nothing at all while silent.
type dnsServer struct {
	pc      net.PacketConn
	mu      sync.Mutex
	table   map[string]netip.Addr // lower-case FQDN → address
	silent  bool
	queries int
}

func (s *dnsServer) set(name string, a netip.Addr) {
	s.mu.Lock()
	s.table[strings.ToLower(name)+"."] = a
	s.mu.Unlock()
}

func (s *dnsServer) setSilent(v bool) {
	s.mu.Lock()
	s.silent = v
	s.mu.Unlock()
}

func (s *dnsServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		s.mu.Lock()
		s.queries++
		silent := s.silent
		a, ok := s.table[strings.ToLower(q.Name.String())]
		s.mu.Unlock()
		if silent {
			continue
		}
		rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
		if !ok {
			rh.RCode = dnsmessage.RCodeNameError
		}
		b := dnsmessage.NewBuilder(nil, rh)
		b.EnableCompression()
		_ = b.StartQuestions()
		_ = b.Question(q)
		_ = b.StartAnswers()
		if ok && q.Type == dnsmessage.TypeA {
			_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}, dnsmessage.AResource{A: a.As4()})
		}
		msg, err := b.Finish()
		if err == nil {
			_, _ = s.pc.WriteTo(msg, from)
		}
	}
}

// startDNS runs a dnsServer on 127.0.0.1:53 in the lab's probe namespace and
// points processes started there at it: `ip netns exec` (Lab.Start) bind
// mounts /etc/netns/<namespace>/resolv.conf over /etc/resolv.conf.
func startDNS(t *testing.T, l *lab.Lab) *dnsServer {
	t.Helper()
	s := &dnsServer{table: map[string]netip.Addr{}}
	if err := l.Do(func() error {
		var err error
		s.pc, err = net.ListenPacket("udp", "127.0.0.1:53")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	go s.serve()
	t.Cleanup(func() { s.pc.Close() })
	dir := filepath.Join("/etc/netns", l.Probe)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf := "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDNSFaults probes two host names served by a DNS server of the test.
// The server stops answering: the names keep their last address (still up,
// same ip label) and the failures are counted. It answers again with a new
// address for one name: the ip label follows, and the target's counters go
// on from where they were.
func TestDNSFaults(t *testing.T) {
	l := lab.New(t, lab.Options{})
	dns := startDNS(t, l)
	addrs := l.Addrs(3, false)
	dns.set("a.faults.test", addrs[0])
	dns.set("b.faults.test", addrs[1])
	cfg := writeConfig(t, "  datapath: icmp\n  dns_refresh: 1s\n", "",
		group{name: "dns", targets: []string{"a.faults.test", "b.faults.test"}})
	f := start(t, l, cfg)
	ipOf := func(mfs mfsT, target string) string {
		for _, m := range mfs["icmp_up"].GetMetric() {
			if lab.Label(m, "target") == target {
				return lab.Label(m, "ip")
			}
		}
		return ""
	}
	f.allUp(time.Minute, "dns", 2)
	if got := ipOf(f.metrics(), "a.faults.test"); got != addrs[0].String() {
		t.Fatalf("a.faults.test probes %q, want %s", got, addrs[0])
	}

	// The server goes silent.
	dns.setSilent(true)
	before := f.metrics()
	during := f.wait(time.Minute, "DNS failures counted", func(mfs mfsT) (bool, string) {
		e := sum(mfs, "icmp_dns_errors_total", "dns") - sum(before, "icmp_dns_errors_total", "dns")
		return e >= 4, fmt.Sprintf("%v new DNS errors", e)
	})
	for i, name := range []string{"a.faults.test", "b.faults.test"} {
		if got := ipOf(during, name); got != addrs[i].String() {
			t.Errorf("while DNS is silent %s probes %q, want its last address %s", name, got, addrs[i])
		}
	}
	if up := sum(during, "icmp_up", "dns"); up != 2 {
		t.Errorf("%v of 2 names up while DNS is silent (their addresses still answer)", up)
	}

	// It answers again, with a new address for a.
	dns.set("a.faults.test", addrs[2])
	dns.setSilent(false)
	sentBefore := sumTarget(f.metrics(), "icmp_probes_sent_total", "a.faults.test")
	repliesBefore := sumTarget(f.metrics(), "icmp_replies_total", "a.faults.test")
	f.wait(time.Minute, "a follows the new address", func(mfs mfsT) (bool, string) {
		got := ipOf(mfs, "a.faults.test")
		return got == addrs[2].String(), "a.faults.test probes " + got
	})
	after := f.wait(30*time.Second, "a answered at its new address", func(mfs mfsT) (bool, string) {
		r := sumTarget(mfs, "icmp_replies_total", "a.faults.test")
		return r > repliesBefore+5, fmt.Sprintf("replies %v, were %v", r, repliesBefore)
	})
	if s := sumTarget(after, "icmp_probes_sent_total", "a.faults.test"); s < sentBefore {
		t.Errorf("a.faults.test: sent went from %v to %v across the address change", sentBefore, s)
	}
	if n := countTarget(after, "icmp_probes_sent_total", "a.faults.test"); n != 1 {
		t.Errorf("a.faults.test has %d sent series after the change, want 1 (the ip label moves, the series is not duplicated)", n)
	}
	if got := ipOf(after, "b.faults.test"); got != addrs[1].String() {
		t.Errorf("b.faults.test probes %q, want %s", got, addrs[1])
	}
	if err := f.x.Exited(); err != nil {
		t.Fatal(err)
	}
	dns.mu.Lock()
	t.Logf("DNS queries served or dropped: %d; DNS errors counted: %v", dns.queries, sum(after, "icmp_dns_errors_total", "dns"))
	dns.mu.Unlock()
}

func sumTarget(mfs mfsT, name, target string) float64 {
	var v float64
	for _, m := range mfs[name].GetMetric() {
		if lab.Label(m, "target") == target {
			v += m.GetCounter().GetValue()
		}
	}
	return v
}

func countTarget(mfs mfsT, name, target string) int {
	n := 0
	for _, m := range mfs[name].GetMetric() {
		if lab.Label(m, "target") == target {
			n++
		}
	}
	return n
}
