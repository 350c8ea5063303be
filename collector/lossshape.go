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

// histOf returns the histogram of family f (one of histFamilies) in t.
func histOf(f *family, t *probe.TargetSnapshot) *probe.Histogram {
	switch f {
	case &famIPDV:
		return &t.IPDV
	case &famLossRuns:
		return &t.LossRuns
	}
	return &t.RTT
}
