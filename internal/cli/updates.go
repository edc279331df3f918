package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// Updates is show updates: each kind's installed version, the last
// checks, the keys trusted and the history of every attempt.
type Updates struct {
	Kinds       []UpdateKind   `json:"kinds"`
	LastCheck   string         `json:"last_check,omitempty"`
	LastSuccess string         `json:"last_success,omitempty"`
	LastError   string         `json:"last_error,omitempty"`
	Schedule    string         `json:"schedule"`
	Keyring     uint64         `json:"keyring_version"` // 0: no keyring document
	TrustedKeys []string       `json:"trusted_keys"`    // ids of the keys that may sign bundles
	History     []UpdateRecord `json:"history"`
	// Stopped says why updates are not installed (an expired licence);
	// "" when they are.
	Stopped string `json:"stopped,omitempty"`
}

// UpdateKind is one kind of bundle in show updates.
type UpdateKind struct {
	Kind      string   `json:"kind"`
	Channel   string   `json:"channel"`
	Installed uint64   `json:"installed"`  // the live version, 0: none
	HighWater uint64   `json:"high_water"` // versions up to it are refused
	Since     string   `json:"since,omitempty"`
	KeyID     string   `json:"key_id,omitempty"`
	Kept      []uint64 `json:"kept"` // versions on disk (update rollback goes back to one)
}

// UpdateRecord is one attempt in the update history.
type UpdateRecord struct {
	At      string `json:"at"`
	Kind    string `json:"kind"`
	Version uint64 `json:"version"`
	Source  string `json:"source"`
	Outcome string `json:"outcome"`
	Detail  string `json:"detail,omitempty"`
}

var updateCommands = []command{
	{[]string{"show", "updates"}, "", "installed version of each kind of pattern bundle, the last checks, the keys trusted, the history of every attempt", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) { return b.Updates(ctx) }, "", false, false},
	{[]string{"update", "now"}, "", "ask the hub for updates now and install what is newer (as the schedule does)", 0, 0,
		func(ctx context.Context, b Backend, _ []string) (any, error) { return b.UpdateNow(ctx) }, "updates", false, false},
	{[]string{"update", "import"}, "FILE", "verify and install a signed bundle from a file on the appliance (air-gapped sites): the checks of the hub's", 1, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			if !filepath.IsAbs(a[0]) {
				return nil, fmt.Errorf("%w: FILE must be an absolute path (the shell makes a relative one absolute)", ErrUsage)
			}
			return b.UpdateImport(ctx, a[0])
		}, "updates", false, false},
	{[]string{"update", "rollback"}, "[KIND]", "make the kept version before the live one live again (KIND: the kind installed last); the feed still cannot go back", 0, 1,
		func(ctx context.Context, b Backend, a []string) (any, error) {
			kind := ""
			if len(a) == 1 {
				kind = a[0]
			}
			return b.UpdateRollback(ctx, kind)
		}, "updates", false, false},
}

func init() { commands = append(commands, updateCommands...) }

func updatesText(u *Updates) string {
	var b strings.Builder
	if u.Stopped != "" {
		fmt.Fprintf(&b, "UPDATES STOPPED: %s\n\n", term(u.Stopped))
	}
	rows := make([][]string, 0, len(u.Kinds))
	for _, k := range u.Kinds {
		inst := "none"
		if k.Installed != 0 {
			inst = fmt.Sprint(k.Installed)
		}
		kept := make([]string, len(k.Kept))
		for i, v := range k.Kept {
			kept[i] = fmt.Sprint(v)
		}
		rows = append(rows, []string{k.Kind, k.Channel, inst, fmt.Sprint(k.HighWater), k.Since, k.KeyID, strings.Join(kept, " ")})
	}
	b.WriteString(table("no bundle installed", []string{"KIND", "CHANNEL", "INSTALLED", "HIGHEST SEEN", "SINCE", "SIGNED BY", "KEPT"}, rows))
	last := func(s string) string {
		if s == "" {
			return "never"
		}
		return s
	}
	fmt.Fprintf(&b, "\nschedule %s; last check %s; last success %s\n", u.Schedule, last(u.LastCheck), last(u.LastSuccess))
	if u.LastError != "" {
		fmt.Fprintf(&b, "last check failed: %s\n", term(u.LastError))
	}
	keyring := "none"
	if u.Keyring != 0 {
		keyring = fmt.Sprintf("version %d", u.Keyring)
	}
	keys := strings.Join(u.TrustedKeys, " ")
	if keys == "" {
		keys = "none (updates.trusted_keys, or a keyring document the roots signed)"
	}
	fmt.Fprintf(&b, "keyring document %s; keys trusted to sign: %s\n\n", keyring, keys)
	hist := make([][]string, 0, len(u.History))
	for _, h := range u.History {
		v := ""
		if h.Version != 0 {
			v = fmt.Sprint(h.Version)
		}
		hist = append(hist, []string{h.At, h.Kind, v, h.Source, h.Outcome, cut(term(h.Detail), 100)})
	}
	b.WriteString(table("no update attempt yet", []string{"AT", "KIND", "VERSION", "SOURCE", "OUTCOME", "DETAIL"}, hist))
	return b.String()
}
