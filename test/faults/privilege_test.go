//go:build linux

package faults

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/icmp-exporter/icmp_exporter/internal/privdrop"
	"github.com/icmp-exporter/icmp_exporter/test/lab"
)

// TestCapabilitiesDropped runs the exporter as root (every capability) on
// each datapath and reads /proc/<pid>/status of the running process: once
// the datapath is open no capability is left in any set and no_new_privs is
// set, while probing goes on through the sockets opened before (raw and
// AF_PACKET on afpacket) and a SIGHUP reload still reads the file and adds
// a target.
func TestCapabilitiesDropped(t *testing.T) {
	for _, dp := range []string{"icmp", "afpacket"} {
		t.Run(dp, func(t *testing.T) {
			l := lab.New(t, lab.Options{})
			addrs := addrStrings(l.Addrs(4, false))
			cfg := writeConfig(t, "  datapath: "+dp+"\n", "", group{name: "g", targets: addrs[:3]})
			f := start(t, l, cfg)
			f.allUp(time.Minute, "g", 3)
			pid := f.x.Proc.Cmd.Process.Pid

			s, err := privdrop.Status(pid)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("exporter %d: CapEff %x CapPrm %x CapInh %x CapAmb %x CapBnd %x", pid, s.Effective, s.Permitted, s.Inheritable, s.Ambient, s.Bounding)
			if s.Effective != 0 || s.Permitted != 0 || s.Inheritable != 0 || s.Ambient != 0 || s.Bounding != 0 {
				t.Errorf("capabilities left: effective %s, permitted %s, ambient %s, bounding %s",
					privdrop.Names(s.Effective), privdrop.Names(s.Permitted), privdrop.Names(s.Ambient), privdrop.Names(s.Bounding))
			}
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(status), "NoNewPrivs:\t1") {
				t.Errorf("no_new_privs not set:\n%s", status)
			}

			// Probing goes on, and a reload (file read as uid 0 without
			// CAP_DAC_OVERRIDE) adds a target that gets replies.
			before := sum(f.metrics(), "icmp_replies_total", "g")
			cfg2 := writeConfig(t, "  datapath: "+dp+"\n", "", group{name: "g", targets: addrs})
			if err := os.Rename(cfg2, cfg); err != nil {
				t.Fatal(err)
			}
			if err := f.x.Proc.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			f.allUp(time.Minute, "g", 4)
			f.wait(30*time.Second, "replies grow", func(mfs map[string]*dto.MetricFamily) (bool, string) {
				v := sum(mfs, "icmp_replies_total", "g")
				return v > before+20, fmt.Sprintf("replies %v, were %v", v, before)
			})
			if !strings.Contains(f.x.Proc.Output(), "capabilities dropped after opening the datapath") {
				t.Errorf("no log line about the drop:\n%s", f.x.Proc.Output())
			}
		})
	}
}
