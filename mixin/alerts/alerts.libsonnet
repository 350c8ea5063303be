// Alerts. Thresholds come from the recording rules of rules/rules.libsonnet ($.threshold), so
// both must be loaded. Summaries are static sentences; descriptions carry the templated detail.
//
// Where two conditions must line up in time (a target's state and its group's), alerts compute
// from raw series instead of reading recording rules of another group: groups run concurrently,
// so such a read can see values one evaluation interval old.
{
  local cfg = $._config,
  local l = cfg.labels,
  local sel = cfg.icmpSelector,
  local by = '%s, %s' % [l.source, l.group],
  local label(name) = '{{ $labels.' + name + ' }}',
  // The labels of the alert, for per-target descriptions (routing labels such as site or zone).
  local allLabels = 'Labels: {{ range $k, $v := $labels }}{{ if ne $k "__name__" }}{{ $k }}={{ $v }} {{ end }}{{ end }}',
  // Where the target is, in a description: "<target> (ip <ip>, group <group>)".
  local targetDetail = label(l.target) + ' (ip ' + label(l.ip) + ', group ' + label(l.group) + ')',

  // groupMostlyDown: the groups (by source and group) with at least the threshold share of
  // targets down and enough targets to count.
  local groupMostlyDown = |||
    1 - avg by (%(by)s) (icmp_up{%(sel)s}) >= %(ratio)s
    and on(%(by)s)
    count by (%(by)s) (icmp_up{%(sel)s}) >= %(min)s
  ||| % { by: by, sel: sel, ratio: $.threshold('groupDownRatio'), min: $.threshold('groupMinTargets') },
  local indent(s) = std.join('\n', ['  ' + line for line in std.split(std.rstripChars(s, '\n'), '\n')]),
  // vantageDown: the groups (by source and group) whose vantage is down (docs/vantage.md): their
  // targets failed together, or the anchors did; the exporter as a whole takes every group down.
  // Without a vantage: section there is no icmp_vantage_up, and nothing is held back.
  local vantageDown = 'icmp_vantage_up{%(sel)s, %(group)s!=""} == 0' % { sel: sel, group: l.group },

  local alert(name, expr, severity, summary, description, forDuration=null) =
    {
      alert: name,
      expr: expr,
      labels: { severity: severity },
      annotations: {
        summary: summary,
        description: description,
        runbook_url: cfg.runbookURLBase + std.asciiLower(name),
      },
    } + (if forDuration == null then {} else { 'for': forDuration }),

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'icmp_exporter.alerts',
        rules: [
          // $value: seconds since the target went down. Silent while its whole group is mostly
          // down (ICMPGroupMostlyDown pages instead).
          alert(
            'ICMPTargetDown',
            |||
              (
                time() - icmp_state_change_timestamp_seconds{%(sel)s}
                  >= %(down)s
                and
                icmp_up{%(sel)s} == 0
              )
              unless on(%(by)s)
              (
              %(group)s
              )
              unless on(%(by)s)
              %(vantage)s
            ||| % { sel: sel, by: by, down: $.threshold('targetDownSeconds'), group: indent(groupMostlyDown), vantage: vantageDown },
            'critical',
            'An ICMP target does not answer echo requests.',
            'Target ' + targetDetail + ' has not answered ICMP echo requests from source ' + label(l.source) +
            ' for {{ $value | humanizeDuration }}. ' + allLabels,
          ),
          // $value: loss ratio over 5m. Silent while the target is down or its group is mostly down.
          alert(
            'ICMPPacketLossHigh',
            |||
              (
                target:icmp_probe_loss:ratio_rate5m > %(loss)s
                unless
                icmp_up{%(sel)s} == 0
              )
              unless on(%(by)s)
              (
              %(group)s
              )
              unless on(%(by)s)
              %(vantage)s
            ||| % { sel: sel, by: by, loss: $.threshold('packetLossRatio'), group: indent(groupMostlyDown), vantage: vantageDown },
            'warning',
            'Many ICMP echo requests to a target get no reply.',
            '{{ $value | humanizePercentage }} of the ICMP echo requests to ' + targetDetail + ' from source ' +
            label(l.source) + ' got no reply in time over the last 5 minutes. ' + allLabels,
            cfg.alertFor.packetLossHigh,
          ),
          // $value: bursts of loss (runs of 2 or more consecutive lost probes, from the loss run
          // histogram, native or classic) that ended within 15m. Silent while the target is down
          // (an outage is one long run) or its group is mostly down.
          alert(
            'ICMPBurstLoss',
            |||
              (
                (
                  histogram_count(increase(icmp_loss_run_length{%(sel)s}[15m]))
                    * (1 - histogram_fraction(0, 1, increase(icmp_loss_run_length{%(sel)s}[15m])))
                  or
                  (
                    increase(icmp_loss_run_length_count{%(sel)s}[15m])
                      - ignoring(le) increase(icmp_loss_run_length_bucket{%(sel)s, le="1"}[15m])
                  )
                ) >= %(runs)s
                unless
                icmp_up{%(sel)s} == 0
              )
              unless on(%(by)s)
              (
              %(group)s
              )
            ||| % { sel: sel, by: by, runs: $.threshold('burstLossRuns15m'), group: indent(groupMostlyDown) },
            'warning',
            'Echo requests to a target are lost in bursts.',
            '{{ printf "%.0f" $value }} times within the last 15 minutes, two or more consecutive ICMP echo requests to ' +
            targetDetail + ' from source ' + label(l.source) + ' got no reply: losses come in bursts (congestion, ' +
            'policing or a flapping link), not one by one. ' + allLabels,
          ),
          // $value: current 5m median RTT divided by the target's 1-day baseline.
          alert(
            'ICMPLatencyIncrease',
            |||
              (
                target:icmp_rtt_seconds:p50_5m / last_over_time(target:icmp_rtt_seconds:p50_baseline_1d[15m])
                  > %(ratio)s
              )
              and
              (
                target:icmp_rtt_seconds:p50_5m - last_over_time(target:icmp_rtt_seconds:p50_baseline_1d[15m])
                  > %(min)s
              )
            ||| % { ratio: $.threshold('latencyIncreaseRatio'), min: $.threshold('latencyIncreaseMinSeconds') },
            'warning',
            'The round-trip time to a target rose well above its 1-day baseline.',
            'The median RTT of the last 5 minutes to ' + targetDetail + ' from source ' + label(l.source) +
            ' is {{ printf "%.2f" $value }} times its median over the last day. ' + allLabels,
            cfg.alertFor.latencyIncrease,
          ),
          // $value: outages within the last hour.
          alert(
            'ICMPTargetFlapping',
            'increase(icmp_outages_total{%s}[1h]) >= %s\n' % [sel, $.threshold('flappingOutages1h')],
            'warning',
            'An ICMP target goes down and up again repeatedly.',
            'Target ' + targetDetail + ' went down {{ printf "%.0f" $value }} times within the last hour, seen from source ' +
            label(l.source) + '. ' + allLabels,
          ),
          // $value: fraction of the group's targets that are down.
          alert(
            'ICMPGroupMostlyDown',
            groupMostlyDown + 'unless on(%s)\n%s\n' % [by, vantageDown],
            'critical',
            'Most targets of a group are down from one source.',
            '{{ $value | humanizePercentage }} of the targets of group ' + label(l.group) +
            ' do not answer ICMP echo requests from source ' + label(l.source) + '. When most of a group fails at once ' +
            'the cause is usually on the probing side or upstream, not the targets; per-target alerts of the group ' +
            'are held back while this fires.',
            cfg.alertFor.groupMostlyDown,
          ),
          // $value: seconds since the vantage outage started. One alert per source while the
          // exporter's vantage is down (scope="exporter", no group label), else one per group whose
          // own vantage is down (scope="group").
          alert(
            'ICMPVantageDown',
            |||
              label_replace(
                time() - icmp_vantage_last_outage_start_timestamp_seconds{%(sel)s, %(group)s=""}
                and
                icmp_vantage_up{%(sel)s, %(group)s=""} == 0,
                "scope", "exporter", "", "")
              or
              label_replace(
                (
                  time() - icmp_vantage_last_outage_start_timestamp_seconds{%(sel)s, %(group)s!=""}
                  and
                  %(vantage)s
                )
                unless on(%(source)s)
                icmp_vantage_up{%(sel)s, %(group)s=""} == 0,
                "scope", "group", "", "")
            ||| % { sel: sel, group: l.group, source: l.source, vantage: vantageDown },
            'critical',
            'A probing location cannot reach its targets: the problem is on its side.',
            'The vantage of source ' + label(l.source) + '{{ if $labels.' + l.group + ' }} for group ' + label(l.group) +
            '{{ end }} has been down for {{ $value | humanizeDuration }}: its targets failed together, or its anchors did. The outages of its targets are counted ' +
            'as caused by the vantage, and their per-target alerts are held back. Check the network of the exporter ' +
            '{{ $labels.instance }} (job {{ $labels.job }}) first.',
            cfg.alertFor.vantageDown,
          ),
          // $value: the measure named by the label reason (seconds of lag, or events per second).
          alert(
            'ICMPExporterOverloaded',
            |||
              label_replace(
                max by (job, instance) (avg_over_time(icmp_engine_schedule_lag_seconds{%(sel)s}[5m]))
                  > %(lag)s,
                "reason", "schedule_lag", "", "")
              or
              label_replace(
                sum by (job, instance) (rate(icmp_engine_probes_skipped_total{%(sel)s}[5m]))
                  > %(skipped)s,
                "reason", "probes_skipped", "", "")
              or
              label_replace(
                sum by (job, instance) (rate(icmp_engine_kernel_drops_total{%(sel)s}[5m]))
                  > %(drops)s,
                "reason", "kernel_drops", "", "")
            ||| % {
              sel: sel,
              lag: $.threshold('scheduleLagSeconds'),
              skipped: $.threshold('skippedProbesPerSecond'),
              drops: $.threshold('kernelDropsPerSecond'),
            },
            'warning',
            'An icmp_exporter cannot keep up with its probing schedule.',
            'The probing engine of {{ $labels.instance }} (job {{ $labels.job }}) cannot keep up: ' +
            '{{ if eq $labels.reason "schedule_lag" }}sends leave {{ $value | humanizeDuration }} late on average{{ end }} ' +
            '{{- if eq $labels.reason "probes_skipped" }}{{ printf "%.3g" $value }} probes per second are skipped{{ end }} ' +
            '{{- if eq $labels.reason "kernel_drops" }}the kernel drops {{ printf "%.3g" $value }} packets per second before the exporter reads them{{ end }}. ' +
            'Loss and RTT figures of this instance are not trustworthy.',
            cfg.alertFor.exporterOverloaded,
          ),
          alert(
            'ICMPConfigReloadFailed',
            'icmp_exporter_config_last_reload_successful{%s} == 0\n' % sel,
            'warning',
            'An icmp_exporter failed to reload its configuration.',
            'The last configuration reload of {{ $labels.instance }} (job {{ $labels.job }}) failed; the exporter ' +
            'keeps probing with the previous configuration. The log says why.',
            cfg.alertFor.configReloadFailed,
          ),
          alert(
            'ICMPExporterAbsent',
            |||
              up{%(sel)s} == 0
              or
              absent(up{%(sel)s})
            ||| % { sel: sel },
            'critical',
            'An icmp_exporter is not scraped.',
            '{{ if $labels.instance }}Prometheus cannot scrape {{ $labels.instance }} (job {{ $labels.job }})' +
            '{{ else }}Prometheus has no scrape target in job {{ $labels.job }}{{ end }}: none of its targets is ' +
            'monitored, and their alerts stay silent.',
            cfg.alertFor.exporterAbsent,
          ),
        ],
      },
      {
        // Dual stack: names probed over IPv4 and IPv6 at once (groups with ip_version: both);
        // each series carries the ip_version label.
        name: 'icmp_exporter.dual_stack',
        rules: [
          // $value: seconds since the IPv6 series of the name went down. Fires when IPv6 has
          // been down for the target-down threshold while IPv4 to the same name answers: a v6
          // routing, firewall or AAAA problem rather than a dead host.
          alert(
            'ICMPIPv6BrokenIPv4Works',
            |||
              (
                time() - icmp_state_change_timestamp_seconds{%(sel)s, %(v)s="6"}
                  >= %(down)s
                and
                icmp_up{%(sel)s, %(v)s="6"} == 0
              )
              and on(%(by)s, %(target)s)
              icmp_up{%(sel)s, %(v)s="4"} == 1
            ||| % { sel: sel, v: l.ipVersion, by: by, target: l.target, down: $.threshold('targetDownSeconds') },
            'warning',
            'A target answers over IPv4 but not over IPv6.',
            label(l.target) + ' does not answer over IPv6 (ip ' + label(l.ip) + ', group ' + label(l.group) +
            ') from source ' + label(l.source) + ' for {{ $value | humanizeDuration }}, while it answers over IPv4. ' + allLabels,
          ),
        ],
      },
    ],
  },
}
