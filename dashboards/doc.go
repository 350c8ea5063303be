// Package dashboards holds no Go code: it ships the Grafana dashboards
// (*.json) and a provisioning example (provisioning/). The Go tests of this
// directory check the dashboards' structure (valid JSON, unique panel ids and
// uids, the datasource variable everywhere, units, descriptions, template
// variables, rate intervals) and evaluate every panel, annotation and variable
// query, template variables substituted, in a real Prometheus, where a query
// that does not parse fails. test/prometheus runs the same queries against
// live exporters and requires data.
//
// The JSON files are generated from the monitoring mixin (mixin/, jsonnet) by
// `make mixin`; edit the mixin, not the JSON: CI fails when the files differ
// from what the mixin renders.
package dashboards
