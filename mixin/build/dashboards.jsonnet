// jsonnet -S -m dashboards mixin/build/dashboards.jsonnet
(import '../lib/render.libsonnet').dashboardFiles(import '../mixin.libsonnet')
