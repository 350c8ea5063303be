// A small Grafana dashboard builder: panels are laid out left to right in rows of the 24-column
// grid, ids are assigned in order, and every panel, query and variable uses the dashboard's
// Prometheus datasource variable.
{
  // ds is the datasource reference of panels, queries, variables and annotations.
  ds:: { type: 'prometheus', uid: '${datasource}' },

  // thresholds(base, v1, c1, v2, c2, ...): absolute thresholds, base colour below v1.
  thresholds(steps)::
    {
      mode: 'absolute',
      steps: [{ color: steps[0], value: null }] + [
        { color: steps[i + 1], value: steps[i] }
        for i in std.range(1, std.length(steps) - 1)
        if i % 2 == 1
      ],
    },

  tsOptions(legend='list', calcs=[]):: {
    legend: { displayMode: legend, placement: 'bottom', showLegend: true, calcs: calcs },
    tooltip: { mode: 'multi', sort: 'desc' },
  },

  statOptions(color='value', text='auto'):: {
    reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
    colorMode: color,
    graphMode: 'area',
    justifyMode: 'auto',
    orientation: 'auto',
    textMode: text,
    wideLayout: true,
    showPercentChange: false,
    percentChangeColorMode: 'standard',
  },

  tableOptions(sort=null):: {
    showHeader: true,
    cellHeight: 'sm',
    footer: { show: false, reducer: ['sum'], countRows: false },
    frameIndex: 0,
  } + (if sort == null then {} else { sortBy: [{ displayName: sort, desc: true }] }),

  barGaugeOptions(display='basic', orientation='horizontal'):: {
    displayMode: display,
    orientation: orientation,
    showUnfilled: true,
    valueMode: 'color',
    reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
    minVizHeight: 16,
    minVizWidth: 8,
    namePlacement: 'auto',
    sizing: 'auto',
    maxVizHeight: 300,
    legend: { displayMode: 'list', placement: 'bottom', showLegend: false, calcs: [] },
  },

  // unit: a byName override setting a table column's unit (and decimals, when given).
  columnUnit(column, unit, decimals=null):: {
    matcher: { id: 'byName', options: column },
    properties: [{ id: 'unit', value: unit }] + (if decimals == null then [] else [{ id: 'decimals', value: decimals }]),
  },

  // datasourceVariable: the Prometheus datasource of every panel, cfg.datasourceName by default
  // ('default': Grafana's default datasource).
  datasourceVariable(cfg):: {
    name: 'datasource',
    label: 'Data source',
    type: 'datasource',
    query: 'prometheus',
    current: { selected: true, text: cfg.datasourceName, value: cfg.datasourceName },
    hide: 0,
    refresh: 1,
    regex: cfg.datasourceRegex,
    includeAll: false,
    multi: false,
    options: [],
    skipUrlSync: false,
  },

  // queryVariable: a variable filled by a Prometheus query (label_values(...)). With includeAll,
  // All is selected and matches any non-empty value (allValue .+, as regex matchers need); without
  // it, Grafana selects the first value on load.
  queryVariable(name, label, query, multi=true, includeAll=true, description=''):: {
    name: name,
    label: label,
    type: 'query',
    datasource: $.ds,
    definition: query,
    query: { qryType: 1, query: query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    refresh: 2,
    regex: '',
    sort: 1,
    multi: multi,
    includeAll: includeAll,
    hide: 0,
    options: [],
    skipUrlSync: false,
    description: description,
  } + (
    if includeAll then {
      allValue: '.+',
      current: { selected: true, text: if multi then ['All'] else 'All', value: if multi then ['$__all'] else '$__all' },
    } else {}
  ),

  // target: one PromQL query of a panel; refId and the datasource are set by panel.
  target(expr, legendFormat='__auto', instant=false, format=null):: {
    expr: expr,
    range: !instant,
    instant: instant,
    legendFormat: legendFormat,
    editorMode: 'code',
  } + (if format == null then {} else { format: format }),

  row(title):: { type: 'row', title: title },

  // panel: w and h are its size in grid units; unit, decimals and field fill
  // fieldConfig.defaults, overrides fieldConfig.overrides.
  panel(type,
        title,
        description,
        targets,
        w=12,
        h=8,
        unit=null,
        decimals=null,
        options={},
        field={},
        overrides=[],
        transformations=null,
        extra={}):: {
    type: type,
    title: title,
    description: description,
    datasource: $.ds,
    fieldConfig: {
      defaults: (if unit == null then {} else { unit: unit })
                + (if decimals == null then {} else { decimals: decimals })
                + field,
      overrides: overrides,
    },
    options: options,
    targets: [
      targets[i] { refId: 'ABCDEFGHIJ'[i], datasource: $.ds }
      for i in std.range(0, std.length(targets) - 1)
    ],
    _w:: w,
    _h:: h,
  } + (if transformations == null then {} else { transformations: transformations }) + extra,

  // layout assigns ids and grid positions: panels fill a line left to right, a panel that does
  // not fit starts the next line below the tallest panel of the line, a row takes a full line.
  layout(items)::
    local newline(s) = if s.x > 0 then s { x: 0, y: s.y + s.rowh, rowh: 0 } else s;
    local step(s, p) =
      if p.type == 'row' then
        local n = newline(s);
        n {
          y: n.y + 1,
          id: n.id + 1,
          panels: n.panels + [p { id: n.id, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: n.y }, panels: [] }],
        }
      else
        local n = if s.x + p._w > 24 then newline(s) else s;
        local placed = n {
          x: n.x + p._w,
          rowh: std.max(n.rowh, p._h),
          id: n.id + 1,
          panels: n.panels + [p { id: n.id, gridPos: { h: p._h, w: p._w, x: n.x, y: n.y } }],
        };
        if placed.x >= 24 then newline(placed) else placed;
    std.foldl(step, items, { x: 0, y: 0, rowh: 0, id: 1, panels: [] }).panels,

  // dashboard: the JSON model of a dashboard with the settings of cfg (config.libsonnet).
  dashboard(cfg, uid, title, description, variables, panels, links=[], annotations=[]):: {
    annotations: {
      list: [{
        builtIn: 1,
        datasource: { type: 'grafana', uid: '-- Grafana --' },
        enable: true,
        hide: true,
        iconColor: 'rgba(0, 211, 255, 1)',
        name: 'Annotations & Alerts',
        type: 'dashboard',
      }] + annotations,
    },
    description: description,
    editable: cfg.dashboardEditable,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    links: links,
    panels: $.layout(panels),
    refresh: cfg.dashboardRefresh,
    schemaVersion: 39,
    tags: cfg.dashboardTags,
    templating: { list: variables },
    time: { from: cfg.dashboardTimeFrom, to: 'now' },
    timepicker: {},
    timezone: cfg.dashboardTimezone,
    title: cfg.dashboardTitlePrefix + title,
    uid: cfg.dashboardUIDPrefix + uid,
    version: 1,
    weekStart: '',
  },
}
