package privdrop

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// ErrNotSupported is returned by Drop where capabilities cannot be changed
// for the whole process (other systems; binaries built with cgo).
var ErrNotSupported = errors.New("dropping capabilities is not supported in this build")

// Sets are the capability sets of a process, as bit masks (bit n is
// capability n, e.g. 13 is CAP_NET_RAW).
type Sets struct {
	Effective, Permitted, Inheritable, Bounding, Ambient uint64
}

// Status reads the capability sets of process pid (0 means this process)
// from /proc/<pid>/status.
func Status(pid int) (Sets, error) {
	p := "/proc/self/status"
	if pid != 0 {
		p = fmt.Sprintf("/proc/%d/status", pid)
	}
	f, err := os.Open(p)
	if err != nil {
		return Sets{}, fmt.Errorf("read capabilities: %w", err)
	}
	defer f.Close()
	var s Sets
	fields := map[string]*uint64{
		"CapEff": &s.Effective, "CapPrm": &s.Permitted, "CapInh": &s.Inheritable,
		"CapBnd": &s.Bounding, "CapAmb": &s.Ambient,
	}
	found := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if dst := fields[k]; ok && dst != nil {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return Sets{}, fmt.Errorf("read capabilities: %s of %s: %w", k, p, err)
			}
			*dst = n
			found++
		}
	}
	if err := sc.Err(); err != nil {
		return Sets{}, fmt.Errorf("read capabilities from %s: %w", p, err)
	}
	if found != len(fields) {
		return Sets{}, fmt.Errorf("read capabilities: %s lacks Cap* lines", p)
	}
	return s, nil
}

// capNetBindService is CAP_NET_BIND_SERVICE (linux/capability.h).
const capNetBindService = 10

// KeepForListen returns the capabilities the HTTP listener needs for
// addrs (host:port): CAP_NET_BIND_SERVICE when a port is below 1024.
func KeepForListen(addrs []string) []int {
	for _, a := range addrs {
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			continue
		}
		if n, err := strconv.Atoi(port); err == nil && n > 0 && n < 1024 {
			return []int{capNetBindService}
		}
	}
	return nil
}

// Names returns the names of the capabilities in mask, like
// "cap_net_raw,cap_net_bind_service", or "none".
func Names(mask uint64) string {
	var s []string
	for i := 0; i < 64; i++ {
		if mask&(1<<i) == 0 {
			continue
		}
		if i < len(capNames) {
			s = append(s, capNames[i])
		} else {
			s = append(s, fmt.Sprintf("cap_%d", i))
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}

// capNames are the names of linux/capability.h, by number.
var capNames = []string{
	"cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner", "cap_fsetid", "cap_kill",
	"cap_setgid", "cap_setuid", "cap_setpcap", "cap_linux_immutable", "cap_net_bind_service",
	"cap_net_broadcast", "cap_net_admin", "cap_net_raw", "cap_ipc_lock", "cap_ipc_owner",
	"cap_sys_module", "cap_sys_rawio", "cap_sys_chroot", "cap_sys_ptrace", "cap_sys_pacct",
	"cap_sys_admin", "cap_sys_boot", "cap_sys_nice", "cap_sys_resource", "cap_sys_time",
	"cap_sys_tty_config", "cap_mknod", "cap_lease", "cap_audit_write", "cap_audit_control",
	"cap_setfcap", "cap_mac_override", "cap_mac_admin", "cap_syslog", "cap_wake_alarm",
	"cap_block_suspend", "cap_audit_read", "cap_perfmon", "cap_bpf", "cap_checkpoint_restore",
}
