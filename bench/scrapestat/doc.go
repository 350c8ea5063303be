// Command scrapestat is the scrape helper of bench/scale.sh. It is a
// benchmark tool, not part of the exporter.
//
// # Snapshots
//
//	scrapestat snap -url http://127.0.0.1:10427/metrics -out a.json
//
// scrapes the exporter once in the protobuf exposition format (what
// Prometheus uses when native histograms are enabled), times the transfer
// (request sent to last body byte; decoding is not included) and writes a
// JSON summary: the sum over all series of every counter and gauge family,
// the labels of icmp_engine_info, and the icmp_rtt_seconds histograms of all
// targets added up (native buckets, or classic buckets when there are no
// native ones).
//
// # Differences
//
//	scrapestat diff a.json b.json
//
// prints shell-readable key=value lines for the window between two
// snapshots: the probe rate from icmp_engine_packets_sent_total, loss,
// skipped and error deltas, and the median, p99 and mean RTT of the replies
// recorded in the window, computed from the difference of the summed
// histograms.
//
// # Quantiles
//
// For native histograms (exponential buckets of schema s: bucket i covers
// (2^((i-1)/2^s), 2^(i/2^s)]) the quantile is interpolated log-linearly
// inside its bucket, like Prometheus' histogram_quantile does for exponential
// native buckets; for classic buckets linearly, as histogram_quantile does.
// Either way the result is only as precise as the bucket width (about 9 %
// for schema 3), and the diff also prints the bounds of the bucket the
// quantile fell into.
package main
