package collector

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/icmp-exporter/icmp_exporter/config"
	"github.com/icmp-exporter/icmp_exporter/probe"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// configWithLabel is a configuration with one group whose label `name` is
// on line 5.
func configWithLabel(name string) []byte {
	return []byte("source: {name: lab}\n" +
		"groups:\n" +
		"  - name: g\n" +
		"    labels:\n" +
		"      " + name + ": x\n" +
		"    targets: [127.0.0.1, 127.0.0.2]\n")
}

// snapshotOf is a snapshot of the targets of spec, all up and never
// answered (no TTL).
func snapshotOf(spec probe.Spec) *probe.Snapshot {
	s := &probe.Snapshot{Time: tNow, Source: spec.Source}
	for i := range spec.Targets {
		ts := &spec.Targets[i]
		s.Targets = append(s.Targets, probe.TargetSnapshot{Spec: ts, IP: ts.Addr, Up: true, StateChange: t0, LastTTL: -1})
	}
	return s
}

// TestReservedUserLabels follows every reserved label name from the
// configuration file to a scrape: the file is refused with the line of the
// label, and a Spec that carries the label anyway (built without config)
// loses only that target, in both exposition paths.
func TestReservedUserLabels(t *testing.T) {
	// quantile is named on its own: it once passed the configuration and
	// then silently dropped its targets from /metrics.
	names := probe.ReservedLabelNames()
	if !slices.Contains(names, "quantile") {
		names = append(names, "quantile")
	}
	names = append(names, "__name__", "__meta_x")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			_, err := config.Parse(configWithLabel(name), "l.yml")
			want := "l.yml:5: groups[0].labels." + name + ": "
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("config with label %q: got error %v, want one starting with %q", name, err, want)
			}

			ok, err := config.Parse(configWithLabel("site"), "l.yml")
			if err != nil {
				t.Fatal(err)
			}
			spec, _ := ok.Spec()
			s := snapshotOf(spec)
			bad := *s.Targets[0].Spec
			bad.Labels = []probe.Label{{Name: name, Value: "x"}}
			s.Targets[0].Spec = &bad
			c := New(&fakeSource{snap: s}, Options{})
			for path, text := range map[string]string{
				"registry": string(gatherText(t, c)),
				"stream":   string(streamEncoded(t, c, expfmt.NewFormat(expfmt.TypeTextPlain))),
			} {
				if strings.Contains(text, `target="127.0.0.1"`) {
					t.Errorf("%s: target with user label %q was exported", path, name)
				}
				if !strings.Contains(text, `icmp_up{group="g",ip="127.0.0.2",site="x",source="lab",target="127.0.0.2"} 1`) {
					t.Errorf("%s: the other target was not exported:\n%s", path, text)
				}
			}
		})
	}
}

// TestAcceptedUserLabelsAreExported: a label the configuration accepts is on
// every per-target series of its targets.
func TestAcceptedUserLabelsAreExported(t *testing.T) {
	for _, name := range []string{"site", "quantiles", "le_", "types", "_source", "targets", "IP"} {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Parse(configWithLabel(name), "l.yml")
			if err != nil {
				t.Fatalf("config refused label %q: %v", name, err)
			}
			spec, _ := cfg.Spec()
			mfs := gatherProto(t, New(&fakeSource{snap: snapshotOf(spec)}, Options{}))
			n := 0
			for _, mf := range mfs {
				for _, m := range mf.Metric {
					if !hasLabel(m, "target") {
						continue
					}
					n++
					if !hasLabel(m, name) {
						t.Errorf("%s%s has no label %q", mf.GetName(), labelString(m), name)
					}
				}
			}
			if n == 0 {
				t.Fatal("no per-target series")
			}
		})
	}
}

// TestReservedNamesCoverExposition: every label name the collector sets on
// per-target or per-group series (le for histogram buckets included) is
// refused as a user label.
func TestReservedNamesCoverExposition(t *testing.T) {
	s := fixtureSnapshot()
	user := map[string]bool{}
	for _, ts := range s.Targets {
		for _, l := range ts.Spec.Labels {
			user[l.Name] = true
		}
	}
	src := newFixture()
	seen := map[string]bool{}
	for _, mf := range gatherProto(t, New(src, Options{})) {
		for _, m := range mf.Metric {
			if !hasLabel(m, "group") {
				continue // engine and build series carry no user labels
			}
			for _, lp := range m.Label {
				if !user[lp.GetName()] {
					seen[lp.GetName()] = true
				}
			}
			if mf.GetType() == dto.MetricType_HISTOGRAM {
				seen["le"] = true
			}
		}
	}
	for _, name := range []string{"source", "group", "target", "ip", probe.ErrorTypeLabel, "le"} {
		if !seen[name] {
			t.Errorf("fixture exposition has no label %q; the fixture lost a case", name)
		}
	}
	for name := range seen {
		if probe.CheckUserLabel(name) == nil {
			t.Errorf("the collector sets label %q but a user label may take it", name)
		}
	}
	if names := probe.ReservedLabelNames(); !slices.Contains(names, "quantile") {
		t.Errorf("reserved names %q lack quantile (summary quantiles)", names)
	}
}

func hasLabel(m *dto.Metric, name string) bool {
	return slices.ContainsFunc(m.Label, func(lp *dto.LabelPair) bool { return lp.GetName() == name })
}

// TestCompareEntriesMatchesPairs checks that targets sort by their entries
// exactly as by their label pairs (the registry's order), for user label
// names that sort before, between and after the built-in ones, label sets
// of different sizes and targets without an address.
func TestCompareEntriesMatchesPairs(t *testing.T) {
	c := New(nil, Options{})
	labelSets := [][]probe.Label{
		nil,
		{{Name: "aaa", Value: "1"}},
		{{Name: "aaa", Value: "2"}},
		{{Name: "host", Value: "x"}},
		{{Name: "rack", Value: "b"}, {Name: "zone", Value: "a"}},
		{{Name: "rack", Value: "a"}, {Name: "zone", Value: "b"}},
		{{Name: "aaa", Value: "2"}, {Name: "site", Value: "a"}},
	}
	var ents []*targetEntry
	for i, ls := range labelSets {
		for j, name := range []string{"a", "b", "10.0.0.1"} {
			for _, group := range []string{"g1", "g2"} {
				spec := &probe.TargetSpec{Group: group, Name: name, Labels: ls}
				var ip netip.Addr
				if (i+j)%3 != 0 {
					ip = netip.AddrFrom4([4]byte{10, 0, byte(i), byte(j)})
				}
				ents = append(ents, c.entryFor(&probe.TargetSnapshot{Spec: spec, IP: ip}, "src", nil))
			}
		}
	}
	for _, a := range ents {
		for _, b := range ents {
			got, want := compareEntries(a, b), comparePairs(a.newPairs(), b.newPairs())
			if got != want {
				t.Fatalf("compareEntries(%v, %v) = %d, comparePairs = %d", a.newPairs(), b.newPairs(), got, want)
			}
		}
	}
	for _, e := range ents {
		if e.more != nil && e.more.pairs != nil {
			t.Fatalf("entry of %s built its label pairs without a caller needing them", e.spec.Name)
		}
	}
}
