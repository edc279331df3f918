//go:build windows

package agent

import (
	"os/exec"
	"strconv"
	"syscall"
)

// ownGroup starts the sample in a process group of its own.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// killGroup ends the sample and the processes it started (taskkill /T
// walks the tree).
func killGroup(pid int) {
	exec.Command("taskkill", "/T", "/F", "/PID", strconv.Itoa(pid)).Run()
}
