// The icmp_exporter monitoring mixin: prometheusRules, prometheusAlerts and grafanaDashboards,
// configured through _config (config.libsonnet). docs/mixin.md says how to use and override it.
(import 'config.libsonnet') +
(import 'rules/rules.libsonnet') +
(import 'alerts/alerts.libsonnet') +
(import 'dashboards/dashboards.libsonnet')
