//go:build linux

// Command labnet builds and removes the two-namespace lab of package lab
// for scripts (bench/scale.sh) that run processes in it with `ip netns
// exec`:
//
//	labnet up -name NAME [-prefix4 10.210.0.0/15] [-prefix6 fd00:210::/64]
//	labnet down -name NAME
//
// up creates namespaces NAME-p (probe) and NAME-t (target) and prints
// shell assignments (probe_ns, target_ns, prefix4, prefix6) on stdout;
// down deletes them. Needs root.
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"

	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) == 0 || (args[0] != "up" && args[0] != "down") {
		fmt.Fprintln(os.Stderr, "usage: labnet up|down -name NAME [-prefix4 CIDR] [-prefix6 CIDR]")
		return 2
	}
	fs := flag.NewFlagSet("labnet "+args[0], flag.ContinueOnError)
	name := fs.String("name", "", "base name of the namespaces (NAME-p, NAME-t)")
	p4 := fs.String("prefix4", lab.DefaultPrefix4.String(), "IPv4 prefix the target namespace answers for")
	p6 := fs.String("prefix6", lab.DefaultPrefix6.String(), "IPv6 prefix the target namespace answers for")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	var opts lab.Options
	var err error
	if opts.Prefix4, err = netip.ParsePrefix(*p4); err != nil {
		fmt.Fprintf(os.Stderr, "labnet: -prefix4: %v\n", err)
		return 2
	}
	if opts.Prefix6, err = netip.ParsePrefix(*p6); err != nil {
		fmt.Fprintf(os.Stderr, "labnet: -prefix6: %v\n", err)
		return 2
	}
	if args[0] == "down" {
		l := &lab.Lab{Probe: *name + "-p", Target: *name + "-t"}
		if *name == "" {
			fmt.Fprintln(os.Stderr, "labnet down: -name is required")
			return 2
		}
		if err := l.Remove(); err != nil {
			fmt.Fprintf(os.Stderr, "labnet down: %v\n", err)
			return 1
		}
		return 0
	}
	l, err := lab.Build(*name, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "labnet up: %v\n", err)
		return 1
	}
	fmt.Printf("probe_ns=%s\ntarget_ns=%s\nprefix4=%s\nprefix6=%s\n", l.Probe, l.Target, l.Prefix4, l.Prefix6)
	return 0
}
