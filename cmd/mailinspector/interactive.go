//go:build !windows

package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// interactive reads commands line by line until exit, quit or end of input.
func interactive(stdin io.Reader, stdout io.Writer, run func(string) int, configure func() (*configureSession, error)) int {
	sc := bufio.NewScanner(stdin)
	var conf *configureSession // in configure mode
	prompt := func() {
		if conf != nil {
			fmt.Fprint(stdout, "mailinspector(configure)> ")
		} else {
			fmt.Fprint(stdout, "mailinspector> ")
		}
	}
	prompt()
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case conf != nil:
			if conf.do(line) {
				conf = nil
			}
		case line == "exit" || line == "quit" || line == "logout":
			return 0
		case line == "configure":
			var err error
			if conf, err = configure(); err != nil {
				fmt.Fprintln(stdout, "configure:", err)
				conf = nil
			}
		default:
			run(line)
		}
		prompt()
	}
	fmt.Fprintln(stdout)
	return 0
}
