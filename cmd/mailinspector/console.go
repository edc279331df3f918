package main

import (
	"bufio"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"mailinspector/appliance"
	"mailinspector/internal/console"
)

// consoleCmd runs on tty1 and ttyS0 (mailinspector-console@.service): the
// first-boot wizard until it has run, then the status screen.
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
	// The numbered administration menu is not built yet (issue 5); until
	// then the console shows how to reach the appliance.
	for {
		fmt.Fprintf(os.Stdout, "\nMail Inspector %s\n  manage it over SSH: ssh admin@<this appliance's address>\n\nPress Enter to refresh. ", appliance.Version)
		if _, err := in.ReadString('\n'); err != nil {
			return 0
		}
	}
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
