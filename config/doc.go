// Package config reads the icmp_exporter configuration file and turns it
// into a probe.Spec.
//
// # Loading
//
// Load (or Parse) decodes YAML strictly: unknown keys, wrong types, values
// out of range and impossible combinations are all refused, and every
// problem is reported as "file:line: field.path: what is wrong; what is
// allowed". All problems of a file are reported at once, sorted by line, in
// an *Error.
//
// The file is parsed into a yaml.Node tree that the package checks against
// its schema (the struct types and their yaml tags) itself, so positions and
// paths come from the tree, not from the text of a YAML library's errors.
// Aliases and merge keys (<<: *anchor) work; aliases that multiply the
// values beyond a bound are refused.
//
// # Defaults
//
// A group takes every setting it does not set itself from the `defaults:`
// section, and what that does not set from the built-in defaults
// (DefaultInterval and friends). Labels of `defaults:` and of a group are
// merged, the group's value winning.
//
// # Expansion
//
// Config.Spec expands CIDR blocks into one probe.TargetSpec per address
// (without the network and broadcast addresses of IPv4 blocks larger than
// /31), keeps host names unresolved for the engine to resolve, and fills in
// every default, so that the engine never sees an unset field.
//
// # Discovery
//
// A group may also list file_sd_configs, http_sd_configs and
// relabel_configs (Prometheus' shapes; relabelling is Prometheus' own
// model/relabel), ip_version and resolve. Config.DiscoveryGroups gives
// each group's sources and DiscoveryGroup.Targets, which turns one
// discovered target (its labels after relabelling) into TargetSpecs with the
// same rules the file's targets and settings follow: override labels such
// as __interval__ are decoded and range-checked by the code that checks the
// file. internal/discovery runs the sources.
//
// A Config is not modified after Load returns; it is safe for concurrent
// reads.
package config
