package configure

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailinspector/internal/durable"
	"mailinspector/internal/policy"
	"mailinspector/internal/settings"
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

// PoliciesConfirmFile marks a policies commit that rolls back by itself
// unless confirmed, as settings.ConfirmFile does for the settings.
const PoliciesConfirmFile = "policies.confirm"

// policiesPending is a policies commit waiting for its confirmation.
type policiesPending struct {
	Deadline time.Time `json:"deadline"`
	// Restore is the kept file to put back; empty: there was none (the
	// default policy), so the file goes.
	Restore string `json:"restore"`
}

func (c *Configurator) policiesPending() (policiesPending, bool, error) {
	var p policiesPending
	b, err := os.ReadFile(filepath.Join(c.DataDir, PoliciesConfirmFile))
	if errors.Is(err, os.ErrNotExist) {
		return p, false, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	if err != nil {
		return p, false, fmt.Errorf("%s: %w", PoliciesConfirmFile, err)
	}
	return p, true, nil
}

func (c *Configurator) clearPoliciesPending() error {
	err := os.Remove(filepath.Join(c.DataDir, PoliciesConfirmFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// anyPending refuses a commit while another waits for its confirmation:
// two deadlines rolling back over each other would be a puzzle.
func (c *Configurator) anyPending() error {
	_, s, err := settings.PendingConfirm(c.DataDir)
	if err != nil {
		return err
	}
	_, p, err := c.policiesPending()
	if err != nil {
		return err
	}
	if s || p {
		return fmt.Errorf("a commit waits for its confirmation: confirm it (settings confirm) or let it roll back first")
	}
	return nil
}

// CommitPolicies replaces the policies file with data after validating it
// whole (policy.Parse lists every error with its line), keeps the old one
// in policies.history, and reloads. The change says what differs. With
// confirmWithin, the old file comes back by itself at the deadline unless
// the commit is confirmed.
func (c *Configurator) CommitPolicies(data []byte, confirmWithin time.Duration) (Change, error) {
	ch, err := c.commitPolicies(data, confirmWithin)
	if err == nil {
		c.reload(&ch.Message)
	}
	return ch, err
}

// commitPolicies is CommitPolicies without the reload.
func (c *Configurator) commitPolicies(data []byte, confirmWithin time.Duration) (Change, error) {
	if _, err := policy.Parse("policies (from standard input)", data); err != nil {
		return Change{}, err
	}
	if err := c.anyPending(); err != nil {
		return Change{}, err
	}
	old, had, err := c.Policies()
	if err != nil {
		return Change{}, err
	}
	if had && old == string(data) {
		return Change{}, fmt.Errorf("the policies are already these: nothing to commit")
	}
	kept := ""
	if had {
		if kept, err = c.keepPolicies(old); err != nil {
			return Change{}, err
		}
	}
	var deadline time.Time
	if confirmWithin > 0 {
		// The marker first: a crash between the two leaves a rollback to
		// the old file, never a change nobody confirmed that stays.
		deadline = time.Now().Add(confirmWithin)
		b, _ := json.Marshal(policiesPending{Deadline: deadline, Restore: kept})
		if err := durable.WriteFile(filepath.Join(c.DataDir, PoliciesConfirmFile), b, 0o640); err != nil {
			return Change{}, err
		}
	}
	if err := durable.WriteFile(filepath.Join(c.DataDir, policy.FileName), data, 0o640); err != nil {
		c.clearPoliciesPending()
		return Change{}, err
	}
	before := old
	if !had {
		before = "(no policies file: the default policy)"
	}
	msg := fmt.Sprintf("policies committed (%s)", diffSummary(before, string(data)))
	if confirmWithin > 0 {
		msg += fmt.Sprintf("; they roll back at %s unless confirmed (settings confirm)", deadline.UTC().Format(time.RFC3339))
	}
	if d := Diff(before, string(data)); d != "" {
		msg += ":\n" + d
	}
	return Change{Message: msg, Before: before, After: string(data)}, nil
}

// keepPolicies keeps a policies file about to be replaced in the history,
// and says where.
func (c *Configurator) keepPolicies(old string) (string, error) {
	dir := filepath.Join(c.DataDir, PoliciesHistory)
	if err := durable.PrivateDir(dir); err != nil {
		return "", err
	}
	kept := filepath.Join(dir, "policies-"+time.Now().UTC().Format("20060102T150405.000000000Z")+".conf")
	return kept, durable.WriteFile(kept, []byte(old), 0o640)
}

// rollBackPolicies puts back the policies an unconfirmed commit replaced.
func (c *Configurator) rollBackPolicies(p policiesPending) error {
	path := filepath.Join(c.DataDir, policy.FileName)
	if p.Restore == "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	} else {
		b, err := os.ReadFile(p.Restore)
		if err != nil {
			return err
		}
		if err := durable.WriteFile(path, b, 0o640); err != nil {
			return err
		}
	}
	return c.clearPoliciesPending()
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
