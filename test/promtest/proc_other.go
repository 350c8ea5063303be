//go:build !linux

package promtest

import (
	"os/exec"
	"syscall"
)

// killWithParent puts cmd in its own process group; only Linux can also have
// the kernel kill it when the test process dies.
func killWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
}
