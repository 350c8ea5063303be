// Settings of the icmp_exporter mixin. Override any of them with
//   (import 'mixin.libsonnet') + { _config+:: { icmpSelector: 'job="ping"' } }
// docs/mixin.md lists them with their defaults.
{
  _config+:: {
    // Label matchers selecting the exporters' series in rules and alerts (the scrape job).
    icmpSelector: 'job="icmp"',

    // Label names of the exporter's series. Change them when relabelling renames a label.
    labels: {
      source: 'source',  // the probing location (the exporter's source.name)
      group: 'group',  // the target group of the configuration
      target: 'target',  // the target as written in the configuration
      ip: 'ip',  // the probed address
      errorType: 'error_type',  // the ICMP error kind of icmp_errors_total
      ipVersion: 'ip_version',  // 4 or 6 on names probed over both families (ip_version: both)
    },

    // Alert thresholds. Rules record each one as a constant (icmp:threshold:*), so a single one can
    // also be overridden by a recording rule of the same name without regenerating.
    thresholds: {
      // ICMPTargetDown: icmp_up has been 0 for this long (seconds). The exporter already needs
      // down_after consecutive lost probes before icmp_up turns 0.
      targetDownSeconds: 60,
      // ICMPPacketLossHigh: loss ratio (0..1) over 5 minutes.
      packetLossRatio: 0.05,
      // ICMPLatencyIncrease: the 5m median RTT exceeds the target's 1-day baseline by this factor
      // AND by at least this many seconds (so 20µs -> 60µs on a LAN stays quiet).
      latencyIncreaseRatio: 1.5,
      latencyIncreaseMinSeconds: 0.005,
      // ICMPTargetFlapping: this many outages or more within one hour.
      flappingOutages1h: 3,
      // ICMPBurstLoss: this many bursts (runs of 2 or more consecutive lost probes) or more within
      // 15 minutes.
      burstLossRuns15m: 3,
      // ICMPGroupMostlyDown: at least this fraction (0..1) of a group's targets down, in a group
      // of at least groupMinTargets targets. While it holds, per-target alerts of the group stay silent.
      groupDownRatio: 0.5,
      groupMinTargets: 3,
      // ICMPExporterOverloaded: 5m average of the per-scrape maximum schedule lag (seconds), and
      // rates (per second) of skipped probes and kernel drops.
      scheduleLagSeconds: 0.1,
      skippedProbesPerSecond: 0,
      kernelDropsPerSecond: 0,
    },

    // How long a condition must hold before an alert fires.
    alertFor: {
      packetLossHigh: '10m',
      latencyIncrease: '15m',
      groupMostlyDown: '1m',
      vantageDown: '1m',
      exporterOverloaded: '10m',
      configReloadFailed: '5m',
      exporterAbsent: '5m',
    },

    // runbook_url of an alert: this base followed by the alert name in lower case.
    runbookURLBase: 'https://github.com/icmp-exporter/icmp_exporter/blob/main/docs/runbook.md#',

    // Dashboards: the Prometheus datasource variable's default (a datasource name, or 'default'
    // for Grafana's default datasource) and a regex limiting the datasources it offers.
    datasourceName: 'default',
    datasourceRegex: '',
    dashboardUIDPrefix: 'icmp-exporter-',
    dashboardTitlePrefix: 'ICMP exporter / ',
    dashboardTags: ['icmp_exporter', 'icmp'],
    dashboardRefresh: '30s',
    dashboardTimezone: '',
    dashboardTimeFrom: 'now-6h',
    // Grafana: whether the dashboards can be edited in the UI (provisioned copies are read-only).
    dashboardEditable: false,
  },
}
