//go:build linux

package shard_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/internal/shard"
	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// TestThreeInstances runs three exporter processes with --shard=0/3, 1/3
// and 2/3 on one configuration in a lab's probe namespace (whose only routes
// lead to the lab's target namespace) and checks from their /metrics that
// every target is probed, and answered, by exactly the instance that owns it.
func TestThreeInstances(t *testing.T) {
	l := lab.New(t, lab.Options{})
	bin := lab.BuildExporter(t)

	v4 := l.Addrs(200, false)
	v6 := l.Addrs(40, true)
	cfgFile := lab.WriteConfig(t, lab.ExporterConfig{
		Source:   "shard-test",
		Datapath: "auto",
		Defaults: lab.ConfigSettings{Interval: 500 * time.Millisecond, Timeout: 400 * time.Millisecond},
		Groups:   []lab.ConfigGroup{{Name: "v4", Targets: v4}, {Name: "v6", Targets: v6}},
	})
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := cfg.Spec()
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Targets) != len(v4)+len(v6) {
		t.Fatalf("config expands to %d targets, want %d", len(spec.Targets), len(v4)+len(v6))
	}

	const n = 3
	ctx := t.Context()
	exps := make([]*lab.Exporter, n)
	for i := range n {
		exps[i] = l.StartExporter(ctx, lab.ExporterOptions{
			Binary: bin,
			Config: cfgFile,
			Listen: fmt.Sprintf("127.0.0.1:%d", 20427+i),
			Args:   []string{fmt.Sprintf("--shard=%d/%d", i, n)},
		})
	}

	// want[target] = owning instance, computed as the exporter must.
	want := map[string]int{}
	for i := range n {
		part := shard.Shard{Index: i, Count: n}.Filter(spec)
		if len(part.Targets) == 0 {
			t.Fatalf("shard %d/%d owns no target of %d", i, n, len(spec.Targets))
		}
		for j := range part.Targets {
			want[part.Targets[j].Group+"/"+part.Targets[j].Name] = i
		}
	}

	var seen map[string]int
	lab.WaitFor(t, 90*time.Second, time.Second, "every target probed and answered by its own instance", func() (bool, string) {
		var problem string
		seen, problem = scrapeAll(ctx, t, exps, want)
		return problem == "", problem
	})
	t.Logf("%d targets, each sent to and answered by exactly its own instance of %d", len(seen), n)
}

// scrapeAll scrapes every instance and returns a description of the first
// thing that is not (yet) as it should be, or "".
func scrapeAll(ctx context.Context, t *testing.T, exps []*lab.Exporter, want map[string]int) (map[string]int, string) {
	t.Helper()
	seen := map[string]int{} // target -> instance whose /metrics lists it
	for i, x := range exps {
		if err := x.Exited(); err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		mfs, err := x.Metrics(ctx)
		if err != nil {
			return nil, fmt.Sprintf("instance %d: %v", i, err)
		}
		info := mfs["icmp_exporter_shard_info"]
		if info == nil || len(info.GetMetric()) != 1 ||
			lab.Label(info.GetMetric()[0], "shard") != fmt.Sprint(i) || lab.Label(info.GetMetric()[0], "shards") != fmt.Sprint(len(exps)) {
			t.Fatalf("instance %d: icmp_exporter_shard_info = %v, want shard=%d shards=%d", i, info, i, len(exps))
		}
		sent := values(mfs["icmp_probes_sent_total"])
		replies := values(mfs["icmp_replies_total"])
		for k, v := range sent {
			owner, ok := want[k]
			if !ok {
				t.Fatalf("instance %d reports unknown target %s", i, k)
			}
			if owner != i {
				t.Fatalf("instance %d probes %s, owned by instance %d", i, k, owner)
			}
			if prev, dup := seen[k]; dup {
				t.Fatalf("target %s reported by instances %d and %d", k, prev, i)
			}
			seen[k] = i
			if v == 0 || replies[k] == 0 {
				return nil, fmt.Sprintf("instance %d: target %s sent %v, replies %v", i, k, v, replies[k])
			}
		}
	}
	if len(seen) != len(want) {
		return nil, fmt.Sprintf("%d of %d targets reported", len(seen), len(want))
	}
	return seen, ""
}

// values maps group/target to the counter's value.
func values(mf *dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, m := range mf.GetMetric() {
		out[lab.Label(m, "group")+"/"+lab.Label(m, "target")] = m.GetCounter().GetValue()
	}
	return out
}
