package shard

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Shard
		wantErr string
	}{
		{name: "empty is not sharded", in: "", want: Shard{}},
		{name: "blank is not sharded", in: "  ", want: Shard{}},
		{name: "first of three", in: "0/3", want: Shard{0, 3}},
		{name: "last of three", in: "2/3", want: Shard{2, 3}},
		{name: "one of one", in: "0/1", want: Shard{0, 1}},
		{name: "spaces", in: " 1 / 4 ", want: Shard{1, 4}},
		{name: "max", in: "1023/1024", want: Shard{1023, 1024}},
		{name: "pod name", in: "icmp-exporter-2/3", want: Shard{2, 3}},
		{name: "pod name ordinal 0", in: "web-0/5", want: Shard{0, 5}},
		{name: "index equals count", in: "3/3", wantErr: "out of range"},
		{name: "negative index", in: "-1/3", wantErr: "out of range"},
		{name: "pod ordinal too big", in: "icmp-exporter-3/3", wantErr: "out of range"},
		{name: "no slash", in: "1", wantErr: "want i/n"},
		{name: "two slashes", in: "1/3/4", wantErr: "want i/n"},
		{name: "zero shards", in: "0/0", wantErr: "from 1 to 1024"},
		{name: "too many shards", in: "0/1025", wantErr: "from 1 to 1024"},
		{name: "count not a number", in: "0/x", wantErr: "from 1 to 1024"},
		{name: "index not a number", in: "x/3", wantErr: "pod name ending in -<ordinal>"},
		{name: "pod name without ordinal", in: "icmp-exporter-/3", wantErr: "pod name ending in -<ordinal>"},
		{name: "pod name with word suffix", in: "icmp-exporter-a/3", wantErr: "pod name ending in -<ordinal>"},
		{name: "empty index", in: "/3", wantErr: "pod name ending in -<ordinal>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Parse(%q) = %v, want error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "parse shard") {
					t.Fatalf("Parse(%q) error %q, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	for _, s := range []string{"0/1", "0/3", "2/3", "17/1024"} {
		sh, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if sh.String() != s {
			t.Errorf("Parse(%q).String() = %q", s, sh.String())
		}
	}
	if got := (Shard{}).String(); got != "0/1" {
		t.Errorf("zero Shard String() = %q, want 0/1", got)
	}
}

// testSpec builds a spec of n targets like config would: IPv4 addresses out
// of CIDR blocks, some IPv6 addresses and some host names, in several groups.
func testSpec(n int) probe.Spec {
	spec := probe.Spec{Source: probe.Source{Name: "lab"}}
	for i := range n {
		ts := probe.TargetSpec{
			Interval: time.Second, Timeout: time.Second, PayloadSize: probe.MinPayload,
			DownAfter: 3, UpAfter: 1,
		}
		switch {
		case i%10 == 9:
			ts.Group = "v6"
			ts.Addr = netip.AddrFrom16([16]byte{0xfd, 0, 0, 0x10, 14: byte(i >> 8), 15: byte(i)})
			ts.Name = ts.Addr.String()
		case i%50 == 7:
			ts.Group = "hosts"
			ts.Host = fmt.Sprintf("host-%d.example.net", i)
			ts.Name = ts.Host
		default:
			ts.Group = fmt.Sprintf("dc%d", i%3)
			ts.Addr = netip.AddrFrom4([4]byte{10, 210, byte(i >> 8), byte(i)})
			ts.Name = ts.Addr.String()
		}
		spec.Targets = append(spec.Targets, ts)
	}
	return spec
}

func owners(t *testing.T, spec probe.Spec, n int) map[string]int {
	t.Helper()
	own := make(map[string]int, len(spec.Targets))
	for i := range n {
		part := Shard{Index: i, Count: n}.Filter(spec)
		for j := range part.Targets {
			k := part.Targets[j].Key()
			if prev, dup := own[k]; dup {
				t.Fatalf("n=%d: target %q owned by shards %d and %d", n, k, prev, i)
			}
			own[k] = i
		}
	}
	return own
}

func TestFilterCoversEveryTargetOnce(t *testing.T) {
	const targets = 10000
	spec := testSpec(targets)
	if err := spec.Validate(); err != nil {
		t.Fatalf("test spec invalid: %v", err)
	}
	for n := 1; n <= 7; n++ {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			own := owners(t, spec, n)
			if len(own) != targets {
				t.Fatalf("%d shards own %d distinct targets, want %d", n, len(own), targets)
			}
			count := make([]int, n)
			for _, i := range own {
				count[i]++
			}
			// Each share is binomial(10000, 1/n): its standard deviation is
			// at most 50, so +-15% of the mean (>= 214) is over 4 sigma.
			mean := float64(targets) / float64(n)
			for i, c := range count {
				if d := float64(c) - mean; d > 0.15*mean || d < -0.15*mean {
					t.Errorf("shard %d/%d owns %d targets, want %.0f +-15%%", i, n, c, mean)
				}
			}
		})
	}
}

func TestResizeMovesFewTargets(t *testing.T) {
	const targets = 10000
	spec := testSpec(targets)
	for _, tt := range []struct {
		name     string
		from, to int
		min, max float64 // fraction of all targets that change owner
	}{
		{name: "3 to 4", from: 3, to: 4, min: 0.20, max: 0.30},
		{name: "1 to 2", from: 1, to: 2, min: 0.45, max: 0.55},
		{name: "4 to 5", from: 4, to: 5, min: 0.16, max: 0.24},
		{name: "6 to 7", from: 6, to: 7, min: 0.11, max: 0.18},
		{name: "4 to 3", from: 4, to: 3, min: 0.20, max: 0.30},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before, after := owners(t, spec, tt.from), owners(t, spec, tt.to)
			moved := 0
			for k, b := range before {
				a := after[k]
				if a == b {
					continue
				}
				moved++
				// Growing: targets only move to the new shards. Shrinking:
				// only the targets of the removed shards move.
				if tt.to > tt.from && a < tt.from {
					t.Fatalf("target %q moved from shard %d to old shard %d", k, b, a)
				}
				if tt.to < tt.from && b < tt.to {
					t.Fatalf("target %q of surviving shard %d moved to %d", k, b, a)
				}
			}
			frac := float64(moved) / targets
			t.Logf("%d of %d targets (%.1f%%) change owner", moved, targets, 100*frac)
			if frac < tt.min || frac > tt.max {
				t.Errorf("%.1f%% of targets change owner going from %d to %d shards, want %.0f%%..%.0f%%",
					100*frac, tt.from, tt.to, 100*tt.min, 100*tt.max)
			}
		})
	}
}

// TestOwnerGolden pins ownership: a change here re-shuffles every
// deployment's targets on upgrade, so it must be deliberate.
func TestOwnerGolden(t *testing.T) {
	tests := []struct {
		key  string
		n    int
		want int
	}{
		{key: "core\x0010.0.0.1\x0010.0.0.1", n: 3, want: 0},
		{key: "core\x0010.0.0.1\x0010.0.0.1", n: 4, want: 3},
		{key: "core\x0010.0.0.1\x0010.0.0.1", n: 7, want: 4},
		{key: "core\x0010.0.0.2\x0010.0.0.2", n: 3, want: 1},
		{key: "core\x0010.0.0.4\x0010.0.0.4", n: 3, want: 2},
		{key: "edge\x002001:db8::1\x002001:db8::1", n: 4, want: 0},
		{key: "edge\x002001:db8::1\x002001:db8::1", n: 7, want: 6},
		{key: "web\x00example.com\x00ip6", n: 7, want: 0},
		{key: "", n: 7, want: 5},
		{key: "", n: 1, want: 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q/%d", tt.key, tt.n), func(t *testing.T) {
			if got := Owner(tt.key, tt.n); got != tt.want {
				t.Errorf("Owner(%q, %d) = %d, want %d", tt.key, tt.n, got, tt.want)
			}
		})
	}
}

func TestWeightGolden(t *testing.T) {
	if got := weight(hashKey("core\x0010.0.0.1\x0010.0.0.1"), 0); got != 0xbac7c544553ab355 {
		t.Errorf("weight = %#x, want 0xbac7c544553ab355", got)
	}
	if got := weight(hashKey(""), 2); got != 0x54c3a569ecf61b1b {
		t.Errorf("weight = %#x, want 0x54c3a569ecf61b1b", got)
	}
}

func TestHashKeyIsFNV1a(t *testing.T) {
	for _, k := range []string{"", "a", "core\x0010.0.0.1\x0010.0.0.1", strings.Repeat("x", 300)} {
		h := fnv.New64a()
		h.Write([]byte(k))
		if got, want := hashKey(k), h.Sum64(); got != want {
			t.Errorf("hashKey(%q) = %#x, want FNV-1a 64 %#x", k, got, want)
		}
	}
}

func TestHashTargetMatchesKey(t *testing.T) {
	spec := testSpec(500)
	spec.Targets = append(spec.Targets,
		probe.TargetSpec{Group: "g", Name: "zoned", Addr: netip.MustParseAddr("fe80::1%eth0")},
		probe.TargetSpec{Group: "g", Name: "mapped", Addr: netip.MustParseAddr("::ffff:10.1.2.3")},
		probe.TargetSpec{Group: "g", Name: "h", Host: "h.example", IPProtocol: probe.IPv6},
	)
	for i := range spec.Targets {
		ts := &spec.Targets[i]
		if got, want := hashTarget(ts), hashKey(ts.Key()); got != want {
			t.Fatalf("hashTarget(%q) = %#x, want hashKey(Key()) = %#x", ts.Key(), got, want)
		}
	}
}

func TestFilterIndependentOfOrderAndNeighbours(t *testing.T) {
	spec := testSpec(2000)
	want := owners(t, spec, 5)

	shuffled := spec
	shuffled.Targets = append([]probe.TargetSpec(nil), spec.Targets...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled.Targets), func(i, j int) {
		shuffled.Targets[i], shuffled.Targets[j] = shuffled.Targets[j], shuffled.Targets[i]
	})
	half := shuffled
	half.Targets = shuffled.Targets[:len(shuffled.Targets)/2]

	for name, s := range map[string]probe.Spec{"shuffled": shuffled, "half the targets": half} {
		t.Run(name, func(t *testing.T) {
			got := owners(t, s, 5)
			if len(got) != len(s.Targets) {
				t.Fatalf("%d targets owned, want %d", len(got), len(s.Targets))
			}
			for k, o := range got {
				if want[k] != o {
					t.Errorf("target %q: owner %d, want %d as in the full ordered spec", k, o, want[k])
				}
			}
		})
	}
}

func TestFilterKeepsSpec(t *testing.T) {
	spec := testSpec(100)
	orig := append([]probe.TargetSpec(nil), spec.Targets...)

	t.Run("not sharded returns everything", func(t *testing.T) {
		for _, s := range []Shard{{}, {0, 1}} {
			got := s.Filter(spec)
			if len(got.Targets) != len(spec.Targets) || &got.Targets[0] != &spec.Targets[0] {
				t.Errorf("%v.Filter changed the target list", s)
			}
		}
	})
	t.Run("sharded keeps source, engine and order", func(t *testing.T) {
		spec.Engine.MaxPPS = 1234
		got := Shard{1, 3}.Filter(spec)
		if got.Source != spec.Source || got.Engine != spec.Engine {
			t.Errorf("Filter changed Source or Engine: %+v %+v", got.Source, got.Engine)
		}
		if len(got.Targets) == 0 || len(got.Targets) == len(spec.Targets) {
			t.Fatalf("shard 1/3 of 100 targets kept %d", len(got.Targets))
		}
		last := -1
		for i := range got.Targets {
			idx := -1
			for j := range spec.Targets {
				if spec.Targets[j].Key() == got.Targets[i].Key() {
					idx = j
				}
			}
			if idx <= last {
				t.Fatalf("target %q out of original order", got.Targets[i].Name)
			}
			last = idx
		}
		for i := range spec.Targets {
			if !spec.Targets[i].Equal(&orig[i]) {
				t.Fatalf("Filter modified input target %d", i)
			}
		}
	})
}

func TestInfoCollector(t *testing.T) {
	tests := []struct {
		name  string
		shard Shard
		want  string
	}{
		{name: "sharded", shard: Shard{2, 3}, want: `icmp_exporter_shard_info{shard="2",shards="3"} 1`},
		{name: "not sharded", shard: Shard{}, want: `icmp_exporter_shard_info{shard="0",shards="1"} 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := "# HELP icmp_exporter_shard_info The share of the configured targets this instance probes (--shard=i/n): shard index i counting from 0, and number of shards n. Always 1.\n" +
				"# TYPE icmp_exporter_shard_info gauge\n" + tt.want + "\n"
			if err := testutil.CollectAndCompare(tt.shard.InfoCollector(), strings.NewReader(exp)); err != nil {
				t.Error(err)
			}
		})
	}
}

func BenchmarkFilter100k(b *testing.B) {
	spec := testSpec(100000)
	s := Shard{1, 4}
	b.ReportAllocs()
	for b.Loop() {
		s.Filter(spec)
	}
}
