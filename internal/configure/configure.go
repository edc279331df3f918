// Package configure changes the running appliance's settings: a commit
// validates the changed keys with the rest of the file, keeps the version
// it replaces, writes the new one atomically and has the daemon reload;
// a commit that must be confirmed rolls back by itself at its deadline (the
// mark is a file, so a reload or a restart of the daemon keeps it); a
// rollback puts an earlier version back.
package configure

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"mailinspector/internal/settings"
)

// Configurator acts on the settings of one data directory.
type Configurator struct {
	DataDir string
	// Reload has the daemon apply the settings file (SIGHUP's reload);
	// nil: they apply at the next start or reload.
	Reload func()
	// Audit records what happened without a command (the rollback at a
	// deadline).
	Audit func(kind, command string, ok bool, detail, before, after string)
	Log   *slog.Logger
}

// Change is what a commit did, for the audit log: the changed keys before
// and after, one "key = value" per line.
type Change struct {
	Message       string
	Before, After string
}

// Commit writes changes (key → value) and reloads. With confirmWithin > 0
// the settings roll back by themselves after that long unless Confirm is
// called.
func (c *Configurator) Commit(changes map[string]string, confirmWithin time.Duration) (Change, error) {
	ch, err := c.commit(changes, confirmWithin)
	if err == nil {
		c.reload(&ch.Message)
	}
	return ch, err
}

// commit is Commit without the reload.
func (c *Configurator) commit(changes map[string]string, confirmWithin time.Duration) (Change, error) {
	if len(changes) == 0 {
		return Change{}, fmt.Errorf("nothing to commit")
	}
	cur, err := settings.Values(c.DataDir)
	if err != nil {
		return Change{}, err
	}
	was := map[string]string{}
	for _, v := range cur {
		was[v.Key] = v.Value
	}
	keys := make([]string, 0, len(changes))
	for k := range changes {
		if _, known := was[k]; !known {
			return Change{}, fmt.Errorf("%s: unknown key (settings describe lists them)", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var before, after []string
	for _, k := range keys {
		b, a := was[k], changes[k]
		if settings.Secret(k) {
			// The audit log says a secret changed, never what it is.
			b, a = "(secret)", "(secret, changed)"
		}
		before = append(before, k+" = "+b)
		after = append(after, k+" = "+a)
	}
	if err := c.anyPending(); err != nil {
		return Change{}, err
	}
	if err := settings.Update(c.DataDir, changes); err != nil {
		return Change{}, err
	}
	msg := fmt.Sprintf("committed %d keys", len(keys))
	if confirmWithin > 0 {
		versions, err := settings.History(c.DataDir)
		if err != nil || len(versions) == 0 {
			return Change{}, fmt.Errorf("committed, but the version to roll back to is not kept: %v", err)
		}
		deadline := time.Now().Add(confirmWithin)
		if err := settings.SetPending(c.DataDir, settings.Pending{Deadline: deadline, Restore: versions[len(versions)-1]}); err != nil {
			return Change{}, fmt.Errorf("committed, but the rollback could not be set: %w", err)
		}
		msg += fmt.Sprintf("; they roll back at %s unless confirmed (commit, or settings confirm)", deadline.UTC().Format(time.RFC3339))
	}
	return Change{Message: msg, Before: strings.Join(before, "\n"), After: strings.Join(after, "\n")}, nil
}

// Confirm keeps a commit that would roll back, of the settings or of the
// policies.
func (c *Configurator) Confirm() (string, error) {
	_, s, err := settings.PendingConfirm(c.DataDir)
	if err != nil {
		return "", err
	}
	_, p, err := c.policiesPending()
	if err != nil {
		return "", err
	}
	switch {
	case s:
		if err := settings.ClearPending(c.DataDir); err != nil {
			return "", err
		}
		return "confirmed: the settings stay", nil
	case p:
		if err := c.clearPoliciesPending(); err != nil {
			return "", err
		}
		return "confirmed: the policies stay", nil
	}
	return "", fmt.Errorf("no commit waits for its confirmation")
}

// Rollback puts the n-th newest kept version back (1: the one the last
// commit replaced) and reloads.
func (c *Configurator) Rollback(n int) (Change, error) {
	versions, err := settings.History(c.DataDir)
	if err != nil {
		return Change{}, err
	}
	if n < 1 || n > len(versions) {
		return Change{}, fmt.Errorf("%d earlier versions are kept; rollback takes 1 to %d", len(versions), len(versions))
	}
	if err := settings.Restore(c.DataDir, n); err != nil {
		return Change{}, err
	}
	settings.ClearPending(c.DataDir)
	msg := fmt.Sprintf("rolled back to the version kept %d commits ago", n)
	c.reload(&msg)
	return Change{Message: msg}, nil
}

func (c *Configurator) reload(msg *string) {
	if c.Reload == nil {
		*msg += "; they apply at the next reload"
		return
	}
	*msg += "; the daemon reloads them now"
	// After the answer is on its way: the reload stops the command line
	// that is answering.
	time.AfterFunc(200*time.Millisecond, c.Reload)
}

// WatchPending rolls an unconfirmed commit back at its deadline (at once
// when it has passed, after a restart), until ctx ends: of the settings
// or of the policies (only one waits at a time).
func (c *Configurator) WatchPending(ctx context.Context) {
	sp, s, err := settings.PendingConfirm(c.DataDir)
	if err != nil {
		c.Log.Error("settings: the commit waiting for confirmation is unreadable", "err", err)
		return
	}
	pp, p, err := c.policiesPending()
	if err != nil {
		c.Log.Error("policies: the commit waiting for confirmation is unreadable", "err", err)
		return
	}
	var what string
	var deadline time.Time
	var still func() bool
	var rollBack func() error
	switch {
	case s:
		what, deadline = "settings", sp.Deadline
		still = func() bool { _, ok, _ := settings.PendingConfirm(c.DataDir); return ok }
		rollBack = func() error {
			if err := settings.RestoreFile(c.DataDir, sp.Restore); err != nil {
				return err
			}
			return settings.ClearPending(c.DataDir)
		}
	case p:
		what, deadline = "policies", pp.Deadline
		still = func() bool { _, ok, _ := c.policiesPending(); return ok }
		rollBack = func() error { return c.rollBackPolicies(pp) }
	default:
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Until(deadline)):
	}
	if !still() { // confirmed meanwhile
		return
	}
	err = rollBack()
	detail := "not confirmed by " + deadline.UTC().Format(time.RFC3339) + ": the previous " + what + " are back"
	if err != nil {
		detail = "rollback failed: " + err.Error()
		c.Log.Error(what+": roll back an unconfirmed commit", "err", err)
	} else {
		c.Log.Warn(what + ": a commit was not confirmed in time; the previous " + what + " are back")
	}
	if c.Audit != nil {
		c.Audit(what, what+" rollback (commit confirmed expired)", err == nil, detail, "", "")
	}
	if err == nil && c.Reload != nil {
		c.Reload()
	}
}

// ListKeys are the settings that are lists of entries (senders,
// exceptions, the local lists): list add and list remove change them one
// entry at a time.
func ListKeys() []string {
	return []string{"senders.blocked", "senders.approved", "exceptions.senders", "exceptions.recipients",
		"lists.blocked_hashes", "lists.approved_hashes", "lists.blocked_urls", "lists.blocked_domains", "lists.approved_domains"}
}

// Edit adds entry to the list key (add), or removes it, and commits the
// result like any change (validated, kept, reloaded, audited by the
// caller).
func (c *Configurator) Edit(key, entry string, add bool) (Change, error) {
	if !slices.Contains(ListKeys(), key) {
		return Change{}, fmt.Errorf("%s is not a list (lists: %s)", key, strings.Join(ListKeys(), ", "))
	}
	entry = strings.TrimSpace(entry)
	if entry == "" || strings.Contains(entry, ",") {
		return Change{}, fmt.Errorf("one entry, without commas")
	}
	vs, err := settings.Values(c.DataDir)
	if err != nil {
		return Change{}, err
	}
	var entries []string
	for _, v := range vs {
		if v.Key == key {
			for _, e := range strings.Split(v.Value, ",") {
				if e = strings.TrimSpace(e); e != "" {
					entries = append(entries, e)
				}
			}
		}
	}
	i := slices.IndexFunc(entries, func(e string) bool { return strings.EqualFold(e, entry) })
	switch {
	case add && i >= 0:
		return Change{}, fmt.Errorf("%s already holds %s", key, entries[i])
	case add:
		entries = append(entries, entry)
	case i < 0:
		return Change{}, fmt.Errorf("%s does not hold %s", key, entry)
	default:
		entries = slices.Delete(entries, i, i+1)
	}
	return c.Commit(map[string]string{key: strings.Join(entries, ",")}, 0)
}
