//go:build linux

package lab

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// normalize fills in the default prefixes and checks the options.
func (o *Options) normalize() error {
	if !o.Prefix4.IsValid() {
		o.Prefix4 = DefaultPrefix4
	}
	if !o.Prefix6.IsValid() {
		o.Prefix6 = DefaultPrefix6
	}
	if !o.Prefix4.Addr().Is4() || !o.Prefix6.Addr().Is6() || o.Prefix4.Bits() > 30 || o.Prefix6.Bits() > 126 {
		return fmt.Errorf("lab options: want an IPv4 prefix of at most /30 and an IPv6 prefix of at most /126, got %s and %s", o.Prefix4, o.Prefix6)
	}
	return nil
}

// Build creates a lab outside any test, for scripts and benchmarks (see
// cmd/labnet): namespaces name+"-p" (probe) and name+"-t" (target), with
// the same topology, routes and sysctls as New. It stays until Remove;
// the caller removes it, also on failure. name must not start with
// NamePrefix (the labs of test processes, removed as stale once their
// process is gone).
func Build(name string, opts Options) (*Lab, error) {
	if name == "" || strings.HasPrefix(name, NamePrefix) || strings.ContainsAny(name, "/ ") {
		return nil, fmt.Errorf("lab name %q: want a non-empty name without '/' or spaces that does not start with %q", name, NamePrefix)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("lab needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) to create network namespaces")
	}
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	l := newLab(name, opts)
	if err := l.checkLink(); err != nil {
		return nil, err
	}
	if err := l.setup(); err != nil {
		return nil, errors.Join(err, l.Remove())
	}
	return l, nil
}

// Remove deletes the namespaces of a lab made by Build (which removes the
// veth pair and everything inside with them). Namespaces already gone are
// not an error.
func (l *Lab) Remove() error {
	var errs []error
	for _, ns := range []string{l.Probe, l.Target} {
		if _, err := os.Stat(nsPath(ns)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := run("ip", "netns", "delete", ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
