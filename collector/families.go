package collector

import (
	dto "github.com/prometheus/client_model/go"
)

// family is the metadata of one metric family. The descriptors of the
// Collector and the streaming encoders are built from the same values, so
// both paths expose the same names, help texts and types.
type family struct {
	id         famID // index in targetFamilies; -1 for engine families
	name, help string
	typ        dto.MetricType
	labels     []string // variable labels of engine families
}

// famID indexes the per-target families.
type famID int

// Per-target families in the order WriteMetrics writes them.
const (
	idUp famID = iota
	idSent
	idReplies
	idLost
	idLate
	idDup
	idSkipped
	idErrors
	idDNS
	idTTL
	idOutages
	idResolution
	idStateChange
	idRTT
	idOutageDur
	idLastStart
	idLastEnd
	idLastDur
	idVantageCaused // vantage.go
	idLossRuns
	idIPDV
	idJitter
	idReordered
	idPathHops
	idPathChanges
	idPathLastHop
	idPathMTU
	idPathMTUChanges
	numFamilies
)

const (
	gaugeT   = dto.MetricType_GAUGE
	counterT = dto.MetricType_COUNTER
	histT    = dto.MetricType_HISTOGRAM
)

var (
	famUp          = family{idUp, "icmp_up", "Whether the target is up (1) or down (0), from the up/down state machine (down_after, up_after).", gaugeT, nil}
	famSent        = family{idSent, "icmp_probes_sent_total", "Echo requests sent to the target.", counterT, nil}
	famReplies     = family{idReplies, "icmp_replies_total", "Echo replies received within the timeout.", counterT, nil}
	famLost        = family{idLost, "icmp_probes_lost_total", "Probes without a reply within the timeout.", counterT, nil}
	famLate        = family{idLate, "icmp_late_replies_total", "Valid echo replies that arrived after the timeout (not counted as replies).", counterT, nil}
	famDup         = family{idDup, "icmp_duplicate_replies_total", "Echo replies to probes that were already answered.", counterT, nil}
	famSkipped     = family{idSkipped, "icmp_probes_skipped_total", "Probes not sent because the engine could not keep the schedule (overload); never counted as lost.", counterT, nil}
	famErrors      = family{idErrors, "icmp_errors_total", "Probes that ended in an ICMP error quoting them, or whose send failed, by error_type.", counterT, nil}
	famDNS         = family{idDNS, "icmp_dns_errors_total", "Failed resolutions of the target's host name.", counterT, nil}
	famTTL         = family{idTTL, "icmp_reply_ttl", "IP TTL (IPv6 hop limit) of the last echo reply.", gaugeT, nil}
	famOutages     = family{idOutages, "icmp_outages_total", "Outages (periods during which the target was down) that started.", counterT, nil}
	famResolution  = family{idResolution, "icmp_outage_resolution_seconds", "Bound on the error of the target's outage start and end times: the gap between the sends around each edge of its last outage (the probing interval before any, more when probes were skipped).", gaugeT, nil}
	famStateChange = family{idStateChange, "icmp_state_change_timestamp_seconds", "Unix time of the last change of icmp_up (the engine start if it never changed).", gaugeT, nil}
	famRTT         = family{idRTT, "icmp_rtt_seconds", "Round-trip times of echo replies received within the timeout.", histT, nil}
	famOutageDur   = family{idOutageDur, "icmp_outage_duration_seconds", "Durations of completed outages.", histT, nil}
	famLastStart   = family{idLastStart, "icmp_last_outage_start_timestamp_seconds", "Unix time of the start of the last outage (send time of its first failed probe).", gaugeT, nil}
	famLastEnd     = family{idLastEnd, "icmp_last_outage_end_timestamp_seconds", "Unix time of the end of the last outage (send time of the first answered probe); 0 while it is ongoing.", gaugeT, nil}
	famLastDur     = family{idLastDur, "icmp_last_outage_duration_seconds", "Duration of the last outage; grows while it is ongoing.", gaugeT, nil}
	// Loss shape and delay variation (lossshape.go).
	famLossRuns  = family{idLossRuns, "icmp_loss_run_length", "Lengths in probes of completed runs of consecutive lost probes (in send order; a reply or an error ends a run).", histT, nil}
	famIPDV      = family{idIPDV, "icmp_ipdv_seconds", "Magnitude of the IP delay variation (RFC 3393, RFC 5481) of the replies to two consecutive probes.", histT, nil}
	famJitter    = family{idJitter, "icmp_jitter_seconds", "RFC 3550 smoothed jitter of the round-trip times, in order of arrival.", gaugeT, nil}
	famReordered = family{idReordered, "icmp_reordered_replies_total", "Echo replies that arrived after the reply to a probe sent later.", counterT, nil}
	// Path families (targets of groups with path snapshots or path MTU).
	famPathHops       = family{idPathHops, "icmp_path_hops", "Hop count to the target in its baseline path snapshot (the newest that reached it).", gaugeT, nil}
	famPathChanges    = family{idPathChanges, "icmp_path_changes_total", "Path snapshots whose path differed from the one before (another address at a hop, another hop count, the target reached or not).", counterT, nil}
	famPathLastHop    = family{idPathLastHop, "icmp_path_last_hop_info", "While the target is down: the farthest hop that answered its newest path snapshot (hop empty when none did); always 1.", gaugeT, nil}
	famPathMTU        = family{idPathMTU, "icmp_path_mtu_bytes", "Path MTU to the target found by the last path MTU search.", gaugeT, nil}
	famPathMTUChanges = family{idPathMTUChanges, "icmp_path_mtu_changes_total", "Path MTU searches whose result differed from the one before.", counterT, nil}
)

// targetFamilies are the per-target families indexed by famID.
var targetFamilies = [numFamilies]*family{
	&famUp, &famSent, &famReplies, &famLost, &famLate, &famDup, &famSkipped,
	&famErrors, &famDNS, &famTTL, &famOutages, &famResolution, &famStateChange,
	&famRTT, &famOutageDur, &famLastStart, &famLastEnd, &famLastDur,
	&famVantageCaused,
	&famLossRuns, &famIPDV, &famJitter, &famReordered,
	&famPathHops, &famPathChanges, &famPathLastHop, &famPathMTU, &famPathMTUChanges,
}

// Engine families, one series each unless they have labels.
var (
	famEngineInfo  = family{-1, "icmp_engine_info", "Datapath in use, its mode, and the best RTT timestamp source it offers; always 1.", gaugeT, []string{"datapath", "mode", "timestamp_source"}}
	famSourceInfo  = family{-1, "icmp_source_info", "Where this exporter probes from; always 1. latitude and longitude are empty when not configured.", gaugeT, []string{"source", "latitude", "longitude"}}
	famPktSent     = family{-1, "icmp_engine_packets_sent_total", "Echo requests the datapath sent.", counterT, nil}
	famPktRecv     = family{-1, "icmp_engine_packets_received_total", "Packets the datapath delivered to the engine (replies, errors, foreign and invalid packets).", counterT, nil}
	famForeign     = family{-1, "icmp_engine_foreign_replies_total", "Echo replies whose tag did not verify: not sent by this process, or spoofed.", counterT, nil}
	famInvalid     = family{-1, "icmp_engine_invalid_packets_total", "Truncated or malformed packets.", counterT, nil}
	famSendErrors  = family{-1, "icmp_engine_send_errors_total", "Failed sends of echo requests.", counterT, nil}
	famKernelDrops = family{-1, "icmp_engine_kernel_drops_total", "Packets the kernel dropped before the engine read them (socket or ring overflow).", counterT, nil}
	famRingFreezes = family{-1, "icmp_engine_ring_freezes_total", "Times the afpacket receive ring was full (its queue frozen); 0 for other datapaths.", counterT, nil}
	famEngSkipped  = family{-1, "icmp_engine_probes_skipped_total", "Probes not sent because the engine could not keep the schedule (overload), over all targets.", counterT, nil}
	famRepliesByTS = family{-1, "icmp_engine_replies_total", "Replies by the timestamp source their RTT was computed from.", counterT, []string{"timestamp_source"}}
	famClockSteps  = family{-1, "icmp_engine_clock_step_replies_total", "Replies whose kernel timestamps disagreed with the monotonic clock (the wall clock stepped between send and receive); their RTT comes from the monotonic clock.", counterT, nil}
	famSchedLag    = family{-1, "icmp_engine_schedule_lag_seconds", "Largest delay of a send batch behind its schedule over the last 5 to 10 seconds.", gaugeT, nil}
	famTargets     = family{-1, "icmp_engine_targets", "Targets the engine probes.", gaugeT, nil}
	famPathProbes  = family{-1, "icmp_engine_path_probes_sent_total", "TTL-limited probes of path snapshots built (within engine.path_pps and max_pps).", counterT, nil}
	famPathSnaps   = family{-1, "icmp_engine_path_snapshots_total", "Path snapshots finished.", counterT, nil}
	famPathPending = family{-1, "icmp_engine_path_snapshots_pending", "Path snapshots waiting to start (queued or in their target's cooldown) or running.", gaugeT, nil}
)

// Family describes one metric family a Collector writes.
type Family struct {
	Name string
	Help string
	Type dto.MetricType
	// PerTarget is true for the families with a series per target (and per
	// group for aggregated RTT histograms); their labels are source, group,
	// target, ip, the user labels, and type for icmp_errors_total.
	PerTarget bool
	// Labels are the variable labels of the other families.
	Labels []string
}

// Families returns every metric family a Collector writes, the per-target
// ones first, then the engine ones; Options.BuildInfo adds
// icmp_exporter_build_info from client_golang's version collector. Which
// per-target series a target has is decided by the methods of
// probe.TargetSnapshot. The slice is new on every call.
func Families() []Family {
	var out []Family
	for _, f := range targetFamilies {
		out = append(out, Family{Name: f.name, Help: f.help, Type: f.typ, PerTarget: true})
	}
	for _, f := range engineFamilies() {
		out = append(out, Family{Name: f.name, Help: f.help, Type: f.typ, Labels: append([]string(nil), f.labels...)})
	}
	return out
}

func engineFamilies() []*family {
	return append([]*family{
		&famEngineInfo, &famSourceInfo, &famPktSent, &famPktRecv, &famForeign, &famInvalid, &famSendErrors,
		&famKernelDrops, &famRingFreezes, &famEngSkipped, &famRepliesByTS, &famClockSteps, &famSchedLag, &famTargets,
		&famPathProbes, &famPathSnaps, &famPathPending,
	}, vantageFamilies()...)
}
