// jsonnet -S mixin/build/rules.jsonnet > alerts/icmp_exporter.rules.yml
(import '../lib/render.libsonnet').rulesFile(import '../mixin.libsonnet')
