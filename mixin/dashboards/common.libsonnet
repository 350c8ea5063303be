// What the dashboards share: template variables, label selectors, the RTT and loss queries.
local d = import '../lib/dashboard.libsonnet';

function(cfg) {
  local l = cfg.labels,
  labels:: l,

  // sel: label matchers of the template variables, e.g. sel(['job', 'source']) gives
  // job=~"$job",source=~"$source" (with the configured label names). The target variable is
  // single-valued in detail dashboards: single=true matches it exactly.
  sel(vars, single=[])::
    local name(v) = if std.objectHas(l, v) then l[v] else v;
    std.join(',', [
      if std.member(single, v) then '%s="$%s"' % [name(v), v] else '%s=~"$%s"' % [name(v), v]
      for v in vars
    ]),

  // rtt: quantile q (a string) of the RTT histograms, native or else classic buckets, summed by
  // the labels `by` (a string such as 'source, group'; '' sums everything).
  rtt(q, by, sel):: $.quantile('icmp_rtt_seconds', q, by, sel),

  // quantile: the same for the histogram family `metric`.
  quantile(metric, q, by, sel)::
    local nb = if by != '' then 'sum by (%s) ' % by else 'sum ';
    local cb = if by != '' then 'sum by (%s, le) ' % by else 'sum by (le) ';
    'histogram_quantile(%s, %s(rate(%s{%s}[$__rate_interval])))' % [q, nb, metric, sel] +
    ' or histogram_quantile(%s, %s(rate(%s_bucket{%s}[$__rate_interval])))' % [q, cb, metric, sel],

  // loss: share of probes without a reply in time, summed by `by`, over rng.
  loss(by, sel, rng='$__rate_interval', fn='rate')::
    local b = if by != '' then 'sum by (%s) ' % by else 'sum ';
    'clamp(1 - %s(%s(icmp_replies_total{%s}[%s])) / (%s(%s(icmp_probes_sent_total{%s}[%s])) > 0), 0, 1)' %
    [b, fn, sel, rng, b, fn, sel, rng],

  // jobInstance: the job and instance variables, first of every dashboard (every query filters
  // on both).
  jobInstance:: [
    d.datasourceVariable(cfg),
    d.queryVariable('job', 'Job', 'label_values(icmp_engine_info, job)', description='Prometheus scrape job(s) of the exporters.'),
    d.queryVariable('instance', 'Instance', 'label_values(icmp_engine_info{job=~"$job"}, instance)', description='Exporter instance.'),
  ],

  // variables: the datasource, job, instance, source, group and target variables of a dashboard.
  variables(targetSingle=false, withSource=true, withTarget=true)::
    local src = if withSource then ['source'] else [];
    $.jobInstance
    + (if withSource then [
         d.queryVariable('source',
                         'Source',
                         'label_values(icmp_source_info{%s}, %s)' % [$.sel(['job', 'instance']), l.source],
                         description="Probing location (the exporter's `source` setting)."),
       ] else [])
    + [
      d.queryVariable('group',
                      'Group',
                      'label_values(icmp_up{%s}, %s)' % [$.sel(['job', 'instance'] + src), l.group],
                      description='Target group from the exporter configuration.'),
    ]
    + (if withTarget then [
         d.queryVariable('target',
                         'Target',
                         'label_values(icmp_up{%s}, %s)' % [$.sel(['job', 'instance'] + src + ['group']), l.target],
                         multi=!targetSingle,
                         includeAll=!targetSingle,
                         description='Target as written in the configuration.'),
       ] else []),

  // links: the dashboard list of the mixin's tag, as a dropdown.
  links(includeVars=true):: [{
    title: 'ICMP exporter',
    type: 'dashboards',
    tags: [cfg.dashboardTags[0]],
    asDropdown: true,
    includeVars: includeVars,
    keepTime: true,
    icon: 'external link',
    tooltip: '',
    targetBlank: false,
  }],

  // targetLink: a data link to the Target dashboard for the series' source, group and target.
  targetLink:: [{
    title: 'Target detail: ${__field.labels.%s}' % l.target,
    url: '/d/%starget?${datasource:queryparam}&var-source=${__field.labels.%s}&var-group=${__field.labels.%s}&var-target=${__field.labels.%s}&${__url_time_range}' %
         [cfg.dashboardUIDPrefix, l.source, l.group, l.target],
  }],

  upMapping:: [{
    type: 'value',
    options: {
      '0': { text: 'DOWN', color: 'red', index: 0 },
      '1': { text: 'UP', color: 'green', index: 1 },
    },
  }],
  lossField:: { min: 0, max: 1, thresholds: d.thresholds(['green', 0.01, 'yellow', 0.05, 'red']), color: { mode: 'thresholds' } },
  tsField:: {
    custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 10, showPoints: 'never', spanNulls: false, axisSoftMin: 0 },
    color: { mode: 'palette-classic' },
  },
}
