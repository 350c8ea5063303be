package shard

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/icmp-exporter/icmp_exporter/probe"
	"github.com/prometheus/client_golang/prometheus"
)

// MaxShards is the largest number of shards Parse accepts. Ownership costs
// one hash per shard and target, so 1024 shards over 100k targets is about
// 10^8 cheap mixes on every (re)load; nobody needs more instances than that.
const MaxShards = 1024

// Shard is one instance's share of the targets: Index of Count, counting
// from 0. The zero Shard is "not sharded" and owns every target. A Shard is
// a small value, safe for concurrent use.
type Shard struct {
	Index int
	Count int
}

// Parse reads a share written "i/n" with 0 <= i < n <= MaxShards. The empty
// string gives the zero Shard (not sharded).
//
// For StatefulSets on clusters without the apps.kubernetes.io/pod-index
// label, i may also be a pod name ending in "-<ordinal>" (for example
// "icmp-exporter-2/3" is 2/3), so "--shard=$(POD_NAME)/3" works.
func Parse(s string) (Shard, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Shard{}, nil
	}
	is, ns, ok := strings.Cut(s, "/")
	if !ok || strings.Contains(ns, "/") {
		return Shard{}, fmt.Errorf("parse shard %q: want i/n, e.g. 0/3 for the first of three instances", s)
	}
	n, err := strconv.Atoi(strings.TrimSpace(ns))
	if err != nil || n < 1 || n > MaxShards {
		return Shard{}, fmt.Errorf("parse shard %q: number of shards %q must be an integer from 1 to %d", s, ns, MaxShards)
	}
	is = strings.TrimSpace(is)
	i, err := strconv.Atoi(is)
	if err != nil {
		// A StatefulSet pod name such as icmp-exporter-2.
		dash := strings.LastIndexByte(is, '-')
		if dash < 0 || dash == len(is)-1 {
			return Shard{}, fmt.Errorf("parse shard %q: index %q must be an integer or a pod name ending in -<ordinal>", s, is)
		}
		ord := is[dash+1:]
		if i, err = strconv.Atoi(ord); err != nil || ord[0] == '+' || ord[0] == '-' {
			return Shard{}, fmt.Errorf("parse shard %q: index %q must be an integer or a pod name ending in -<ordinal>", s, is)
		}
	}
	if i < 0 || i >= n {
		return Shard{}, fmt.Errorf("parse shard %q: index %d out of range: want 0 <= i < %d", s, i, n)
	}
	return Shard{Index: i, Count: n}, nil
}

// String returns the share as "i/n"; the zero Shard is "0/1".
func (s Shard) String() string {
	if s.Count == 0 {
		return "0/1"
	}
	return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count)
}

// Sharded reports whether s owns only part of the targets.
func (s Shard) Sharded() bool { return s.Count > 1 }

// Owner returns the index of the shard, out of n, that owns the target with
// this key (probe.TargetSpec.Key). It is a pure function of key and n.
func Owner(key string, n int) int {
	if n <= 1 {
		return 0
	}
	return owner(hashKey(key), n)
}

func owner(h uint64, n int) int {
	best, bestW := 0, weight(h, 0)
	for j := 1; j < n; j++ {
		if w := weight(h, j); w > bestW {
			best, bestW = j, w
		}
	}
	return best
}

// Owns reports whether this shard probes the target.
func (s Shard) Owns(t *probe.TargetSpec) bool {
	if s.Count <= 1 {
		return true
	}
	return owner(hashTarget(t), s.Count) == s.Index
}

// Filter returns spec with only the targets this shard owns, in their
// original order. spec is not modified: the result has its own Targets
// slice (the TargetSpecs' label and bucket slices are shared, read-only).
// When s is not sharded, Filter returns spec as it is.
func (s Shard) Filter(spec probe.Spec) probe.Spec {
	if s.Count <= 1 {
		return spec
	}
	out := spec
	out.Targets = make([]probe.TargetSpec, 0, len(spec.Targets)/s.Count+len(spec.Targets)/(4*s.Count)+1)
	for i := range spec.Targets {
		if s.Owns(&spec.Targets[i]) {
			out.Targets = append(out.Targets, spec.Targets[i])
		}
	}
	return out
}

// InfoCollector returns a collector of the constant series
// icmp_exporter_shard_info{shard="i",shards="n"} 1. Register it once per process;
// the zero Shard reports shard="0", shards="1".
func (s Shard) InfoCollector() prometheus.Collector {
	n := s.Count
	if n == 0 {
		n = 1
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "icmp_exporter_shard_info",
		Help: "The share of the configured targets this instance probes (--shard=i/n): shard index i counting from 0, and number of shards n. Always 1.",
		ConstLabels: prometheus.Labels{
			"shard":  strconv.Itoa(s.Index),
			"shards": strconv.Itoa(n),
		},
	})
	g.Set(1)
	return g
}

// hashKey is FNV-1a 64 over the key's bytes. It is written out rather than
// taken from hash/fnv so that it does not allocate per target.
func hashKey(key string) uint64 { return fnv1a(offset64, key) }

// FNV-1a 64 parameters.
const (
	offset64 = 14695981039346656037
	prime64  = 1099511628211
)

func fnv1a(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime64
	}
	return h
}

// hashTarget is hashKey(t.Key()) without building the key string.
func hashTarget(t *probe.TargetSpec) uint64 {
	h := fnv1a(offset64, t.Group)
	h = fnv1a(h, "\x00")
	h = fnv1a(h, t.Name)
	h = fnv1a(h, "\x00")
	if t.Host != "" {
		return fnv1a(h, t.IPProtocol)
	}
	var buf [64]byte
	for _, c := range t.Addr.AppendTo(buf[:0]) {
		h ^= uint64(c)
		h *= prime64
	}
	return h
}

// weight is the rendezvous weight of shard j for a key hashed to h: output
// j+1 of a SplitMix64 stream seeded with h. FNV-1a alone mixes its last
// bytes poorly (keys differing in the last octet of an address differ in
// few high bits); the SplitMix64 finalizer spreads every input bit over the
// whole word, so weights of different shards are independent enough for the
// shares to come out even.
func weight(h uint64, j int) uint64 {
	z := h + uint64(j+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
