// Overview: targets up and down by group, the targets down now, worst loss and RTT, outages.
local d = import '../lib/dashboard.libsonnet';

function(cfg)
  local c = (import 'common.libsonnet')(cfg);
  local l = c.labels;
  local S = c.sel(['job', 'instance', 'source', 'group']);
  local sg = '%s, %s' % [l.source, l.group];
  local sgt = '%s, %s, %s' % [l.source, l.group, l.target];
  local legendGroup = '{{%s}} from {{%s}}' % [l.group, l.source];
  local legendTarget = '{{%s}} ({{%s}}) from {{%s}}' % [l.target, l.group, l.source];
  local onTarget = 'on(job, instance, %s, %s, %s, %s)' % [l.source, l.group, l.target, l.ip];
  d.dashboard(
    cfg,
    'overview',
    'Overview',
    'Targets up and down by group, the targets down now, worst loss and RTT, recent outages.',
    c.variables(withTarget=false),
    [
      d.panel('stat', 'Targets', 'Targets probed (one series of icmp_up per target and source).',
              [d.target('count(icmp_up{%s})' % S, instant=true)], w=4, h=4, unit='none',
              options=d.statOptions('none'), field={ color: { mode: 'fixed', fixedColor: 'blue' } }),
      d.panel('stat', 'Up', 'Targets answering echo requests (icmp_up = 1).',
              [d.target('sum(icmp_up{%s})' % S, instant=true)], w=4, h=4, unit='none',
              options=d.statOptions('value'), field={ color: { mode: 'fixed', fixedColor: 'green' } }),
      d.panel('stat', 'Down', 'Targets down: down_after consecutive probes lost (icmp_up = 0).',
              [d.target('count(icmp_up{%s}) - sum(icmp_up{%s})' % [S, S], instant=true)], w=4, h=4, unit='none',
              options=d.statOptions('background'), field={ thresholds: d.thresholds(['green', 1, 'red']), color: { mode: 'thresholds' } }),
      d.panel('stat', 'Loss (all selected)', 'Share of probes without a reply in time over the selected targets, over the rate interval.',
              [d.target(c.loss('', S), instant=true)], w=4, h=4, unit='percentunit', decimals=2,
              options=d.statOptions('value'), field=c.lossField),
      d.panel('stat', 'Worst group median RTT', 'The highest median round-trip time of any selected group (per source), over the rate interval.',
              [d.target('max(%s)' % c.rtt('0.5', sg, S), instant=true)], w=4, h=4, unit='s',
              options=d.statOptions('value'), field={ color: { mode: 'fixed', fixedColor: 'text' } }),
      d.panel('stat', 'Outages in range', 'Outages that started within the dashboard time range.',
              [d.target('sum(increase(icmp_outages_total{%s}[$__range]))' % S, instant=true)], w=4, h=4, unit='none',
              decimals=0, options=d.statOptions('value'), field={ thresholds: d.thresholds(['green', 1, 'orange']), color: { mode: 'thresholds' } }),
      d.row('Groups'),
      d.panel('bargauge', 'Targets up by group', "Share of each group's targets that are up, per source.",
              [d.target('sum by (%s) (icmp_up{%s}) / count by (%s) (icmp_up{%s})' % [sg, S, sg, S], instant=true, legendFormat=legendGroup)],
              w=8, h=9, unit='percentunit', options=d.barGaugeOptions('basic'),
              field={ min: 0, max: 1, thresholds: d.thresholds(['red', 0.5, 'orange', 0.99, 'green']), color: { mode: 'thresholds' } }),
      d.panel('timeseries', 'Targets down by group', 'Number of targets down in each group over time.',
              [d.target('sum by (%s) (1 - icmp_up{%s})' % [sg, S], legendFormat=legendGroup)],
              w=16, h=9, unit='none', decimals=0, options=d.tsOptions(), field=c.tsField),
      d.panel('timeseries', 'Loss by group', 'Share of probes without a reply in time, per group and source.',
              [d.target(c.loss(sg, S), legendFormat=legendGroup)],
              w=12, h=8, unit='percentunit', options=d.tsOptions('table', ['mean', 'max']), field=c.tsField { min: 0 }),
      d.panel('timeseries', 'Median RTT by group', 'Median round-trip time per group and source, from the RTT histograms (native, or classic buckets).',
              [d.target(c.rtt('0.5', sg, S), legendFormat=legendGroup)],
              w=12, h=8, unit='s', options=d.tsOptions('table', ['mean', 'max']), field=c.tsField),
      d.row('Targets'),
      d.panel('table', 'Targets down now', 'Targets that are down, with the time since they went down. Empty when every target is up.',
              [d.target('(time() - icmp_state_change_timestamp_seconds{%s}) and icmp_up{%s} == 0' % [S, S], instant=true, format='table')],
              w=12, h=8, unit='s', options=d.tableOptions('Down for'),
              transformations=[{ id: 'organize', options: { excludeByName: { Time: true, job: true }, renameByName: { Value: 'Down for' } } }],
              field={ links: c.targetLink }),
      d.panel('table', 'Recent outages', 'Targets with outages within the dashboard time range: how many, and the start and duration of the last one (it grows while ongoing).',
              [
                d.target('increase(icmp_outages_total{%s}[$__range]) > 0' % S, instant=true, format='table'),
                d.target('icmp_last_outage_start_timestamp_seconds{%s} * 1000 and %s increase(icmp_outages_total{%s}[$__range]) > 0' % [S, onTarget, S],
                         instant=true, format='table'),
                d.target('icmp_last_outage_duration_seconds{%s} and %s increase(icmp_outages_total{%s}[$__range]) > 0' % [S, onTarget, S],
                         instant=true, format='table'),
              ],
              w=12, h=8, options=d.tableOptions('Last start'),
              transformations=[
                { id: 'merge', options: {} },
                { id: 'organize', options: {
                  excludeByName: { Time: true, job: true },
                  renameByName: { 'Value #A': 'Outages', 'Value #B': 'Last start', 'Value #C': 'Last duration' },
                } },
              ],
              field={ links: c.targetLink },
              overrides=[d.columnUnit('Outages', 'none', 0), d.columnUnit('Last start', 'dateTimeAsIso'), d.columnUnit('Last duration', 's')]),
      d.panel('bargauge', 'Worst loss', 'The 10 targets with the highest share of probes lost over the rate interval.',
              [d.target('topk(10, %s)' % c.loss(sgt, S), instant=true, legendFormat=legendTarget)],
              w=12, h=9, unit='percentunit', decimals=1, options=d.barGaugeOptions('gradient'),
              field=c.lossField { links: c.targetLink }),
      d.panel('bargauge', 'Worst median RTT', 'The 10 targets with the highest median round-trip time over the rate interval.',
              [d.target('topk(10, %s)' % c.rtt('0.5', sgt, S), instant=true, legendFormat=legendTarget)],
              w=12, h=9, unit='s', options=d.barGaugeOptions('gradient'),
              field={ min: 0, thresholds: d.thresholds(['green', 0.05, 'yellow', 0.2, 'red']), color: { mode: 'continuous-GrYlRd' }, links: c.targetLink }),
      d.panel('timeseries', 'Outages by group', 'Outages that started per group, over the rate interval.',
              [d.target('sum by (%s) (increase(icmp_outages_total{%s}[$__rate_interval]))' % [sg, S], legendFormat=legendGroup)],
              w=24, h=7, unit='none', options=d.tsOptions(),
              field={ custom: { drawStyle: 'bars', fillOpacity: 80, lineWidth: 1, showPoints: 'never' }, color: { mode: 'palette-classic' } }),
    ],
    links=c.links(),
  )
