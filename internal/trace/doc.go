// Package trace is the `trace` command: an mtr-style view of the path to
// one host, taken with the exporter's own engine. Each round is one path
// snapshot (probe.Engine.TracePath: TTL-limited echo requests whose time
// exceeded answers are tag-verified); the command prints per hop the
// addresses that answered, the loss and the round-trip times over all
// rounds.
//
// # Output
//
// A table with one row per TTL up to the target (or the last TTL probed
// when it never answered): HOP, ADDRESS (several when the path changed
// between rounds), LOSS%, SENT, LAST, AVG, BEST, WORST (milliseconds);
// with --json one object with the same fields per hop.
package trace
