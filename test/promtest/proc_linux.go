package promtest

import (
	"os/exec"
	"syscall"
)

// killWithParent puts cmd in its own process group and has the kernel kill it
// when the test process dies, so a crashed test leaves no Prometheus behind.
func killWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
}
