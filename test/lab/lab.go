//go:build linux

package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// NamePrefix starts the name of every namespace a Lab creates.
const NamePrefix = "icmplab-"

// Addresses of the veth pair between the probe and the target namespace.
var (
	ProbeAddr4  = netip.MustParseAddr("10.250.255.1")
	TargetAddr4 = netip.MustParseAddr("10.250.255.2")
	ProbeAddr6  = netip.MustParseAddr("fd00:250::1")
	TargetAddr6 = netip.MustParseAddr("fd00:250::2")
)

// MAC addresses of the veth pair (locally administered; every lab is its own
// link, so labs can share them).
const (
	probeMAC  = "02:1c:ab:00:00:01"
	targetMAC = "02:1c:ab:00:00:02"
)

// Default target prefixes: the target namespace answers for every address in them.
var (
	DefaultPrefix4 = netip.MustParsePrefix("10.210.0.0/16")
	DefaultPrefix6 = netip.MustParsePrefix("fd00:210::/64")
)

// Options configure New. The zero value is the default lab.
type Options struct {
	// Prefix4 and Prefix6 are the target prefixes; zero means DefaultPrefix4
	// and DefaultPrefix6. They must not overlap 10.250.255.0/30 or fd00:250::/64.
	Prefix4 netip.Prefix
	Prefix6 netip.Prefix
	// Link is the shape of the probe side's link (see Link*); empty means
	// LinkVeth.
	Link string
}

// Lab is a probe namespace and a target namespace joined by a veth pair.
// Its methods are safe for concurrent use; those that take no error return
// report failures with t.Fatal and so must be called from the test goroutine.
type Lab struct {
	t       testing.TB
	Probe   string // name of the probe namespace (as in `ip netns list`)
	Target  string // name of the target namespace
	Prefix4 netip.Prefix
	Prefix6 netip.Prefix
	// ProbeIf is the probe namespace's interface that holds its addresses
	// (ProbeAddr4/6, or OverlayProbe4/6 with LinkVXLAN) and its routes.
	ProbeIf string
	// Link is the shape of the probe side's link (Options.Link).
	Link string
	// Hop4 and Hop6 are the target namespace's addresses the probe
	// namespace routes through (TargetAddr4/6, or OverlayTarget4/6).
	Hop4, Hop6 netip.Addr
	probeMAC   string // MAC address of ProbeIf

	nftSeq atomic.Uint64 // nftables table counter

	mu    sync.Mutex
	procs []*exec.Cmd // started processes, killed in cleanup
}

// New builds a lab and registers its removal with t.Cleanup. It skips the
// test when not running as root and fails it when the lab cannot be built.
func New(t testing.TB, opts Options) *Lab {
	t.Helper()
	RequireRoot(t, "creating network namespaces (CAP_SYS_ADMIN, CAP_NET_ADMIN)")
	Tool(t, "ip")
	Tool(t, "nft")
	if err := opts.normalize(); err != nil {
		t.Fatal(err)
	}
	l := newLab(newBase(t), opts)
	l.t = t
	if err := l.checkLink(); err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(l.cleanup)
	if err := l.setup(); err != nil {
		t.Fatalf("lab: %v", err)
	}
	return l
}

// newBase removes stale namespaces and returns the name prefix of a new
// lab's namespaces: NamePrefix, this process's id (removeStale) and a
// random part.
func newBase(t testing.TB) string {
	t.Helper()
	removeStale(t)
	id, err := processID()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatalf("lab: random name: %v", err)
	}
	return NamePrefix + id + "-" + hex.EncodeToString(rnd[:])
}

// setup creates namespaces, veth pair, addresses, routes and sysctls.
// newLab is a lab named base+"-p" and base+"-t" for normalized opts, not
// built yet.
func newLab(base string, opts Options) *Lab {
	return &Lab{
		Probe:   base + "-p",
		Target:  base + "-t",
		Prefix4: opts.Prefix4.Masked(),
		Prefix6: opts.Prefix6.Masked(),
		ProbeIf: "veth0",
		Link:    opts.Link,
		Hop4:    TargetAddr4,
		Hop6:    TargetAddr6,
	}
}

func (l *Lab) setup() error {
	p, tg := l.Probe, l.Target
	cmds := [][]string{
		{"netns", "add", p},
		{"netns", "add", tg},
		{"-n", p, "link", "add", "veth0", "address", probeMAC, "type", "veth", "peer", "name", "veth0", "address", targetMAC, "netns", tg},
		{"-n", p, "link", "set", "lo", "up"},
		{"-n", tg, "link", "set", "lo", "up"},
		{"-n", p, "link", "set", "veth0", "up"},
		{"-n", tg, "link", "set", "veth0", "up"},
	}
	cmds = append(cmds, l.linkCommands()...)
	cmds = append(cmds, [][]string{
		{"-n", tg, "route", "add", "local", l.Prefix4.String(), "dev", "lo"},
		{"-n", tg, "-6", "route", "add", "local", l.Prefix6.String(), "dev", "lo"},
		{"-n", p, "route", "add", l.Prefix4.String(), "via", l.Hop4.String(), "dev", l.ProbeIf},
		{"-n", p, "-6", "route", "add", l.Prefix6.String(), "via", l.Hop6.String(), "dev", l.ProbeIf},
	}...)
	for _, args := range cmds {
		if err := run("ip", args...); err != nil {
			return err
		}
	}
	if err := l.sysctls(p, map[string]string{
		"net/ipv4/ping_group_range": "0 2147483647",
	}); err != nil {
		return err
	}
	return l.sysctls(tg, map[string]string{
		"net/ipv4/icmp_ratelimit":       "0",
		"net/ipv4/icmp_msgs_per_sec":    "10000000",
		"net/ipv4/icmp_msgs_burst":      "10000000",
		"net/ipv6/icmp/ratelimit":       "0",
		"net/ipv4/icmp_echo_ignore_all": "0",
	})
}

// sysctls writes /proc/sys entries from inside namespace ns (net sysctls
// belong to the network namespace of the writing thread).
func (l *Lab) sysctls(ns string, kv map[string]string) error {
	return doIn(nsPath(ns), func() error {
		for k, v := range kv {
			if err := os.WriteFile(filepath.Join("/proc/sys", k), []byte(v), 0); err != nil {
				return fmt.Errorf("sysctl %s=%q in %s: %w", strings.ReplaceAll(k, "/", "."), v, ns, err)
			}
		}
		return nil
	})
}

// cleanup kills the processes and deletes both namespaces (which removes
// the veth pair and the nftables tables with them).
func (l *Lab) cleanup() {
	l.mu.Lock()
	procs := l.procs
	l.procs = nil
	l.mu.Unlock()
	for _, c := range procs {
		killGroup(c)
	}
	for _, ns := range []string{l.Probe, l.Target} {
		if _, err := os.Stat(nsPath(ns)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := run("ip", "netns", "delete", ns); err != nil {
			l.t.Errorf("lab cleanup: %v", err)
		}
	}
}

// Do runs f on an OS thread that is in the probe namespace and returns its
// error. Sockets f opens stay in the probe namespace after Do returns: this is
// how an in-process probe.Engine runs in the lab (call probe.New inside f).
// Goroutines f starts run on other threads, in the test's own namespace, so f
// must open every socket itself. f runs on a goroutine of its own: it must not
// call t.FailNow (or t.Fatal); a panic in f is re-raised in the caller.
func (l *Lab) Do(f func() error) error {
	return doIn(nsPath(l.Probe), f)
}

// DoTarget is like Do, with the thread in the target namespace.
func (l *Lab) DoTarget(f func() error) error {
	return doIn(nsPath(l.Target), f)
}

type panicked struct{ v any }

func doIn(path string, f func() error) error {
	done := make(chan error, 1)
	var pv *panicked
	go func() {
		// The thread stays locked if it cannot be returned to its own
		// namespace: the runtime then ends it when this goroutine exits,
		// instead of reusing a thread that is in the wrong namespace.
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("open own network namespace: %w", err)
			return
		}
		defer self.Close()
		ns, err := os.Open(path)
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("open network namespace: %w", err)
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("enter network namespace %s: %w", path, err)
			return
		}
		var ferr error
		func() {
			defer func() {
				if v := recover(); v != nil {
					pv = &panicked{v}
				}
			}()
			ferr = f()
		}()
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- errors.Join(ferr, fmt.Errorf("return from network namespace %s: %w", path, err))
			return
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	err := <-done
	if pv != nil {
		panic(pv.v)
	}
	return err
}

// Exec returns a command that runs name with args in the probe namespace
// (through `ip netns exec`). When started, it runs in its own process group,
// gets SIGKILL if the test process dies, and is killed (with its children) in
// the lab's cleanup if still running.
func (l *Lab) Exec(ctx context.Context, name string, args ...string) *exec.Cmd {
	return l.exec(ctx, l.Probe, name, args...)
}

// ExecTarget is like Exec, in the target namespace.
func (l *Lab) ExecTarget(ctx context.Context, name string, args ...string) *exec.Cmd {
	return l.exec(ctx, l.Target, name, args...)
}

func (l *Lab) exec(ctx context.Context, ns, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 5 * time.Second
	l.mu.Lock()
	l.procs = append(l.procs, c)
	l.mu.Unlock()
	return c
}

// Proc is a process started by Lab.Start.
type Proc struct {
	Cmd  *exec.Cmd
	out  *SyncBuffer
	done chan struct{}
	err  error
}

// Output returns what the process wrote to stdout and stderr so far.
func (p *Proc) Output() string { return p.out.String() }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the result of Wait; valid after Done is closed.
func (p *Proc) Err() error { <-p.done; return p.err }

// Stop sends SIGTERM, waits up to grace for the exit, then kills the process
// group; it returns the Wait result.
func (p *Proc) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		killGroup(p.Cmd)
		<-p.done
	}
	return p.err
}

// Start runs name with args in the probe namespace, collecting its combined
// output (logged when the test fails). The process is stopped in cleanup.
func (l *Lab) Start(ctx context.Context, name string, args ...string) *Proc {
	l.t.Helper()
	c := l.Exec(ctx, name, args...)
	p := &Proc{Cmd: c, out: &SyncBuffer{}, done: make(chan struct{})}
	c.Stdout, c.Stderr = p.out, p.out
	// A Go program prints every goroutine's stack on SIGQUIT: when the
	// test failed, the output then shows where a hung process hung.
	c.Env = append(os.Environ(), "GOTRACEBACK=all")
	t := l.t
	kill := c.Cancel
	c.Cancel = func() error {
		if t.Failed() {
			quitForStacks(c)
		}
		return kill()
	}
	if err := c.Start(); err != nil {
		l.t.Fatalf("lab: start %s: %v", name, err)
	}
	go func() { p.err = c.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if t.Failed() {
			select {
			case <-p.done:
			default:
				quitForStacks(c)
			}
		}
		_ = p.Stop(5 * time.Second)
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, p.Output())
		}
	})
	return p
}

// HTTPClient returns a client whose connections are dialled from inside the
// probe namespace, e.g. to scrape an exporter listening on 127.0.0.1 there.
// It uses no proxy and does not follow host names other than IP literals and
// localhost.
func (l *Lab) HTTPClient() *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := l.Do(func() error {
				var err error
				c, err = d.DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	l.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// Addrs returns n target addresses from the IPv4 (or, with v6, IPv6) target
// prefix, in order, starting at the first address after the prefix's own.
// It fails the test when the prefix has fewer than n usable addresses.
func (l *Lab) Addrs(n int, v6 bool) []netip.Addr {
	l.t.Helper()
	p := l.Prefix4
	if v6 {
		p = l.Prefix6
	}
	if bits := p.Addr().BitLen() - p.Bits(); bits < 31 && n > 1<<bits-2 {
		l.t.Fatalf("lab: %d addresses wanted, %s has %d", n, p, 1<<bits-2)
	}
	out := make([]netip.Addr, 0, n)
	a := p.Addr()
	for range n {
		a = a.Next()
		out = append(out, a)
	}
	return out
}

// nsPath is where `ip netns` keeps the bind mount of a named namespace.
func nsPath(name string) string { return filepath.Join("/run/netns", name) }

// run runs a command and returns an error with its output when it fails.
func run(name string, args ...string) error {
	return runInput(nil, name, args...)
}

func runInput(stdin []byte, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		c.Stdin = bytes.NewReader(stdin)
	}
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// quitForStacks sends SIGQUIT to c's process (not its group) and gives it
// up to two seconds to print its stacks and exit.
func quitForStacks(c *exec.Cmd) {
	if c.Process == nil || syscall.Kill(c.Process.Pid, syscall.SIGQUIT) != nil {
		return
	}
	for range 20 {
		time.Sleep(100 * time.Millisecond)
		if exited(c.Process.Pid) {
			return
		}
	}
}

// exited reports whether process pid is gone or a zombie.
func exited(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z'
}

func killGroup(c *exec.Cmd) {
	if c.Process == nil {
		return
	}
	_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
}

// processID identifies this process across PID reuse: "PID.STARTTIME".
func processID() (string, error) {
	pid := os.Getpid()
	st, err := startTime(pid)
	if err != nil {
		return "", err
	}
	return strconv.Itoa(pid) + "." + st, nil
}

// startTime returns field 22 of /proc/PID/stat (start time in clock ticks).
func startTime(pid int) (string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", fmt.Errorf("read process start time: %w", err)
	}
	// The command name (field 2) is in parentheses and may contain spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", fmt.Errorf("parse /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return "", fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return f[19], nil
}

// removeStale deletes namespaces named by a Lab of a process that no longer
// exists (a crashed test binary). Labs of live processes are left alone.
func removeStale(t testing.TB) {
	ents, err := os.ReadDir("/run/netns")
	if err != nil {
		return // no namespaces at all
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, NamePrefix) || alive(strings.TrimPrefix(name, NamePrefix)) {
			continue
		}
		if err := run("ip", "netns", "delete", name); err != nil {
			t.Logf("lab: remove stale namespace: %v", err)
		} else {
			t.Logf("lab: removed stale namespace %s", name)
		}
	}
}

// alive reports whether the process "PID.STARTTIME-..." still runs.
func alive(rest string) bool {
	id, _, _ := strings.Cut(rest, "-")
	pidS, st, ok := strings.Cut(id, ".")
	pid, err := strconv.Atoi(pidS)
	if !ok || err != nil {
		return true // not ours to judge: leave it
	}
	cur, err := startTime(pid)
	return err == nil && cur == st
}
