//go:build !windows

package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"mailinspector/internal/console"
	"mailinspector/internal/control"
)

// consoleCmd runs on tty1 and ttyS0 (mailinspector-console@.service): the
// first-boot wizard until it has run, then the menu.
func consoleCmd(args []string) int {
	sys := &console.System{Root: "/", DataDir: defaultDataDir()}
	in := bufio.NewReader(os.Stdin)
	if !sys.Done() {
		w := &console.Wizard{In: in, Out: os.Stdout, Sys: sys, Echo: ttyEcho(int(os.Stdin.Fd()))}
		if err := w.Run(); err != nil {
			fmt.Fprintf(os.Stdout, "\nThe first-boot setup did not finish: %v\nIt starts again.\n", err)
			return 1
		}
	}
	// After the first boot: the menu, behind the admin password, again
	// and again (systemd restarts the console when it ends).
	m := &console.Menu{In: in, Out: os.Stdout, Sys: sys, Echo: ttyEcho(int(os.Stdin.Fd())), Status: daemonStatus}
	if err := m.Run(); err != nil {
		return 1
	}
	return 0
}

// daemonStatus asks the running daemon over its control socket.
func daemonStatus() string {
	sock := filepath.Join(defaultDataDir(), control.SocketName)
	var b strings.Builder
	for _, c := range []string{"show version", "show services"} {
		resp, err := control.Call(sock, control.Request{Command: c})
		switch {
		case err != nil:
			fmt.Fprintf(&b, "%s: the daemon does not answer (%v)\n", c, err)
		case !resp.OK:
			fmt.Fprintf(&b, "%s: %s\n", c, resp.Error)
		default:
			b.WriteString(resp.Output + "\n")
		}
	}
	return b.String()
}

// ttyEcho turns a terminal's echo on and off (nil if fd is no terminal).
func ttyEcho(fd int) func(bool) {
	orig, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil
	}
	return func(on bool) {
		t := *orig
		if !on {
			t.Lflag &^= unix.ECHO
		}
		unix.IoctlSetTermios(fd, unix.TCSETS, &t)
	}
}
