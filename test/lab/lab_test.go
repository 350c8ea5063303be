//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// ping runs `ping -c1` from the probe namespace and reports whether a reply came.
func ping(t *testing.T, l *Lab, a netip.Addr) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := []string{"-n", "-c1", "-W2", a.String()}
	if a.Is6() {
		args = append([]string{"-6"}, args...)
	}
	out, err := l.Exec(ctx, "ping", args...).CombinedOutput()
	if err != nil {
		// iputils ping exits 1 when no reply came, 2 on other errors.
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("ping %s: %v: %s", a, err, out)
		}
		return false
	}
	return true
}

func nsExists(name string) bool {
	_, err := os.Stat(nsPath(name))
	return err == nil
}

func TestLabTopology(t *testing.T) {
	l := New(t, Options{})
	for _, ns := range []string{l.Probe, l.Target} {
		if !nsExists(ns) || !strings.HasPrefix(ns, NamePrefix) {
			t.Fatalf("namespace %s: not created or wrong prefix", ns)
		}
	}
	v4, v6 := l.Addrs(300, false), l.Addrs(300, true)
	tests := []struct {
		name string
		addr netip.Addr
		want bool
	}{
		{"first v4 target", v4[0], true},
		{"300th v4 target", v4[299], true},
		{"last address of the v4 prefix", netip.MustParseAddr("10.210.255.254"), true},
		{"first v6 target", v6[0], true},
		{"300th v6 target", v6[299], true},
		{"target side of the veth", TargetAddr4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ping(t, l, tt.addr); got != tt.want {
				t.Errorf("ping %s from probe ns: reply %v, want %v", tt.addr, got, tt.want)
			}
		})
	}

	// Outside the prefixes nothing is routed: ask the kernel without sending.
	t.Run("no route outside the prefixes", func(t *testing.T) {
		for _, a := range []string{"10.99.0.1", "192.0.2.1", "8.8.8.8", "2001:db8::1"} {
			out, err := exec.Command("ip", "-n", l.Probe, "route", "get", a).CombinedOutput()
			if err == nil || !strings.Contains(string(out), "unreachable") {
				t.Errorf("route get %s in probe ns: err %v, output %q; want network unreachable", a, err, out)
			}
		}
		out, err := exec.Command("ip", "-n", l.Probe, "route", "show", "default").CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) != 0 {
			t.Errorf("probe ns has a default route or ip failed: %v %q", err, out)
		}
	})
	t.Run("sysctls", func(t *testing.T) {
		tests := []struct{ ns, key, want string }{
			{l.Probe, "net/ipv4/ping_group_range", "0\t2147483647"},
			{l.Target, "net/ipv4/icmp_ratelimit", "0"},
			{l.Target, "net/ipv4/icmp_msgs_per_sec", "10000000"},
			{l.Target, "net/ipv6/icmp/ratelimit", "0"},
		}
		for _, tt := range tests {
			var got []byte
			err := doIn(nsPath(tt.ns), func() error {
				var err error
				got, err = os.ReadFile("/proc/sys/" + tt.key)
				return err
			})
			if err != nil || strings.TrimSpace(string(got)) != tt.want {
				t.Errorf("%s in %s = %q (err %v), want %q", tt.key, tt.ns, got, err, tt.want)
			}
		}
	})
}

func TestDoPingSocket(t *testing.T) {
	l := New(t, Options{})
	own, err := os.Stat("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	probe, err := os.Stat(nsPath(l.Probe))
	if err != nil {
		t.Fatal(err)
	}
	var c *icmp.PacketConn
	err = l.Do(func() error {
		in, err := os.Stat("/proc/thread-self/ns/net")
		if err != nil {
			return err
		}
		if !os.SameFile(in, probe) || os.SameFile(in, own) {
			return fmt.Errorf("thread in Do is not in the probe namespace")
		}
		// A ping socket: works only with the widened ping_group_range.
		c, err = icmp.ListenPacket("udp4", "0.0.0.0")
		return err
	})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	defer c.Close()

	dst := l.Addrs(42, false)[41]
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: 1, Seq: 7, Data: []byte("icmplab")}}
	b, err := msg.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteTo(b, &net.UDPAddr{IP: dst.AsSlice()}); err != nil {
		t.Fatalf("send echo to %s from probe ns socket: %v", dst, err)
	}
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("read echo reply: %v", err)
	}
	rm, err := icmp.ParseMessage(1, buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	echo, ok := rm.Body.(*icmp.Echo)
	if rm.Type != ipv4.ICMPTypeEchoReply || !ok || echo.Seq != 7 || string(echo.Data) != "icmplab" {
		t.Errorf("reply %+v from %v, want echo reply seq 7", rm, from)
	}
	if got := from.(*net.UDPAddr).IP.String(); got != dst.String() {
		t.Errorf("reply from %s, want %s", got, dst)
	}

	// The caller's thread never left its namespace.
	after, err := os.Stat("/proc/thread-self/ns/net")
	if err != nil || !os.SameFile(after, own) {
		t.Errorf("test goroutine's namespace changed: %v", err)
	}
	// Errors and panics of f reach the caller.
	if err := l.Do(func() error { return io.EOF }); err != io.EOF {
		t.Errorf("Do error = %v, want io.EOF", err)
	}
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("recovered %v, want boom", v)
			}
		}()
		_ = l.Do(func() error { panic("boom") })
	}()
}

func TestDrop(t *testing.T) {
	l := New(t, Options{})
	addrs := l.Addrs(4, false)
	v6 := l.Addrs(2, true)
	dropped := []netip.Addr{addrs[1], addrs[2], v6[1]}
	for _, a := range append(addrs, v6...) {
		if !ping(t, l, a) {
			t.Fatalf("%s unreachable before the drop", a)
		}
	}
	r := l.AddDrop(dropped)
	tests := []struct {
		addr netip.Addr
		want bool
	}{
		{addrs[0], true}, {addrs[1], false}, {addrs[2], false}, {addrs[3], true},
		{v6[0], true}, {v6[1], false},
	}
	for _, tt := range tests {
		t.Run("during "+tt.addr.String(), func(t *testing.T) {
			if got := ping(t, l, tt.addr); got != tt.want {
				t.Errorf("ping %s during drop: reply %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
	w := r.Remove()
	if w2 := r.Remove(); w2 != w {
		t.Errorf("second Remove returned %+v, want %+v", w2, w)
	}
	for _, tt := range tests {
		if !ping(t, l, tt.addr) {
			t.Errorf("ping %s after undo: no reply", tt.addr)
		}
	}
	if !(w.Inserted.Before(w.InsertedBy) && !w.InsertedBy.After(w.Deleted) && w.Deleted.Before(w.DeletedBy)) {
		t.Errorf("window times out of order: %+v", w)
	}

	undo := l.Drop(addrs[:1])
	if ping(t, l, addrs[0]) {
		t.Errorf("ping %s after Drop: reply, want none", addrs[0])
	}
	undo()
	if !ping(t, l, addrs[0]) {
		t.Errorf("ping %s after undo: no reply", addrs[0])
	}

	w = l.DropWindow(addrs[:1], 100*time.Millisecond)
	if d := w.Deleted.Sub(w.InsertedBy); d < 100*time.Millisecond {
		t.Errorf("DropWindow held the rule %s, want >= 100ms", d)
	}
}

func TestCleanupAndStale(t *testing.T) {
	RequireRoot(t, "creating network namespaces")
	// A namespace of a dead process (our PID with a wrong start time) and
	// one of a live process (PID 1) with the lab prefix.
	st1, err := startTime(1)
	if err != nil {
		t.Fatal(err)
	}
	dead := NamePrefix + strconv.Itoa(os.Getpid()) + ".0-deadbeef-p"
	live := NamePrefix + "1." + st1 + "-cafe" + strconv.Itoa(os.Getpid()) + "-p"
	for _, n := range []string{dead, live} {
		if err := run("ip", "netns", "add", n); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if nsExists(n) {
				_ = run("ip", "netns", "delete", n)
			}
		})
	}

	var probe, target string
	var pid int
	t.Run("lab", func(t *testing.T) {
		l := New(t, Options{})
		probe, target = l.Probe, l.Target
		p := l.Start(context.Background(), "sleep", "300")
		pid = p.Cmd.Process.Pid
		l.Drop(l.Addrs(1, false))
	})
	if nsExists(dead) {
		t.Errorf("stale namespace %s of a dead process survived New", dead)
	}
	if !nsExists(live) {
		t.Errorf("namespace %s of a live process was removed", live)
	}
	if nsExists(probe) || nsExists(target) {
		t.Errorf("lab namespaces %s, %s still exist after the test", probe, target)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("process %d started in the lab still runs after the test", pid)
	}
}

func TestHTTPClient(t *testing.T) {
	l := New(t, Options{})
	var ln net.Listener
	if err := l.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "from the probe ns")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	resp, err := l.HTTPClient().Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatalf("GET from probe ns: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "from the probe ns" {
		t.Errorf("body %q", b)
	}
}

func TestAddrs(t *testing.T) {
	l := &Lab{t: t, Prefix4: DefaultPrefix4, Prefix6: DefaultPrefix6}
	tests := []struct {
		name string
		n    int
		v6   bool
		want []string
	}{
		{"v4", 3, false, []string{"10.210.0.1", "10.210.0.2", "10.210.0.3"}},
		{"v6", 2, true, []string{"fd00:210::1", "fd00:210::2"}},
		{"none", 0, false, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := l.Addrs(tt.n, tt.v6)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i].String() != tt.want[i] {
					t.Errorf("addr %d = %s, want %s", i, got[i], tt.want[i])
				}
			}
		})
	}
	big := l.Addrs(65534, false)
	if last := big[len(big)-1]; last.String() != "10.210.255.254" || !l.Prefix4.Contains(last) {
		t.Errorf("last of 65534 = %s", last)
	}
}

func TestDropScript(t *testing.T) {
	got := string(dropScript("tbl", []netip.Addr{
		netip.MustParseAddr("10.210.0.1"), netip.MustParseAddr("::ffff:10.210.0.2"), netip.MustParseAddr("fd00:210::5"),
	}))
	for _, want := range []string{
		"table inet tbl {",
		"elements = { 10.210.0.1, 10.210.0.2 }",
		"elements = { fd00:210::5 }",
		"hook prerouting priority raw",
		"ip daddr @v4 icmp type echo-request drop",
		"ip6 daddr @v6 icmpv6 type echo-request drop",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("script lacks %q:\n%s", want, got)
		}
	}
	if empty := string(dropScript("e", nil)); strings.Contains(empty, "elements") {
		t.Errorf("empty sets must not list elements:\n%s", empty)
	}
}
