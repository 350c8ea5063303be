// The files of alerts/ and dashboards/, rendered from a mixin (make mixin; scripts/test.d/35-mixin.sh
// checks that the checked-in files match).
local u = import 'util.libsonnet';

{
  // rulesFile is alerts/icmp_exporter.rules.yml: the recording rules and the alerts in one file.
  rulesFile(mixin)::
    |||
      # Prometheus rules for icmp_exporter: thresholds, recording rules and alerts.
      # GENERATED from mixin/ by `make mixin`: edit the mixin (or override its _config), not this file.
      #
      # Load with `rule_files: [icmp_exporter.rules.yml]`. docs/alerts.md explains every rule;
      # docs/runbook.md says what to check when an alert fires; docs/mixin.md how to change settings.
    ||| +
    std.manifestYamlDoc(
      { groups: mixin.prometheusRules.groups + mixin.prometheusAlerts.groups },
      indent_array_in_object=true,
      quote_keys=false,
    ) + '\n',

  // dashboardFiles maps each file name of dashboards/ to its JSON text.
  dashboardFiles(mixin):: {
    [name]: u.manifestJSON(mixin.grafanaDashboards[name])
    for name in std.objectFields(mixin.grafanaDashboards)
  },
}
