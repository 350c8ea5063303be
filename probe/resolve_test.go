package probe

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// fakeResolver answers from a map and counts lookups.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range f[host] {
		if u := a.Unmap(); network == IPv4 && !u.Is4() || network == IPv6 && !u.Is6() {
			continue
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, errors.New("no such host")
	}
	return out, nil
}

func TestResolvePreference(t *testing.T) {
	v4a, v4b, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("2001:db8::1")
	r := fakeResolver{
		"dual": {v6, v4a, v4b}, "v6only": {v6}, "v4only": {v4a},
		"mapped": {netip.MustParseAddr("::ffff:192.0.2.9")},
	}
	tests := []struct {
		host, prot string
		want       netip.Addr
		all        []netip.Addr
		err        bool
	}{
		{"dual", IPAny, v4a, []netip.Addr{v6, v4a, v4b}, false},
		{"dual", IPPrefer6, v6, []netip.Addr{v6, v4a, v4b}, false},
		{"dual", IPv4, v4a, []netip.Addr{v4a, v4b}, false},
		{"dual", IPv6, v6, []netip.Addr{v6}, false},
		{"v6only", IPAny, v6, []netip.Addr{v6}, false},
		{"v4only", IPPrefer6, v4a, []netip.Addr{v4a}, false},
		{"v4only", IPv6, netip.Addr{}, nil, true},
		{"mapped", IPv4, netip.MustParseAddr("192.0.2.9"), []netip.Addr{netip.MustParseAddr("192.0.2.9")}, false},
		{"missing", IPAny, netip.Addr{}, nil, true},
	}
	for _, tt := range tests {
		got, err := Resolve(context.Background(), r, tt.host, tt.prot)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("Resolve(%s, %q) = %v, %v; want %v (error %v)", tt.host, tt.prot, got, err, tt.want, tt.err)
		}
		all, err := ResolveAll(context.Background(), r, tt.host, tt.prot)
		if (err != nil) != tt.err || !slices.Equal(all, tt.all) {
			t.Errorf("ResolveAll(%s, %q) = %v, %v; want %v", tt.host, tt.prot, all, err, tt.all)
		}
	}
}

func TestHostsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("# lab names\n10.210.0.1 dual.lab Dual-Alias # both families\nfd00:210::1 dual.lab\n10.210.0.2 v4.lab\nnot-an-address x.lab\n")
	next := fakeResolver{"elsewhere": {netip.MustParseAddr("192.0.2.7")}}
	h := &HostsFile{Path: path, Next: next}
	ctx := context.Background()
	for _, tt := range []struct {
		network, host string
		want          []string
		err           bool
	}{
		{"ip", "dual.lab", []string{"10.210.0.1", "fd00:210::1"}, false},
		{"ip", "DUAL.lab.", []string{"10.210.0.1", "fd00:210::1"}, false},
		{"ip", "dual-alias", []string{"10.210.0.1"}, false},
		{"ip4", "dual.lab", []string{"10.210.0.1"}, false},
		{"ip6", "dual.lab", []string{"fd00:210::1"}, false},
		{"ip6", "v4.lab", nil, true},
		{"ip", "x.lab", nil, true},
		{"ip", "elsewhere", []string{"192.0.2.7"}, false},
	} {
		got, err := h.LookupNetIP(ctx, tt.network, tt.host)
		var s []string
		for _, a := range got {
			s = append(s, a.String())
		}
		if (err != nil) != tt.err || !slices.Equal(s, tt.want) {
			t.Errorf("LookupNetIP(%s, %s) = %v, %v; want %v", tt.network, tt.host, s, err, tt.want)
		}
	}
	// A changed file is read again.
	time.Sleep(10 * time.Millisecond)
	write("10.210.0.3 v4.lab\n")
	if got, err := h.LookupNetIP(ctx, "ip", "v4.lab"); err != nil || len(got) != 1 || got[0].String() != "10.210.0.3" {
		t.Errorf("after a change: %v %v", got, err)
	}
}
