package collector

import "github.com/icmp-exporter/icmp_exporter/probe"

// histFamilies are the per-target histogram families exported the way the
// RTT histogram is (probe.TargetSnapshot.RTTExport): per target or summed
// per group, with native and/or classic buckets as the group's histogram
// mode says. The loss run and IPDV histograms follow the RTT histogram's
// settings so that one group setting decides the cost of all three.
var histFamilies = [...]*family{&famRTT, &famIPDV, &famLossRuns}

// schemaOf is the schema of the native buckets of family f (one of
// histFamilies).
func schemaOf(f *family) int32 {
	if f == &famIPDV {
		return probe.IPDVSchema
	}
	return probe.NativeSchema
}

// isHistFamily reports whether f is one of histFamilies.
func isHistFamily(f *family) bool {
	for _, h := range histFamilies {
		if f == h {
			return true
		}
	}
	return false
}

// histKind is the probe.HistKind of family f (one of histFamilies).
func histKind(f *family) probe.HistKind {
	switch f {
	case &famIPDV:
		return probe.HistIPDV
	case &famLossRuns:
		return probe.HistLossRuns
	}
	return probe.HistRTT
}

// histChunk is how many histograms eachHist reads at a time: the engine
// lock is held for one chunk (Snapshot.ReadHistograms).
const histChunk = 256

// eachHist calls fn with the histogram of family f (one of histFamilies)
// of each target s.Targets[i], i in the order of idx. The histograms are
// read in chunks into a buffer reused by the next chunk: fn must not keep h.
func (c *Collector) eachHist(s *probe.Snapshot, f *family, idx []int, fn func(i int, h *probe.Histogram)) {
	if len(c.hbuf) < histChunk {
		c.hbuf = make([]probe.Histogram, histChunk)
	}
	k := histKind(f)
	for len(idx) > 0 {
		n := min(len(idx), histChunk)
		s.ReadHistograms(k, idx[:n], c.hbuf[:n])
		for j, i := range idx[:n] {
			fn(i, &c.hbuf[j])
		}
		idx = idx[n:]
	}
}
