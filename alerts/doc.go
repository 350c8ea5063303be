// Package alerts holds no Go code: it ships the Prometheus rule file
// icmp_exporter.rules.yml, its promtool unit tests (tests/*.yml) and an
// Alertmanager example (alertmanager-inhibit.yml). The Go tests of this
// directory check them: promtool check and test, structure (severity,
// annotations, runbook anchors, thresholds in one place, known metric names),
// and every expression loaded and evaluated by a real Prometheus.
//
// icmp_exporter.rules.yml is generated from the monitoring mixin (mixin/,
// jsonnet) by `make mixin`; edit the mixin, not the file: CI fails when the
// file differs from what the mixin renders.
//
// # Documentation
//
// docs/alerts.md explains the rules and how to change thresholds;
// docs/runbook.md is what the runbook_url annotations point to.
package alerts
