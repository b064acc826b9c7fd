//go:build unix

package host

import (
	"os/exec"
	"syscall"
)

// ownGroup starts the plugin in a process group of its own, so that what
// it starts (a wrapper script's interpreter, their children) can be
// killed with it: killing only the plugin left a shell script's child
// holding the plugin's pipes, and deepc waiting on them.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills the process group whose leader is pid.
func killGroup(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}
