//go:build unix

package password

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup puts the worker in a process group of its own: a Ctrl-C
// meant for the server must not end the worker under jobs the server is
// still finishing. The worker ends with its input, that is when the
// server closes it or dies.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
