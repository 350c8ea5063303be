package shard_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/internal/lab"
	"github.com/icmp-exporter/icmp_exporter/internal/shard"
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
	var b strings.Builder
	fmt.Fprintf(&b, "source:\n  name: shard-test\nengine:\n  datapath: auto\ndefaults:\n  interval: 500ms\n  timeout: 400ms\ngroups:\n")
	fmt.Fprintf(&b, "  - name: v4\n    targets:\n")
	for _, a := range v4 {
		fmt.Fprintf(&b, "      - %q\n", a.String())
	}
	fmt.Fprintf(&b, "  - name: v6\n    targets:\n")
	for _, a := range v6 {
		fmt.Fprintf(&b, "      - %q\n", a.String())
	}
	cfgFile := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(cfgFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
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
	addrs := make([]string, n)
	procs := make([]*lab.Proc, n)
	for i := range n {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", 20427+i)
		procs[i] = l.Start(ctx, bin,
			"--config.file="+cfgFile,
			fmt.Sprintf("--shard=%d/%d", i, n),
			"--web.listen-address="+addrs[i],
		)
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

	client := l.HTTPClient()
	deadline := time.Now().Add(90 * time.Second)
	var last string
	for {
		seen, problem := scrapeAll(ctx, t, client, addrs, procs, want)
		if problem == "" {
			t.Logf("%d targets, each sent to and answered by exactly its own instance of %d", len(seen), n)
			return
		}
		last = problem
		if time.Now().After(deadline) {
			t.Fatalf("after 90s: %s", last)
		}
		time.Sleep(time.Second)
	}
}

// scrapeAll scrapes every instance and returns a description of the first
// thing that is not (yet) as it should be, or "".
func scrapeAll(ctx context.Context, t *testing.T, client *http.Client, addrs []string, procs []*lab.Proc, want map[string]int) (map[string]int, string) {
	t.Helper()
	seen := map[string]int{} // target -> instance whose /metrics lists it
	for i, addr := range addrs {
		select {
		case <-procs[i].Done():
			t.Fatalf("instance %d exited: %v\n%s", i, procs[i].Err(), procs[i].Output())
		default:
		}
		mfs, err := scrape(ctx, client, "http://"+addr+"/metrics")
		if err != nil {
			return nil, fmt.Sprintf("instance %d: %v", i, err)
		}
		info := mfs["icmp_shard_info"]
		if info == nil || len(info.GetMetric()) != 1 ||
			label(info.GetMetric()[0], "shard") != fmt.Sprint(i) || label(info.GetMetric()[0], "shards") != fmt.Sprint(len(addrs)) {
			t.Fatalf("instance %d: icmp_shard_info = %v, want shard=%d shards=%d", i, info, i, len(addrs))
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

func scrape(ctx context.Context, client *http.Client, url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

func label(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

// values maps group/target to the counter's value.
func values(mf *dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, m := range mf.GetMetric() {
		out[label(m, "group")+"/"+label(m, "target")] = m.GetCounter().GetValue()
	}
	return out
}
