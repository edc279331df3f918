package configure

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"mailinspector/internal/policy"
	"mailinspector/internal/settings"
)

// Import puts a configuration bundle's settings and policies in place with
// one reload: every key the bundle sets differently, and every key it
// leaves out back to its default, committed as one change (the replaced
// version kept: rollback 1 undoes it); the policies file replaced (the old
// one kept) or removed when the bundle has none. The caller validated the
// bundle whole (bundle.Validate); the commit checks the settings again.
func (c *Configurator) Import(vals map[string]string, policies []byte, hasPolicies bool) (Change, error) {
	if err := c.anyPending(); err != nil {
		return Change{}, err
	}
	cur, err := settings.Values(c.DataDir)
	if err != nil {
		return Change{}, err
	}
	changes := map[string]string{}
	for _, v := range cur {
		want, ok := vals[v.Key]
		if !ok {
			want = v.Default
		}
		if want != v.Value {
			changes[v.Key] = want
		}
	}
	var parts []string
	var out Change
	if len(changes) > 0 {
		ch, err := c.commit(changes, 0)
		if err != nil {
			return Change{}, fmt.Errorf("settings: %w", err)
		}
		parts, out = append(parts, ch.Message), ch
	} else {
		parts = append(parts, "settings unchanged")
	}
	old, had, err := c.Policies()
	if err != nil {
		return Change{}, err
	}
	switch {
	case hasPolicies && (!had || old != string(policies)):
		ch, err := c.commitPolicies(policies, 0)
		if err != nil {
			if len(changes) > 0 {
				// What is in the files is what runs, half an import or not.
				msg := ""
				c.reload(&msg)
			}
			return Change{}, fmt.Errorf("policies (the settings are imported; rollback 1 undoes them): %w", err)
		}
		parts = append(parts, strings.SplitN(ch.Message, ":\n", 2)[0])
	case !hasPolicies && had:
		// The bundle's appliance ran the default policy: so does this
		// one now; the file goes to the history first.
		if _, err := c.keepPolicies(old); err != nil {
			return Change{}, err
		}
		if err := os.Remove(filepath.Join(c.DataDir, policy.FileName)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return Change{}, err
		}
		parts = append(parts, "policies file removed (the default policy applies)")
	default:
		parts = append(parts, "policies unchanged")
	}
	out.Message = strings.Join(parts, "; ")
	c.reload(&out.Message)
	return out, nil
}
