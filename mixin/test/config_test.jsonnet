// Checks that every setting of _config reaches the rules, alerts and dashboards: renders the mixin
// with every label name, the selector, the runbook base and the dashboard settings changed, and
// fails (jsonnet exits non-zero) when the output still holds a default. Run by
// scripts/test.d/35-mixin.sh: jsonnet -S mixin/test/config_test.jsonnet
local render = import '../lib/render.libsonnet';
local mixin = (import '../mixin.libsonnet') + {
  _config+:: {
    icmpSelector: 'job="ping",env="prod"',
    labels: { source: 'location', group: 'pool', target: 'host', ip: 'addr', errorType: 'kind', ipVersion: 'family' },
    thresholds+: { targetDownSeconds: 120, packetLossRatio: 0.02 },
    runbookURLBase: 'https://wiki.example/icmp#',
    datasourceName: 'Mimir',
    datasourceRegex: '/^Mimir/',
    dashboardUIDPrefix: 'ping-',
    dashboardTitlePrefix: 'Ping / ',
    dashboardTags: ['ping'],
    dashboardEditable: true,
  },
};
local rules = render.rulesFile(mixin);
local dashboards = std.join('\n', std.objectValues(render.dashboardFiles(mixin)));
local all = rules + dashboards;

// What must not survive the overrides (default label names in selectors, groupings, legends,
// templates and links; the default selector, runbook base, uids and titles).
local forbidden = [
  'job="icmp"',
  'source=~',
  'group=~',
  'target="',
  'target=~',
  'by (source',
  'on(source',
  'source, group',
  ', source)',
  ', group)',
  'group, le',
  'target, ip',
  ' ip)',
  '{{source}}',
  '{{group}}',
  '{{target}}',
  '{{ip}}',
  '$labels.source',
  '$labels.group',
  '$labels.target',
  '$labels.ip',
  'labels.source}',
  'labels.group}',
  'labels.target}',
  'error_type',
  ', type)',
  '{{type}}',
  'docs/runbook.md#',
  'icmp-exporter-',
  'ICMP exporter /',
  '"icmp_exporter"',
  '"editable": false',
  'vector(60)',
  'vector(0.05)',
  'ip_version=',
];
// What the overrides must produce.
local required = [
  'job="ping",env="prod"',
  'family="6"',
  'location=~\\"$source\\"',  // as escaped in JSON
  'host=\\"$target\\"',
  'by (location, pool)',
  '{{location}}',
  '$labels.host',
  '$labels.addr',
  'kind',
  'https://wiki.example/icmp#icmptargetdown',
  '"uid": "ping-overview"',
  '"title": "Ping / Overview"',
  '"text": "Mimir"',
  '"regex": "/^Mimir/"',
  '"editable": true',
  '/d/ping-target?',
  'vector(120)',
  'vector(0.02)',
];
local has(s) = std.length(std.strReplace(all, s, '')) != std.length(all);
local left = [f for f in forbidden if has(f)];
local missing = [r for r in required if !has(r)];
assert left == [] : 'defaults left after overriding _config: ' + std.manifestJson(left);
assert missing == [] : 'overrides of _config not in the output: ' + std.manifestJson(missing);
'mixin: every _config setting reaches the rules, alerts and dashboards'
