package configure

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailinspector/internal/durable"
	"mailinspector/internal/policy"
)

// PoliciesHistory keeps the policies files a commit replaced.
const PoliciesHistory = "policies.history"

// Policies is the policies file as it is ("" and false: none, the default
// policy applies).
func (c *Configurator) Policies() (string, bool, error) {
	b, err := os.ReadFile(filepath.Join(c.DataDir, policy.FileName))
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	return string(b), err == nil, err
}

// CommitPolicies replaces the policies file with data after validating it
// whole (policy.Parse lists every error with its line), keeps the old one
// in policies.history, and reloads. The change says what differs.
func (c *Configurator) CommitPolicies(data []byte) (Change, error) {
	if _, err := policy.Parse("policies (from standard input)", data); err != nil {
		return Change{}, err
	}
	old, had, err := c.Policies()
	if err != nil {
		return Change{}, err
	}
	if had && old == string(data) {
		return Change{}, fmt.Errorf("the policies are already these: nothing to commit")
	}
	if had {
		dir := filepath.Join(c.DataDir, PoliciesHistory)
		if err := durable.PrivateDir(dir); err != nil {
			return Change{}, err
		}
		name := filepath.Join(dir, "policies-"+time.Now().UTC().Format("20060102T150405.000000000Z")+".conf")
		if err := durable.WriteFile(name, []byte(old), 0o640); err != nil {
			return Change{}, err
		}
	}
	if err := durable.WriteFile(filepath.Join(c.DataDir, policy.FileName), data, 0o640); err != nil {
		return Change{}, err
	}
	before := old
	if !had {
		before = "(no policies file: the default policy)"
	}
	msg := fmt.Sprintf("policies committed (%s)", diffSummary(before, string(data)))
	if d := Diff(before, string(data)); d != "" {
		msg += ":\n" + d
	}
	c.reload(&msg)
	return Change{Message: msg, Before: before, After: string(data)}, nil
}

// Diff is the lines that differ between two texts, as - and + lines (a
// plain line comparison: what was removed, then what was added, in order).
func Diff(before, after string) string {
	b, a := strings.Split(strings.TrimRight(before, "\n"), "\n"), strings.Split(strings.TrimRight(after, "\n"), "\n")
	inA, inB := map[string]int{}, map[string]int{}
	for _, l := range a {
		inA[l]++
	}
	for _, l := range b {
		inB[l]++
	}
	var out []string
	for _, l := range b {
		if inA[l] > 0 {
			inA[l]--
			continue
		}
		out = append(out, "- "+l)
	}
	for _, l := range a {
		if inB[l] > 0 {
			inB[l]--
			continue
		}
		out = append(out, "+ "+l)
	}
	return strings.Join(out, "\n")
}

func diffSummary(before, after string) string {
	var minus, plus int
	for _, l := range strings.Split(Diff(before, after), "\n") {
		switch {
		case strings.HasPrefix(l, "- "):
			minus++
		case strings.HasPrefix(l, "+ "):
			plus++
		}
	}
	return fmt.Sprintf("%d lines removed, %d added", minus, plus)
}
