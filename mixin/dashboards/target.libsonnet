// Target: one target's RTT distribution (heatmap and smokeping-style bands), loss, outages, reply
// TTL and state changes.
local d = import '../lib/dashboard.libsonnet';

function(cfg)
  local c = (import 'common.libsonnet')(cfg);
  local l = c.labels;
  local T = c.sel(['job', 'instance', 'source', 'group', 'target'], single=['target']);
  local src = l.source;
  local bySrc = '{{%s}}' % l.source;
  local stepField(custom) = {
    custom: { drawStyle: 'line', lineInterpolation: 'stepAfter', lineWidth: 1, showPoints: 'never' } + custom,
    color: { mode: 'palette-classic' },
  };
  local bands = [['p10', '0.1'], ['p25', '0.25'], ['p50', '0.5'], ['p75', '0.75'], ['p90', '0.9']];
  local probes = [
    ['icmp_probes_sent_total', 'sent'],
    ['icmp_replies_total', 'replies'],
    ['icmp_probes_lost_total', 'lost'],
    ['icmp_late_replies_total', 'late'],
    ['icmp_duplicate_replies_total', 'duplicates'],
    ['icmp_probes_skipped_total', 'skipped'],
  ];
  d.dashboard(
    cfg,
    'target',
    'Target',
    'One target: RTT distribution (heatmap and smokeping-style quantile bands), loss, outages, reply TTL, state changes.',
    c.variables(targetSingle=true),
    [
      d.panel('stat', 'State', "Up or down per source, from the exporter's up/down state machine (icmp_up).",
              [d.target('icmp_up{%s}' % T, instant=true, legendFormat=bySrc)], w=6, h=4, unit='none',
              options=d.statOptions('background'),
              field={ mappings: c.upMapping, color: { mode: 'thresholds' }, thresholds: d.thresholds(['red', 1, 'green']) }),
      d.panel('stat', 'Loss in range', 'Share of probes without a reply in time over the dashboard time range, per source.',
              [d.target(c.loss(src, T, '$__range', 'increase'), instant=true, legendFormat=bySrc)], w=6, h=4,
              unit='percentunit', decimals=2, options=d.statOptions('value'), field=c.lossField),
      d.panel('stat', 'Median RTT', 'Median round-trip time over the rate interval, per source.',
              [d.target(c.rtt('0.5', src, T), instant=true, legendFormat=bySrc)], w=6, h=4, unit='s',
              options=d.statOptions('none')),
      d.panel('stat', 'Last state change', 'When icmp_up last changed (the exporter start for targets that never changed).',
              [d.target('icmp_state_change_timestamp_seconds{%s} * 1000' % T, instant=true, legendFormat=bySrc)],
              w=6, h=4, unit='dateTimeFromNow', options=d.statOptions('none')),
      d.row('Round-trip time'),
      d.panel('heatmap', 'RTT heatmap', 'Distribution of round-trip times (smokeping-style) from the icmp_rtt_seconds histogram: A reads native histograms, B classic buckets (whichever the group exports). The median line is in the panel next to it.',
              [
                d.target('sum(rate(icmp_rtt_seconds{%s}[$__rate_interval]))' % T, format='heatmap', legendFormat='native'),
                d.target('sum by (le) (rate(icmp_rtt_seconds_bucket{%s}[$__rate_interval]))' % T, format='heatmap', legendFormat='{{le}}'),
              ],
              w=12, h=10, unit='s',
              options={
                calculate: false,
                cellGap: 0,
                cellValues: { unit: 'reqps' },
                color: { mode: 'scheme', scheme: 'Spectral', steps: 64, exponent: 0.5, fill: 'dark-orange', reverse: true, scale: 'exponential' },
                exemplars: { color: 'rgba(255,0,255,0.7)' },
                filterValues: { le: 1e-9 },
                legend: { show: true },
                showValue: 'auto',
                rowsFrame: { layout: 'auto' },
                tooltip: { mode: 'single', yHistogram: true, showColorScale: false },
                yAxis: { axisPlacement: 'left', unit: 's', reverse: false },
              },
              field={ custom: { scaleDistribution: { type: 'linear' }, hideFrom: { legend: false, tooltip: false, viz: false } } }),
      d.panel('timeseries', 'RTT smoke: median and spread', "Median RTT (line) with the 25–75 % and 10–90 % bands of the distribution shaded around it, like smokeping's smoke. Sum over the selected sources.",
              [d.target(c.rtt(b[1], '', T), legendFormat=b[0]) for b in bands],
              w=12, h=10, unit='s', options=d.tsOptions('list', ['mean', 'min', 'max']),
              field={ custom: { drawStyle: 'line', lineWidth: 0, fillOpacity: 0, showPoints: 'never', spanNulls: false }, color: { mode: 'fixed', fixedColor: 'blue' } },
              overrides=[
                { matcher: { id: 'byName', options: 'p50' }, properties: [{ id: 'custom.lineWidth', value: 2 }, { id: 'color', value: { mode: 'fixed', fixedColor: 'dark-green' } }] },
                { matcher: { id: 'byName', options: 'p90' }, properties: [{ id: 'custom.fillBelowTo', value: 'p10' }, { id: 'custom.fillOpacity', value: 15 }] },
                { matcher: { id: 'byName', options: 'p75' }, properties: [{ id: 'custom.fillBelowTo', value: 'p25' }, { id: 'custom.fillOpacity', value: 30 }] },
              ]),
      d.panel('timeseries', 'RTT quantiles by source', 'Median and 99th percentile round-trip time per source.',
              [
                d.target(c.rtt('0.5', src, T), legendFormat='p50 from ' + bySrc),
                d.target(c.rtt('0.99', src, T), legendFormat='p99 from ' + bySrc),
              ],
              w=24, h=8, unit='s', options=d.tsOptions('table', ['mean', 'max', 'lastNotNull']), field=c.tsField),
      d.row('Loss and probes'),
      d.panel('timeseries', 'Loss', 'Share of probes without a reply in time (lost, ICMP error, or late), per source.',
              [d.target(c.loss(src, T), legendFormat=bySrc)],
              w=12, h=8, unit='percentunit', options=d.tsOptions('table', ['mean', 'max']), field=c.tsField { min: 0, max: 1 }),
      d.panel('timeseries', 'Probes', 'Probes sent, replies, lost, late and duplicate replies and skipped probes per second.',
              [
                d.target('sum by (%s) (rate(%s{%s}[$__rate_interval]))' % [src, p[0], T], legendFormat='%s from %s' % [p[1], bySrc])
                for p in probes
              ],
              w=12, h=8, unit='pps', options=d.tsOptions(), field=c.tsField),
      d.panel('timeseries', 'ICMP and DNS errors', 'Probes answered by an ICMP error (by type) or whose send failed, and failed DNS resolutions; a flat 0 when there are none.',
              [
                d.target('sum by (%s, %s) (rate(icmp_errors_total{%s}[$__rate_interval])) or on() vector(0)' % [src, l.errorType, T],
                         legendFormat='{{%s}} %s' % [l.errorType, bySrc]),
                d.target('sum by (%s) (rate(icmp_dns_errors_total{%s}[$__rate_interval])) or on() vector(0)' % [src, T], legendFormat='dns ' + bySrc),
              ],
              w=12, h=8, unit='pps', options=d.tsOptions(), field=c.tsField),
      d.panel('timeseries', 'Reply TTL', 'IP TTL / hop limit of the last reply per source: a change means the path changed.',
              [d.target('icmp_reply_ttl{%s}' % T, legendFormat='%s ({{%s}})' % [bySrc, l.ip])],
              w=12, h=8, unit='none', decimals=0, options=d.tsOptions(), field=stepField({ fillOpacity: 0 })),
      d.row('Outages'),
      d.panel('state-timeline', 'Up / down', 'Timeline of the up/down state per source: every red stretch is an outage.',
              [d.target('icmp_up{%s}' % T, legendFormat=bySrc)],
              w=24, h=5, unit='none',
              options={
                mergeValues: true,
                showValue: 'never',
                alignValue: 'left',
                rowHeight: 0.8,
                legend: { displayMode: 'list', placement: 'bottom', showLegend: true, calcs: [] },
                tooltip: { mode: 'single', sort: 'none' },
              },
              field={ mappings: c.upMapping, color: { mode: 'thresholds' }, thresholds: d.thresholds(['red', 1, 'green']), custom: { fillOpacity: 80, lineWidth: 0 } }),
      d.panel('table', 'Last outage', 'Start, end and duration of the last outage per source. End 0 / empty means ongoing; start and end are exact to within the resolution (one probing interval).',
              [
                d.target('icmp_last_outage_start_timestamp_seconds{%s} * 1000' % T, instant=true, format='table'),
                d.target('icmp_last_outage_end_timestamp_seconds{%s} * 1000 > 0' % T, instant=true, format='table'),
                d.target('icmp_last_outage_duration_seconds{%s}' % T, instant=true, format='table'),
                d.target('icmp_outage_resolution_seconds{%s}' % T, instant=true, format='table'),
                d.target('increase(icmp_outages_total{%s}[$__range])' % T, instant=true, format='table'),
              ],
              w=12, h=8, options=d.tableOptions('Start'),
              transformations=[
                { id: 'merge', options: {} },
                { id: 'organize', options: {
                  excludeByName: { Time: true, job: true, instance: true, [l.group]: true, [l.target]: true },
                  renameByName: { 'Value #A': 'Start', 'Value #B': 'End', 'Value #C': 'Duration', 'Value #D': 'Resolution', 'Value #E': 'Outages in range' },
                } },
              ],
              overrides=[
                d.columnUnit('Start', 'dateTimeAsIso'),
                d.columnUnit('End', 'dateTimeAsIso'),
                d.columnUnit('Duration', 's'),
                d.columnUnit('Resolution', 's'),
                d.columnUnit('Outages in range', 'none', 0),
              ]),
      d.panel('timeseries', 'Outage duration', 'Duration of the last outage per source; it grows while the outage lasts and stays at its final value afterwards.',
              [d.target('icmp_last_outage_duration_seconds{%s}' % T, legendFormat=bySrc)],
              w=12, h=8, unit='s', options=d.tsOptions(), field=stepField({ fillOpacity: 10 })),
      d.panel('bargauge', 'Completed outages by duration', 'Completed outages in the time range by duration (icmp_outage_duration_seconds buckets, cumulative: each bar counts the outages up to that duration).',
              [d.target('sum by (le) (increase(icmp_outage_duration_seconds_bucket{%s}[$__range]))' % T, instant=true, format='heatmap', legendFormat='≤ {{le}} s')],
              w=12, h=8, unit='none', decimals=0, options=d.barGaugeOptions('basic', 'vertical'),
              field={ min: 0, color: { mode: 'fixed', fixedColor: 'orange' } }),
      d.panel('timeseries', 'State changes', 'Changes of the up/down state per source within each rate interval.',
              [d.target('changes(icmp_up{%s}[$__rate_interval])' % T, legendFormat=bySrc)],
              w=12, h=8, unit='none', decimals=0, options=d.tsOptions(),
              field={ custom: { drawStyle: 'bars', fillOpacity: 80, lineWidth: 1, showPoints: 'never' }, color: { mode: 'palette-classic' } }),
    ],
    links=c.links(),
    annotations=[{
      name: 'State changes',
      datasource: d.ds,
      enable: true,
      hide: false,
      iconColor: 'red',
      expr: 'changes(icmp_up{%s}[$__rate_interval]) > 0' % T,
      step: '60s',
      titleFormat: 'state change',
      textFormat: '{{%s}} from {{%s}}' % [l.target, l.source],
      useValueForTime: false,
    }],
  )
