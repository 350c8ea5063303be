// Locations: where has good latency to my server? Every probing source on a map, coloured by RTT
// or loss to the selected target.
local d = import '../lib/dashboard.libsonnet';

function(cfg)
  local c = (import 'common.libsonnet')(cfg);
  local l = c.labels;
  local L = c.sel(['job', 'instance', 'group', 'target'], single=['target']);
  local src = l.source;
  local info = 'max by (%s, latitude, longitude) (icmp_source_info{%s,latitude!="",longitude!=""})' % [src, c.sel(['job', 'instance'])];
  local convert = [{
    id: 'convertFieldType',
    options: {
      fields: {},
      conversions: [
        { targetField: 'latitude', destinationType: 'number' },
        { targetField: 'longitude', destinationType: 'number' },
      ],
    },
  }];
  local geomap(title, description, expr, unit, field) =
    d.panel('geomap',
            title,
            description,
            [d.target(expr, instant=true, format='table')],
            w=12,
            h=12,
            unit=unit,
            options={
              view: { id: 'fit', lat: 0, lon: 0, zoom: 2, allLayers: true },
              controls: { showZoom: true, mouseWheelZoom: true, showAttribution: true },
              basemap: { type: 'default', name: 'Basemap', config: {} },
              layers: [{
                type: 'markers',
                name: title,
                tooltip: true,
                location: { mode: 'coords', latitude: 'latitude', longitude: 'longitude' },
                config: {
                  showLegend: true,
                  style: {
                    size: { fixed: 10, min: 8, max: 20 },
                    color: { field: 'Value' },
                    opacity: 0.8,
                    symbol: { mode: 'fixed', fixed: 'img/icons/marker/circle.svg' },
                    text: { mode: 'field', field: src, fixed: '' },
                    textConfig: { fontSize: 12, offsetX: 0, offsetY: -16, textAlign: 'center', textBaseline: 'top' },
                  },
                },
              }],
              tooltip: { mode: 'details' },
            },
            field=field,
            transformations=convert);
  d.dashboard(
    cfg,
    'locations',
    'Locations',
    'Where has good latency to my server: every probing source (exporter instance with a `source` location) on a map, coloured by RTT or loss to the selected target.',
    c.variables(targetSingle=true, withSource=false),
    [
      geomap('Median RTT by source',
             'Median round-trip time from each probing source to $target. Sources without latitude/longitude are not on the map (see the table).',
             '%s * on(%s) group_left() (%s)' % [info, src, c.rtt('0.5', src, L)],
             's',
             { color: { mode: 'continuous-GrYlRd' }, min: 0 }),
      geomap('Loss by source',
             'Share of probes to $target without a reply in time, from each probing source.',
             '%s * on(%s) group_left() (%s)' % [info, src, c.loss(src, L)],
             'percentunit',
             { color: { mode: 'continuous-GrYlRd' }, min: 0, max: 1 }),
      d.panel('table',
              'Sources',
              'Every source probing $target: location, median and 99th percentile RTT and loss.',
              [
                d.target(c.rtt('0.5', src, L), instant=true, format='table'),
                d.target(c.rtt('0.99', src, L), instant=true, format='table'),
                d.target(c.loss(src, L), instant=true, format='table'),
                d.target('max by (%s, latitude, longitude) (icmp_source_info{%s})' % [src, c.sel(['job', 'instance'])], instant=true, format='table'),
              ],
              w=24,
              h=8,
              options=d.tableOptions('p50'),
              transformations=[
                { id: 'merge', options: {} },
                { id: 'organize', options: {
                  excludeByName: { Time: true, 'Value #D': true },
                  renameByName: { 'Value #A': 'p50', 'Value #B': 'p99', 'Value #C': 'Loss' },
                } },
              ],
              overrides=[d.columnUnit('p50', 's'), d.columnUnit('p99', 's'), d.columnUnit('Loss', 'percentunit')]),
      d.panel('timeseries',
              'Median RTT by source',
              'Median round-trip time to $target over time, one line per source.',
              [d.target(c.rtt('0.5', src, L), legendFormat='{{%s}}' % src)],
              w=12,
              h=8,
              unit='s',
              options=d.tsOptions('table', ['mean', 'max']),
              field=c.tsField),
      d.panel('timeseries',
              'Loss by source',
              'Loss to $target over time, one line per source.',
              [d.target(c.loss(src, L), legendFormat='{{%s}}' % src)],
              w=12,
              h=8,
              unit='percentunit',
              options=d.tsOptions('table', ['mean', 'max']),
              field=c.tsField { min: 0, max: 1 }),
    ],
  )
