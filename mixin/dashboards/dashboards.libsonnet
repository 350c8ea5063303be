// The Grafana dashboards of the mixin, by file name.
{
  grafanaDashboards+:: {
    'overview.json': (import 'overview.libsonnet')($._config),
    'target.json': (import 'target.libsonnet')($._config),
    'locations.json': (import 'locations.libsonnet')($._config),
    'exporter.json': (import 'exporter.libsonnet')($._config),
  },
}
