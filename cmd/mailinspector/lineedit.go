//go:build !windows

package main

import (
	"fmt"
	"io"
	"strings"

	"golang.org/x/term"

	"mailinspector/internal/cli"
)

// completeLine is TAB and ? on a terminal for one mode of the shell:
// candidates for the word being typed, and what ? shows for the line.
type completeLine struct {
	candidates func(head string) []string
	describe   func(head string) string
}

// callback is term.Terminal's AutoCompleteCallback: TAB completes the word
// before the cursor (the common part of several candidates, listing them);
// ? shows the line's meaning and is not typed. Other keys are the
// terminal's.
func (c *completeLine) callback(out io.Writer) func(line string, pos int, key rune) (string, int, bool) {
	return func(line string, pos int, key rune) (string, int, bool) {
		head := line[:pos]
		switch key {
		case '\t':
			_, partial := cli.SplitHead(head)
			cands := c.candidates(head)
			if len(cands) == 0 {
				return line, pos, true
			}
			common := cands[0]
			for _, w := range cands[1:] {
				for !strings.HasPrefix(w, common) {
					common = common[:len(common)-1]
				}
			}
			word := partial
			switch {
			case len(cands) == 1:
				word = cands[0] + " "
			case len(common) > len(partial):
				word = common
			default:
				fmt.Fprintln(out, strings.Join(cands, "  "))
			}
			newHead := head[:len(head)-len(partial)] + word
			return newHead + line[pos:], len(newHead), true
		case '?':
			fmt.Fprintln(out, c.describe(head))
			return line, pos, true
		}
		return "", 0, false
	}
}

// termReader reads lines on a terminal, with line editing, history and
// completion (golang.org/x/term), the terminal raw only while a line is
// typed.
type termReader struct {
	fd    int
	t     *term.Terminal
	modes map[string]*completeLine
}

func newTermReader(fd int, rw io.ReadWriter) *termReader {
	return &termReader{fd: fd, t: term.NewTerminal(rw, "")}
}

// readLine shows prompt and reads a line with mode's completion.
func (r *termReader) readLine(prompt string, mode *completeLine) (string, error) {
	if r.fd >= 0 {
		old, err := term.MakeRaw(r.fd)
		if err != nil {
			return "", err
		}
		defer term.Restore(r.fd, old)
	}
	r.t.SetPrompt(prompt)
	r.t.AutoCompleteCallback = mode.callback(r.t)
	return r.t.ReadLine()
}
