//go:build unix

package agent

import (
	"os/exec"
	"syscall"
)

// ownGroup puts the sample in a process group of its own, so that what it
// starts goes with it.
func ownGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// killGroup ends the sample and everything it started.
func killGroup(pid int) { syscall.Kill(-pid, syscall.SIGKILL) }
