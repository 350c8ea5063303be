// Package promtest runs a real Prometheus server for tests and reads the
// project's shipped rules and dashboards.
//
// # Prometheus
//
// Start launches Debian's prometheus binary (see Binary) on 127.0.0.1 with
// native histograms enabled, a temporary storage directory and a given
// configuration; the server is stopped and its files removed in t.Cleanup.
// Query, Rules and Alerts use the HTTP API. A Query of an expression that
// does not parse fails with an *APIError of type "bad_data", which is how
// tests check every shipped expression with the real PromQL parser without
// importing the Prometheus module.
//
// The server can run inside a network namespace: Options.Command builds the
// process (e.g. test/lab's Lab.Exec) and Options.Client reaches it (e.g.
// Lab.HTTPClient).
//
// # Rules and dashboards
//
// LoadRules reads a Prometheus rule file into its groups and rules;
// LoadDashboard reads a Grafana dashboard (LoadDashboards every one of a
// directory) and lists its panels, queries and template variables; Expand substitutes template variables in a query the way
// Grafana does before sending it to Prometheus.
package promtest
