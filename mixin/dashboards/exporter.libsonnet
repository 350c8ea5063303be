// Exporter health: the exporters themselves (probes per second, schedule lag, drops, foreign
// packets, scrape size, reloads).
local d = import '../lib/dashboard.libsonnet';

function(cfg)
  local c = (import 'common.libsonnet')(cfg);
  local l = c.labels;
  local I = c.sel(['job', 'instance']);
  local byInstance = '{{instance}}';
  local rate(metric, by='instance') = 'sum by (%s) (rate(%s{%s}[$__rate_interval]))' % [by, metric, I];
  local okMapping(zero, one) = [{ type: 'value', options: { '0': { text: zero, color: 'red', index: 0 }, '1': { text: one, color: 'green', index: 1 } } }];
  d.dashboard(
    cfg,
    'health',
    'Exporter health',
    'The exporters themselves: probes per second, schedule lag, drops, foreign packets, scrape size, reloads.',
    c.jobInstance,
    [
      d.panel('stat', 'Up', 'Whether Prometheus could scrape the instance (up).',
              [d.target('up{%s}' % I, instant=true, legendFormat=byInstance)], w=6, h=4, unit='none',
              options=d.statOptions('background'),
              field={ mappings: c.upMapping, color: { mode: 'thresholds' }, thresholds: d.thresholds(['red', 1, 'green']) }),
      d.panel('stat', 'Targets', 'Targets each engine probes (icmp_engine_targets).',
              [d.target('icmp_engine_targets{%s}' % I, instant=true, legendFormat=byInstance)], w=6, h=4, unit='none',
              options=d.statOptions('none')),
      d.panel('stat', 'Config reload', 'Whether the last configuration load succeeded (icmp_exporter_config_last_reload_successful).',
              [d.target('icmp_exporter_config_last_reload_successful{%s}' % I, instant=true, legendFormat=byInstance)], w=6, h=4, unit='none',
              options=d.statOptions('background'),
              field={ mappings: okMapping('FAILED', 'OK'), color: { mode: 'thresholds' }, thresholds: d.thresholds(['red', 1, 'green']) }),
      d.panel('stat', 'Last successful reload', 'Time of the last successful configuration load.',
              [d.target('icmp_exporter_config_last_reload_success_timestamp_seconds{%s} * 1000' % I, instant=true, legendFormat=byInstance)],
              w=6, h=4, unit='dateTimeFromNow', options=d.statOptions('none')),
      d.row('Engine'),
      d.panel('timeseries', 'Packets per second', 'Echo requests sent and packets received per second by each engine.',
              [
                d.target(rate('icmp_engine_packets_sent_total'), legendFormat='sent ' + byInstance),
                d.target(rate('icmp_engine_packets_received_total'), legendFormat='received ' + byInstance),
              ],
              w=12, h=8, unit='pps', options=d.tsOptions('table', ['mean', 'max']), field=c.tsField),
      d.panel('timeseries', 'Replies by timestamp source', 'Replies per second by where their RTT came from: kernel_tx_rx (best), kernel_rx, userspace (degraded).',
              [d.target(rate('icmp_engine_replies_total', 'instance, timestamp_source'), legendFormat='{{timestamp_source}} ' + byInstance)],
              w=12, h=8, unit='pps', options=d.tsOptions(), field=c.tsField),
      d.panel('timeseries', 'Schedule lag', 'Largest delay of a send batch behind its schedule between two scrapes. Persistently high: the engine cannot keep up.',
              [d.target('max by (instance) (icmp_engine_schedule_lag_seconds{%s})' % I, legendFormat=byInstance)],
              w=12, h=8, unit='s', options=d.tsOptions('table', ['mean', 'max']), field=c.tsField),
      d.panel('timeseries', 'Skipped probes and drops', 'Probes skipped because the engine fell behind, packets the kernel dropped before the engine read them, and failed sends, per second.',
              [
                d.target(rate('icmp_engine_probes_skipped_total'), legendFormat='skipped ' + byInstance),
                d.target(rate('icmp_engine_kernel_drops_total'), legendFormat='kernel drops ' + byInstance),
                d.target(rate('icmp_engine_send_errors_total'), legendFormat='send errors ' + byInstance),
              ],
              w=12, h=8, unit='pps', options=d.tsOptions(), field=c.tsField),
      d.panel('timeseries', 'Foreign and invalid packets', "Echo replies whose tag did not verify (other processes' pings, spoofing) and malformed packets, per second.",
              [
                d.target(rate('icmp_engine_foreign_replies_total'), legendFormat='foreign ' + byInstance),
                d.target(rate('icmp_engine_invalid_packets_total'), legendFormat='invalid ' + byInstance),
              ],
              w=12, h=8, unit='pps', options=d.tsOptions(), field=c.tsField),
      d.panel('timeseries', 'Probes per second by source', 'Probes sent per second per source, summed over targets.',
              [d.target(rate('icmp_probes_sent_total', l.source), legendFormat='{{%s}}' % l.source)],
              w=12, h=8, unit='pps', options=d.tsOptions(), field=c.tsField),
      d.row('Scrapes and process'),
      d.panel('timeseries', 'Scrape size', 'Samples per scrape of each instance: grows with targets × metrics (histogram buckets count).',
              [d.target('scrape_samples_scraped{%s}' % I, legendFormat=byInstance)],
              w=8, h=8, unit='none', options=d.tsOptions(), field=c.tsField),
      d.panel('timeseries', 'Scrape duration', 'How long Prometheus takes to scrape each instance.',
              [d.target('scrape_duration_seconds{%s}' % I, legendFormat=byInstance)],
              w=8, h=8, unit='s', options=d.tsOptions(), field=c.tsField),
      d.panel('timeseries', 'Reply ratio', 'Share of probes answered in time, per instance, over all its targets: a drop on every instance at once points at the probing side.',
              [d.target('%s / (%s > 0)' % [rate('icmp_replies_total'), rate('icmp_probes_sent_total')], legendFormat=byInstance)],
              w=8, h=8, unit='percentunit', options=d.tsOptions(), field=c.tsField { min: 0, max: 1 }),
      d.panel('table', 'Instances', 'Datapath, mode and timestamp source of each engine, its source and location, and the exporter version.',
              [
                d.target('icmp_engine_info{%s}' % I, instant=true, format='table'),
                d.target('icmp_source_info{%s}' % I, instant=true, format='table'),
                d.target('icmp_exporter_build_info{%s}' % I, instant=true, format='table'),
              ],
              w=24, h=6, unit='none', options=d.tableOptions(),
              transformations=[
                { id: 'merge', options: {} },
                { id: 'organize', options: { excludeByName: { Time: true, 'Value #A': true, 'Value #B': true, 'Value #C': true, __name__: true } } },
              ]),
    ],
    links=c.links(includeVars=false),
  )
