//go:build !windows

package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// typed is a terminal's two ends for term.Terminal: keys in, screen out.
type typed struct {
	keys   io.Reader
	screen bytes.Buffer
}

func (t *typed) Read(p []byte) (int, error)  { return t.keys.Read(p) }
func (t *typed) Write(p []byte) (int, error) { return t.screen.Write(p) }

// readTyped types keys into the line editor in mode and returns the line
// it reads and what the screen showed.
func readTyped(t *testing.T, keys string, mode *completeLine) (string, string) {
	t.Helper()
	tt := &typed{keys: strings.NewReader(keys)}
	r := newTermReader(-1, tt)
	line, err := r.readLine("> ", mode)
	if err != nil {
		t.Fatalf("%q: %v", keys, err)
	}
	return line, tt.screen.String()
}

func TestLineEditorCompletesCommands(t *testing.T) {
	for keys, want := range map[string]string{
		"sho\tver\t\r":          "show version ",
		"sh\t\r":                "sh",       // show and shutdown: listed, neither chosen
		"queu\tre\t\r":          "queue re", // reroute and retry
		"account pas\tadmin\r":  "account password admin",
		"show au\twho x\r":      "show audit who x",
		"conf\t\r":              "config", // config and configure: their common part
		"configu\t\r":           "configure ",
		"show messages\x01sh\r": "shshow messages", // ^A: to the line's start, as in readline
		"nosuch\t\r":            "nosuch",
	} {
		if got, _ := readTyped(t, keys, commandMode); got != want {
			t.Errorf("typing %q read %q, want %q", keys, got, want)
		}
	}
	_, screen := readTyped(t, "queue \t\r", commandMode)
	for _, w := range []string{"delete", "flush", "reroute", "retry"} {
		if !strings.Contains(screen, w) {
			t.Errorf("TAB after queue lists no %q:\n%s", w, screen)
		}
	}
	line, screen := readTyped(t, "queue rer?\r", commandMode)
	if line != "queue rer" || !strings.Contains(screen, "queue reroute ID HOST[:PORT]") || !strings.Contains(screen, "another host") {
		t.Errorf("? after queue rer: line %q, screen:\n%s", line, screen)
	}
}

func TestLineEditorCompletesSettingsKeys(t *testing.T) {
	if got, _ := readTyped(t, "se\tsmtp.accep\texample.com\r", configureMode); got != "set smtp.accepted_domains example.com" {
		t.Errorf("set with TAB: %q", got)
	}
	if got, _ := readTyped(t, "commit c\t5\r", configureMode); got != "commit confirmed 5" {
		t.Errorf("commit confirmed with TAB: %q", got)
	}
	_, screen := readTyped(t, "set siem.facility?\r", configureMode)
	if !strings.Contains(screen, "siem.facility (default local0)") || !strings.Contains(screen, "syslog facility") {
		t.Errorf("? on a key:\n%s", screen)
	}
	_, screen = readTyped(t, "set siem.\t\r", configureMode)
	for _, k := range []string{"siem.servers", "siem.ca_file", "siem.queue_bytes"} {
		if !strings.Contains(screen, k) {
			t.Errorf("TAB after set siem. lists no %s:\n%s", k, screen)
		}
	}
}

// TestPlainInputRunsScripts: without a terminal the shell reads plain
// lines, configure mode and all, as ssh with a script on standard input
// gives them.
func TestPlainInputRunsScripts(t *testing.T) {
	var out bytes.Buffer
	var ran []string
	src := lineSourceFor(strings.NewReader("show version\n\nconfigure\nexit\nshow status\nexit\nshow never\n"), &out)
	interactive(src, &out, func(l string) int { ran = append(ran, l); return 0 }, func() (*configureSession, error) {
		return &configureSession{out: &out, running: map[string]string{}, candidate: map[string]string{}}, nil
	})
	if strings.Join(ran, "|") != "show version|show status" {
		t.Errorf("ran %q", ran)
	}
	if !strings.Contains(out.String(), "mailinspector(configure)> ") {
		t.Errorf("no configure prompt:\n%s", out.String())
	}
}
