// Loss shape and delay variation panels of the Target dashboard: loss runs (isolated losses
// against bursts), IPDV, RFC 3550 jitter and reordered replies. The histograms are native or
// classic as the group exports them: every query reads both forms.
local d = import '../lib/dashboard.libsonnet';

function(cfg)
  local c = (import 'common.libsonnet')(cfg);
  local src = c.labels.source;
  local bySrc = '{{%s}}' % src;
  local runs = 'icmp_loss_run_length';
  // runRate: summed by `by` (default: per source), the rate over rng (or increase, with fn) of
  // loss runs of one lost probe (part 'isolated') or of two and more ('bursts'). Native: the count times the share of
  // runs up to length 1 (exact: 1 is a bucket bound); a histogram without runs gives NaN there,
  // which `>= 0` drops for the plain count (0). Classic: the _count and le="1" series.
  local runRate(part, sel, rng, fn='rate', by=src) =
    local h = '%s(%s{%s}[%s])' % [fn, runs, sel, rng];
    local share = {
      isolated: ' * histogram_fraction(0, 1, %s)' % h,
      bursts: ' * (1 - histogram_fraction(0, 1, %s))' % h,
    }[part];
    local classic = {
      isolated: '%s(%s_bucket{%s,le="1"}[%s])' % [fn, runs, sel, rng],
      bursts: '%s(%s_count{%s}[%s]) - ignoring(le) %s(%s_bucket{%s,le="1"}[%s])' % [fn, runs, sel, rng, fn, runs, sel, rng],
    }[part];
    'sum by (%s) ((histogram_count(%s)%s) >= 0 or histogram_count(%s)) or sum by (%s) (%s)' %
    [by, h, share, h, by, classic];
  {
    // overview: the panels of the Overview dashboard for selector S; sgt sums by source, group and
    // target, legend and links name the target.
    overview(S, sgt, legend, links):: [
      d.panel('bargauge',
              'Most loss bursts',
              'The 10 targets with the most bursts of loss (runs of two and more consecutive lost probes, icmp_loss_run_length) that ended in the time range.',
              [d.target('topk(10, %s > 0)' % runRate('bursts', S, '$__range', 'increase', sgt), instant=true, legendFormat=legend)],
              w=24,
              h=7,
              unit='none',
              decimals=0,
              options=d.barGaugeOptions('gradient'),
              field={ min: 0, thresholds: d.thresholds(['green', 1, 'yellow', 3, 'red']), color: { mode: 'continuous-GrYlRd' }, links: links }),
    ],

    // target: the panels for the target selector T.
    target(T):: [
      d.row('Loss shape and jitter'),
      d.panel('timeseries',
              'Loss runs: isolated and bursts',
              'Runs of consecutive lost probes that ended, per second: single lost probes against bursts of two and more (icmp_loss_run_length). The same loss ratio hurts far more in bursts.',
              [
                d.target(runRate('isolated', T, '$__rate_interval'), legendFormat='isolated from ' + bySrc),
                d.target(runRate('bursts', T, '$__rate_interval'), legendFormat='bursts from ' + bySrc),
              ],
              w=12,
              h=8,
              unit='cps',
              options=d.tsOptions('table', ['mean', 'max']),
              field=c.tsField),
      d.panel('stat',
              'Bursts in range',
              'Bursts of loss (runs of two and more consecutive lost probes) that ended in the time range, per source; an outage that ended is one long run.',
              [d.target(runRate('bursts', T, '$__range', 'increase'), instant=true, legendFormat=bySrc)],
              w=6,
              h=4,
              unit='none',
              decimals=0,
              options=d.statOptions('value'),
              field={ color: { mode: 'thresholds' }, thresholds: d.thresholds(['green', 1, 'yellow', 3, 'red']) }),
      d.panel('stat',
              'Mean loss run in range',
              'Probes per run of consecutive losses over the time range, per source: 1 means every loss was alone.',
              [d.target('sum by (%(s)s) (histogram_sum(increase(%(m)s{%(T)s}[$__range]))) / sum by (%(s)s) (histogram_count(increase(%(m)s{%(T)s}[$__range])))' % { s: src, m: runs, T: T } +
                        ' or sum by (%(s)s) (increase(%(m)s_sum{%(T)s}[$__range])) / sum by (%(s)s) (increase(%(m)s_count{%(T)s}[$__range]))' % { s: src, m: runs, T: T },
                        instant=true,
                        legendFormat=bySrc)],
              w=6,
              h=4,
              unit='none',
              decimals=1,
              options=d.statOptions('none')),
      d.panel('stat',
              'Reordered in range',
              'Replies that arrived after the reply to a probe sent later, in the time range, per source.',
              [d.target('sum by (%s) (increase(icmp_reordered_replies_total{%s}[$__range]))' % [src, T], instant=true, legendFormat=bySrc)],
              w=6,
              h=4,
              unit='none',
              decimals=0,
              options=d.statOptions('none')),
      d.panel('stat',
              'Jitter now',
              'RFC 3550 smoothed jitter of the round-trip times (icmp_jitter_seconds), per source.',
              [d.target('icmp_jitter_seconds{%s}' % T, instant=true, legendFormat=bySrc)],
              w=6,
              h=4,
              unit='s',
              options=d.statOptions('none')),
      d.panel('timeseries',
              'Delay variation',
              'Median and 99th percentile of |IPDV| (RFC 3393/5481: the RTT difference of the replies to two consecutive probes, icmp_ipdv_seconds) and the RFC 3550 jitter, per source.',
              [
                d.target(c.quantile('icmp_ipdv_seconds', '0.5', src, T), legendFormat='IPDV p50 from ' + bySrc),
                d.target(c.quantile('icmp_ipdv_seconds', '0.99', src, T), legendFormat='IPDV p99 from ' + bySrc),
                d.target('icmp_jitter_seconds{%s}' % T, legendFormat='jitter from ' + bySrc),
              ],
              w=12,
              h=8,
              unit='s',
              options=d.tsOptions('table', ['mean', 'max', 'lastNotNull']),
              field=c.tsField),
      d.panel('timeseries',
              'Reordered replies',
              'Replies per second that arrived after the reply to a probe sent later (icmp_reordered_replies_total): parallel paths, load balancing over links of different delay.',
              [d.target('sum by (%s) (rate(icmp_reordered_replies_total{%s}[$__rate_interval]))' % [src, T], legendFormat=bySrc)],
              w=12,
              h=8,
              unit='pps',
              options=d.tsOptions(),
              field=c.tsField),
    ],
  }
