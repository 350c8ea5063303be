// Recording rules: the alert thresholds as constants, loss ratios, up/down counts per group and RTT
// quantiles. The alerts of alerts/alerts.libsonnet read the thresholds recorded here.
local u = import '../lib/util.libsonnet';

{
  local cfg = $._config,
  local l = cfg.labels,
  local sel = cfg.icmpSelector,
  local by = '%s, %s' % [l.source, l.group],

  // thresholdRecords names the recording rule of each setting of _config.thresholds, in the
  // order of the rule file; alerts read a threshold as $.threshold('name').
  local thresholdRecords = [
    ['targetDownSeconds', 'icmp:threshold:target_down_seconds'],
    ['packetLossRatio', 'icmp:threshold:packet_loss_ratio'],
    ['latencyIncreaseRatio', 'icmp:threshold:latency_increase_ratio'],
    ['latencyIncreaseMinSeconds', 'icmp:threshold:latency_increase_min_seconds'],
    ['flappingOutages1h', 'icmp:threshold:flapping_outages_1h'],
    ['burstLossRuns15m', 'icmp:threshold:burst_loss_runs_15m'],
    ['groupDownRatio', 'icmp:threshold:group_down_ratio'],
    ['groupMinTargets', 'icmp:threshold:group_min_targets'],
    ['scheduleLagSeconds', 'icmp:threshold:schedule_lag_seconds'],
    ['skippedProbesPerSecond', 'icmp:threshold:skipped_probes_per_second'],
    ['kernelDropsPerSecond', 'icmp:threshold:kernel_drops_per_second'],
  ],
  // threshold returns the series holding a threshold, joined for comparison with any vector:
  // `on() group_left() icmp:threshold:...`.
  threshold(name)::
    local m = [r[1] for r in thresholdRecords if r[0] == name];
    if std.length(m) != 1 then error 'no threshold ' + name
    else 'on() group_left() ' + m[0],

  // RTT quantile q (a string such as '0.5') of the native histogram, or of the classic buckets
  // where there is no native one; `or` keeps the native result where both exist.
  local rtt(q, aggregate) =
    if aggregate then
      |||
        histogram_quantile(%(q)s, sum by (%(by)s) (rate(icmp_rtt_seconds{%(sel)s}[5m])))
        or
        histogram_quantile(%(q)s, sum by (%(by)s, le) (rate(icmp_rtt_seconds_bucket{%(sel)s}[5m])))
      ||| % { q: q, by: by, sel: sel }
    else
      |||
        histogram_quantile(%(q)s, rate(icmp_rtt_seconds{%(sel)s}[5m]))
        or
        histogram_quantile(%(q)s, rate(icmp_rtt_seconds_bucket{%(sel)s}[5m]))
      ||| % { q: q, sel: sel },

  prometheusRules+:: {
    local unknown = std.setDiff(std.set(std.objectFields(cfg.thresholds)), std.set([r[0] for r in thresholdRecords])),
    assert unknown == [] : '_config.thresholds: unknown %s; known: %s' % [std.join(', ', unknown), std.join(', ', [r[0] for r in thresholdRecords])],
    groups+: [
      {
        name: 'icmp_exporter.thresholds',
        rules: [
          { record: r[1], expr: 'vector(%s)' % u.num(cfg.thresholds[r[0]]) }
          for r in thresholdRecords
        ],
      },
      {
        name: 'icmp_exporter.recording',
        rules: [
          // Loss: the share of probes sent that got no reply in time (lost, ICMP errors, late
          // replies). 1 - replies/sent counts a probe still in flight at the window's end as lost
          // for at most its RTT; clamp() hides that and the other edge effect of two rates.
          {
            record: 'target:icmp_probe_loss:ratio_rate5m',
            expr: 'clamp(1 - rate(icmp_replies_total{%(sel)s}[5m]) / (rate(icmp_probes_sent_total{%(sel)s}[5m]) > 0), 0, 1)\n' % { sel: sel },
          },
          {
            record: 'group:icmp_probes_sent:rate5m',
            expr: 'sum by (%s) (rate(icmp_probes_sent_total{%s}[5m]))' % [by, sel],
          },
          {
            record: 'group:icmp_replies:rate5m',
            expr: 'sum by (%s) (rate(icmp_replies_total{%s}[5m]))' % [by, sel],
          },
          {
            record: 'group:icmp_probe_loss:ratio_rate5m',
            expr: 'clamp(1 - group:icmp_replies:rate5m / (group:icmp_probes_sent:rate5m > 0), 0, 1)\n',
          },
          // Targets up and down per group, for ICMPGroupMostlyDown and dashboards.
          {
            record: 'group:icmp_targets:count',
            expr: 'count by (%s) (icmp_up{%s})' % [by, sel],
          },
          {
            record: 'group:icmp_targets_down:ratio',
            expr: '1 - avg by (%s) (icmp_up{%s})' % [by, sel],
          },
          // RTT quantiles. Targets whose group uses aggregation "group" have one histogram per
          // group: their target:* series carry no target label.
          { record: 'target:icmp_rtt_seconds:p50_5m', expr: rtt('0.5', false) },
          { record: 'target:icmp_rtt_seconds:p99_5m', expr: rtt('0.99', false) },
          { record: 'group:icmp_rtt_seconds:p50_5m', expr: rtt('0.5', true) },
          { record: 'group:icmp_rtt_seconds:p99_5m', expr: rtt('0.99', true) },
        ],
      },
      // The 1-day RTT baseline reads a day of samples per target, so it runs every 5 minutes
      // only; ICMPLatencyIncrease reads it with last_over_time(...[15m]) to bridge the gaps.
      {
        name: 'icmp_exporter.baseline',
        interval: '5m',
        rules: [
          // Median over one day of the 5m median RTT: robust against earlier short incidents.
          {
            record: 'target:icmp_rtt_seconds:p50_baseline_1d',
            expr: 'quantile_over_time(0.5, target:icmp_rtt_seconds:p50_5m[1d])',
          },
        ],
      },
    ],
  },
}
