//go:build !windows

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"mailinspector/internal/cli"
)

// lineSource reads the shell's lines: with line editing, history and
// completion on a terminal, plainly otherwise (scripts, ssh with a command
// on standard input).
type lineSource interface {
	readLine(prompt string, mode *completeLine) (string, error)
}

type plainReader struct {
	sc  *bufio.Scanner
	out io.Writer
}

func (p *plainReader) readLine(prompt string, _ *completeLine) (string, error) {
	fmt.Fprint(p.out, prompt)
	if !p.sc.Scan() {
		if err := p.sc.Err(); err != nil {
			return "", err
		}
		return "", io.EOF
	}
	return p.sc.Text(), nil
}

// lineSourceFor is a terminal's line editor when both ends are a terminal.
func lineSourceFor(stdin io.Reader, stdout io.Writer) lineSource {
	in, ok1 := stdin.(*os.File)
	out, ok2 := stdout.(*os.File)
	if ok1 && ok2 && term.IsTerminal(int(in.Fd())) && term.IsTerminal(int(out.Fd())) {
		return newTermReader(int(in.Fd()), struct {
			io.Reader
			io.Writer
		}{in, out})
	}
	return &plainReader{sc: bufio.NewScanner(stdin), out: stdout}
}

// commandMode completes the command line's commands.
var commandMode = &completeLine{
	candidates: func(head string) []string {
		cands := cli.Complete(head)
		if words, partial := cli.SplitHead(head); len(words) == 0 {
			for _, w := range []string{"configure", "exit"} {
				if strings.HasPrefix(w, partial) {
					cands = append(cands, w)
				}
			}
		}
		return cands
	},
	describe: cli.Describe,
}

// interactive reads commands line by line until exit, quit or end of input.
func interactive(src lineSource, stdout io.Writer, run func(string) int, configure func() (*configureSession, error)) int {
	var conf *configureSession // in configure mode
	for {
		prompt, mode := "mailinspector> ", commandMode
		if conf != nil {
			prompt, mode = "mailinspector(configure)> ", configureMode
		}
		raw, err := src.readLine(prompt, mode)
		if err != nil {
			fmt.Fprintln(stdout)
			return 0
		}
		line := strings.TrimSpace(raw)
		switch {
		case line == "":
		case conf != nil:
			if conf.do(line) {
				conf = nil
			}
		case line == "exit" || line == "quit" || line == "logout":
			return 0
		case line == "configure":
			if conf, err = configure(); err != nil {
				fmt.Fprintln(stdout, "configure:", err)
				conf = nil
			}
		default:
			run(line)
		}
	}
}
