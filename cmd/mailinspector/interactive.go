//go:build !windows

package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// interactive reads commands line by line until exit, quit or end of input.
func interactive(stdin io.Reader, stdout io.Writer, run func(string) int) int {
	sc := bufio.NewScanner(stdin)
	fmt.Fprint(stdout, "mailinspector> ")
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch line {
		case "":
		case "exit", "quit", "logout":
			return 0
		default:
			run(line)
		}
		fmt.Fprint(stdout, "mailinspector> ")
	}
	fmt.Fprintln(stdout)
	return 0
}
