// Package ui serves the exporter's read-only status pages: server-rendered
// HTML (html/template) with inline SVG graphs, no script, no external
// assets, so they work offline and under a strict Content-Security-Policy.
//
// # Pages
//
//   - Prefix/ (Overview): every group with targets up and down, loss and RTT
//     percentiles for the last complete minute and the last hour; the
//     targets, worst first (down, then loss over the hour, then loss now,
//     then the 90th percentile), filtered by a case-insensitive substring of
//     group, target, address or label=value (or the words up and down), in
//     pages of Options.PageSize rows; a one-hour sparkline per row, and the
//     full graph of each target when at most four are listed.
//   - Prefix/target?group=G&target=T: the SmokePing-style graph (see
//     graph), the loss and RTT summary, the counters since start and the
//     outages the engine keeps for the target.
//   - Prefix/outages: the outages of every target, ongoing first, then the
//     latest first, in pages.
//
// # Data
//
// A Handler takes one engine snapshot per Options.MaxAge (2 s) and
// computes the targets' summaries from the history.Store once per snapshot,
// so a reload of the page or many readers do not copy the engine state
// again; both are dropped a minute after the last request. Building a
// page's data is serialized; rendering into a buffer and writing it to the
// client are not, so a slow client holds up nobody. Without a Store
// (history off), loss and RTT are the lifetime values of the counters and
// the histogram.
//
// # Safety
//
// Every value that comes from the configuration or discovery (group and
// target names, labels) is written by html/template, which escapes it for
// its context (text, attribute, URL). The graph writes only numbers and
// texts it formats itself, escaping the title. Only GET and HEAD are served.
// Authentication and TLS are those of the server the Handler is mounted in
// (the exporter-toolkit web configuration).
package ui
