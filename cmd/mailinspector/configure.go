//go:build !windows

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"mailinspector/internal/cli"
	"mailinspector/internal/control"
	"mailinspector/internal/settings"
)

// configureSession is the shell's configure mode: a candidate copy of the
// running settings, changed with set and delete, shown and compared, and
// sent to the daemon whole by commit (which validates every key there).
// Nothing changes on the appliance before commit.
type configureSession struct {
	call      func(line string, asJSON bool) (*control.Response, error)
	out       io.Writer
	running   map[string]string
	candidate map[string]string
	order     []string
}

const configureHelp = `configure mode: a candidate copy of the settings; nothing changes before commit.
  set KEY VALUE            change a key in the candidate (quote a value with spaces)
  delete KEY               put a key back to its default
  show [PREFIX]            the candidate, keys that differ from what runs marked *
  compare                  the candidate against what runs, as - and + lines
  commit                   validate and apply the changes, reloading the daemon
  commit confirmed MINUTES apply, and roll back by itself unless commit comes again in time
  discard                  the candidate back to what runs
  rollback N               put back the settings as they were N commits ago
  ? KEY                    a key's meaning and default
  exit                     leave configure mode (uncommitted changes are dropped)`

func newConfigureSession(call func(string, bool) (*control.Response, error), out io.Writer) (*configureSession, error) {
	c := &configureSession{call: call, out: out}
	return c, c.load()
}

// load reads what runs.
func (c *configureSession) load() error {
	resp, err := c.call("show settings", true)
	if err != nil {
		return err
	}
	if !resp.OK {
		return fmt.Errorf("%s", resp.Error)
	}
	var vs []cli.SettingValue
	if err := json.Unmarshal([]byte(resp.Output), &vs); err != nil {
		return err
	}
	c.running, c.candidate, c.order = map[string]string{}, map[string]string{}, nil
	for _, v := range vs {
		c.running[v.Key], c.candidate[v.Key] = v.Value, v.Value
		c.order = append(c.order, v.Key)
	}
	return nil
}

// changes are the keys whose candidate differs from what runs.
func (c *configureSession) changes() []string {
	var ks []string
	for _, k := range c.order {
		if c.candidate[k] != c.running[k] {
			ks = append(ks, k)
		}
	}
	return ks
}

// quote makes a value one word for the command layer's Split.
func quote(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\"'") {
		return v
	}
	if !strings.Contains(v, `"`) {
		return `"` + v + `"`
	}
	return "'" + v + "'"
}

// do runs one line of configure mode; done says the mode ends.
func (c *configureSession) do(line string) (done bool) {
	words, err := cli.Split(line)
	if err != nil || len(words) == 0 {
		if err != nil {
			fmt.Fprintln(c.out, err)
		}
		return false
	}
	say := func(format string, a ...any) { fmt.Fprintf(c.out, format+"\n", a...) }
	switch cmd := strings.ToLower(words[0]); {
	case cmd == "exit" || cmd == "quit":
		if n := len(c.changes()); n > 0 {
			say("%d uncommitted changes dropped", n)
		}
		return true
	case cmd == "help" || cmd == "?" && len(words) == 1:
		say("%s", configureHelp)
	case cmd == "?":
		k, ok := settings.Lookup(words[1])
		if !ok {
			say("%s: unknown key", words[1])
			break
		}
		say("%s (default %s)\n  %s", k.Name, quote(k.Default), k.Doc)
	case cmd == "set" && len(words) >= 3:
		if _, ok := settings.Lookup(words[1]); !ok {
			say("%s: unknown key (? KEY, or settings describe)", words[1])
			break
		}
		c.candidate[words[1]] = strings.Join(words[2:], " ")
	case cmd == "delete" && len(words) == 2:
		k, ok := settings.Lookup(words[1])
		if !ok {
			say("%s: unknown key", words[1])
			break
		}
		c.candidate[k.Name] = k.Default
	case cmd == "show":
		prefix := ""
		if len(words) > 1 {
			prefix = words[1]
		}
		for _, k := range c.order {
			if strings.HasPrefix(k, prefix) {
				mark := " "
				if c.candidate[k] != c.running[k] {
					mark = "*"
				}
				say("%s %s = %s", mark, k, c.candidate[k])
			}
		}
	case cmd == "compare":
		ch := c.changes()
		if len(ch) == 0 {
			say("no changes")
		}
		for _, k := range ch {
			say("- %s = %s\n+ %s = %s", k, c.running[k], k, c.candidate[k])
		}
	case cmd == "discard":
		for k, v := range c.running {
			c.candidate[k] = v
		}
	case cmd == "commit":
		c.commit(words[1:])
	case cmd == "rollback" && len(words) == 2:
		c.send("settings rollback " + words[1])
		c.load()
	default:
		say("configure mode: %q is not a command here (help lists them)", line)
	}
	return false
}

func (c *configureSession) commit(args []string) {
	ch := c.changes()
	confirmed := len(args) == 2 && strings.EqualFold(args[0], "confirmed")
	if len(args) > 0 && !confirmed {
		fmt.Fprintln(c.out, "commit, or commit confirmed MINUTES")
		return
	}
	if len(ch) == 0 {
		// A second commit confirms one that would roll back.
		if resp, err := c.call("settings confirm", false); err == nil && resp.OK {
			fmt.Fprintln(c.out, resp.Output)
			return
		}
		fmt.Fprintln(c.out, "no changes to commit")
		return
	}
	sort.Strings(ch)
	line := "settings commit"
	if confirmed {
		line += " confirmed " + args[1]
	}
	for _, k := range ch {
		line += " " + k + " " + quote(c.candidate[k])
	}
	if c.send(line) {
		for _, k := range ch {
			c.running[k] = c.candidate[k]
		}
	}
}

// send runs a command on the daemon and prints its answer.
func (c *configureSession) send(line string) bool {
	resp, err := c.call(line, false)
	switch {
	case err != nil:
		fmt.Fprintln(c.out, err)
		return false
	case !resp.OK:
		fmt.Fprintln(c.out, resp.Error)
		return false
	}
	fmt.Fprintln(c.out, resp.Output)
	return true
}

// configureVerbs are configure mode's commands, for completion.
var configureVerbs = []string{"set", "delete", "show", "compare", "commit", "discard", "rollback", "exit", "help"}

// configureMode completes configure mode: its verbs, then a settings key
// after set, delete, show and ?; ? shows a key's meaning and default.
var configureMode = &completeLine{
	candidates: func(head string) []string {
		words, partial := cli.SplitHead(head)
		var out []string
		switch {
		case len(words) == 0:
			for _, v := range configureVerbs {
				if strings.HasPrefix(v, partial) {
					out = append(out, v)
				}
			}
		case len(words) == 1 && (words[0] == "set" || words[0] == "delete" || words[0] == "show" || words[0] == "?"):
			for _, k := range settings.Keys() {
				if strings.HasPrefix(k.Name, partial) {
					out = append(out, k.Name)
				}
			}
		case len(words) == 1 && words[0] == "commit" && strings.HasPrefix("confirmed", partial):
			out = append(out, "confirmed")
		}
		return out
	},
	describe: func(head string) string {
		words, partial := cli.SplitHead(head)
		if len(words) >= 1 && len(words) <= 2 && (words[0] == "set" || words[0] == "delete" || words[0] == "?") {
			name := partial
			if len(words) == 2 {
				name = words[1]
			}
			if k, ok := settings.Lookup(name); ok {
				return fmt.Sprintf("  %s (default %s)\n      %s", k.Name, quote(k.Default), k.Doc)
			}
			var names []string
			for _, k := range settings.Keys() {
				if strings.HasPrefix(k.Name, name) {
					names = append(names, k.Name)
				}
			}
			if len(names) > 0 {
				return "  " + strings.Join(names, "\n  ")
			}
			return "  no key begins so (settings describe lists them)"
		}
		return configureHelp
	},
}
