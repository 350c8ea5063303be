package discovery

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/internal/shard"
	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/icmp-exporter/icmp_exporter/probe/probetest"
)

// timedEngine applies to a real engine and records how long Apply took and
// how much of it was the Spec check that Apply does before it takes the
// engine lock (so Apply minus that check is the engine's own part).
type timedEngine struct {
	e       *probe.Engine
	mu      sync.Mutex
	applies []applyTiming
	applied chan struct{}
}

// applyTiming is one Apply: wall times, and CPU times of the applying
// thread (threadCPU).
type applyTiming struct{ apply, validate, applyCPU, validateCPU time.Duration }

func (t *timedEngine) Apply(s probe.Spec) error {
	var a applyTiming
	var err error
	a.validateCPU = threadCPU(func() {
		v0 := time.Now()
		err = s.Validate()
		a.validate = time.Since(v0)
	})
	if err != nil {
		return err
	}
	a.applyCPU = threadCPU(func() {
		a0 := time.Now()
		err = t.e.Apply(s) // validates again, then diffs under the engine lock
		a.apply = time.Since(a0)
	})
	t.mu.Lock()
	t.applies = append(t.applies, a)
	t.mu.Unlock()
	select {
	case t.applied <- struct{}{}:
	default:
	}
	return err
}

// sdFile writes n targets (index i → address addr(i)) as a file_sd file of
// groups of 1000 with a rack label.
func sdFile(b testing.TB, path string, idx []int) {
	type group struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	var groups []group
	for start := 0; start < len(idx); start += 1000 {
		g := group{Labels: map[string]string{"rack": fmt.Sprintf("r%d", start/1000), "__meta_dc": "ams"}}
		for _, i := range idx[start:min(start+1000, len(idx))] {
			g.Targets = append(g.Targets, benchAddr(i).String())
		}
		groups = append(groups, g)
	}
	data, err := json.Marshal(groups)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path+".tmp", data, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		b.Fatal(err)
	}
}

// benchAddr is a documentation-range-free synthetic address: the probes
// go to the in-memory network of probetest, never to a socket.
func benchAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

// BenchmarkUpdate100k applies discovery updates of a 100k-target file_sd
// source in which 1% changed (500 targets removed, 500 added) to a running
// engine (in-memory network, every target probed every 10s). It reports the
// time from the file rewrite to the applied Spec (update_ms), the engine's
// Apply (apply_ms; apply_cpu_ms: Apply minus its Spec check in CPU time of
// the applying thread, which a loaded machine does not inflate), its part
// under the engine lock (lockhold_ms, as the engine measures it:
// EngineStats.ApplyLockHold),
// the engine's largest schedule lag before the first update
// (schedlag_before_ms, what the machine does without updates), the engine's largest schedule
// lag during the run (schedlag_ms), and the heap added per target by
// loading the 100k discovered targets (bytes/target: the manager's target
// groups and TargetSpecs, the combined Spec and the engine's per-target
// state). It fails when a kept target loses its counters.
func BenchmarkUpdate100k(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	sd := filepath.Join(dir, "targets.json")
	cur := make([]int, n)
	for i := range cur {
		cur[i] = i
	}
	sdFile(b, sd, cur)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(`
groups:
  - name: inv
    interval: 10s
    timeout: 1s
    file_sd_configs: [{files: [targets.json], refresh_interval: 1h}]
    relabel_configs:
      - source_labels: [__meta_dc]
        target_label: dc
`), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		b.Fatal(err)
	}
	static, _ := cfg.Spec()
	eng, err := probe.New(static, probe.Options{Datapath: &probetest.Network{}})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	te := &timedEngine{e: eng, applied: make(chan struct{}, 1)}

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := New(Options{Engine: te, Shard: shard.Shard{}})
	defer m.Close()
	if err := m.Load(cfg, static); err != nil {
		b.Fatal(err)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	perTarget := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n

	// Probe for a while so every target has counters.
	time.Sleep(11 * time.Second)
	snap := eng.Snapshot(nil)
	if len(snap.Targets) != n {
		b.Fatalf("engine probes %d targets, want %d", len(snap.Targets), n)
	}
	sent := map[string]uint64{}
	for _, t := range snap.Targets {
		sent[t.Spec.Name] = t.Sent
	}
	baseLag := snap.Engine.MaxScheduleLag // the machine's own, before any update

	next := n
	var update, lockHold time.Duration
	b.ResetTimer()
	b.ReportAllocs()
	for i := range b.N {
		// 1%: drop 500 targets, add 500 new ones.
		cur = slices.Delete(cur, (i*500)%len(cur), (i*500)%len(cur)+500)
		for range 500 {
			cur = append(cur, next)
			next++
		}
		te.mu.Lock()
		te.applies = te.applies[:0]
		te.mu.Unlock()
		select {
		case <-te.applied:
		default:
		}
		t0 := time.Now()
		sdFile(b, sd, cur)
		select {
		case <-te.applied:
		case <-time.After(time.Minute):
			b.Fatal("update not applied within a minute")
		}
		update += time.Since(t0)
		b.StopTimer()
		snap = eng.Snapshot(snap)
		lockHold = max(lockHold, snap.Engine.ApplyLockHold)
		b.StartTimer()
	}
	b.StopTimer()
	te.mu.Lock()
	var apply, applyCPU time.Duration
	for _, a := range te.applies {
		apply = max(apply, a.apply)
		applyCPU = max(applyCPU, a.applyCPU-a.validateCPU)
	}
	te.mu.Unlock()
	snap = eng.Snapshot(snap)
	kept, reset := 0, 0
	for _, t := range snap.Targets {
		if s, ok := sent[t.Spec.Name]; ok {
			kept++
			if t.Sent < s {
				reset++
			}
		}
	}
	if reset > 0 || kept == 0 {
		b.Fatalf("%d of %d kept targets lost their counters", reset, kept)
	}
	b.ReportMetric(float64(update.Milliseconds())/float64(b.N), "update_ms")
	b.ReportMetric(float64(apply.Microseconds())/1000, "apply_ms")
	b.ReportMetric(float64(applyCPU.Microseconds())/1000, "apply_cpu_ms")
	b.ReportMetric(float64(lockHold.Microseconds())/1000, "lockhold_ms")
	b.ReportMetric(float64(snap.Engine.MaxScheduleLag.Microseconds())/1000, "schedlag_ms")
	b.ReportMetric(float64(baseLag.Microseconds())/1000, "schedlag_before_ms")
	b.ReportMetric(perTarget, "bytes/target")
}

// BenchmarkProcess100k is the discovery side of an update alone, in CPU
// time of the working thread per 100k-target source: reading and parsing
// the file, relabelling and checking into TargetSpecs, building the
// combined Spec, and the Spec check Engine.Apply does before its lock.
func BenchmarkProcess100k(b *testing.B) {
	dir := b.TempDir()
	idx := make([]int, 100_000)
	for i := range idx {
		idx[i] = i
	}
	sd := filepath.Join(dir, "targets.json")
	sdFile(b, sd, idx)
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(`
groups:
  - name: inv
    file_sd_configs: [{files: [targets.json]}]
    relabel_configs:
      - source_labels: [__meta_dc]
        target_label: dc
`), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	g := &cfg.DiscoveryGroups()[0]
	m := New(Options{Engine: &fakeEngine{}})
	defer m.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tgs, err := readTargetFile(sd)
	if err != nil {
		b.Fatal(err)
	}
	s := &source{group: "inv", raw: tgs, logged: map[string]string{}, cancel: func() {}, done: make(chan struct{})}
	close(s.done) // not running: Close has nothing to wait for
	m.mu.Lock()
	m.process(s, g)
	m.mu.Unlock()
	runtime.GC()
	runtime.ReadMemStats(&after)
	// What a source keeps per target: its target groups and TargetSpecs.
	kept := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(len(idx))
	b.ReportAllocs()
	b.ResetTimer()
	m.mu.Lock()
	m.sources = []*source{s}
	m.groups = map[string]*config.DiscoveryGroup{"inv": g}
	m.mu.Unlock()
	var parse, cpu, combine, validate time.Duration
	for range b.N {
		parse += threadCPU(func() {
			if _, err := readTargetFile(sd); err != nil {
				b.Fatal(err)
			}
		})
		s.targets = nil
		m.mu.Lock()
		cpu += threadCPU(func() { m.process(s, g) })
		var spec probe.Spec
		combine += threadCPU(func() { spec = m.combine() })
		m.mu.Unlock()
		validate += threadCPU(func() {
			if err := spec.Validate(); err != nil {
				b.Fatal(err)
			}
		})
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(per(parse), "parse_cpu_ms")
	b.ReportMetric(per(cpu), "relabel_cpu_ms")
	b.ReportMetric(per(combine), "combine_cpu_ms")
	b.ReportMetric(per(validate), "validate_cpu_ms")
	b.ReportMetric(kept, "kept_bytes/target")
	if len(s.targets) != 100_000 {
		b.Fatalf("%d targets", len(s.targets))
	}
}
