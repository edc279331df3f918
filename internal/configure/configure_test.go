package configure

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"mailinspector/internal/settings"
)

func value(t *testing.T, dir, key string) string {
	t.Helper()
	vs, err := settings.Values(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.Key == key {
			return v.Value
		}
	}
	t.Fatalf("no key %s", key)
	return ""
}

// TestEditListsOneEntryAtATime: an entry is added once, removed once,
// whatever its case; a key that is no list, an entry with a comma and an
// invalid entry are refused and change nothing; each change is kept in the
// history with its before and after.
func TestEditListsOneEntryAtATime(t *testing.T) {
	dir := t.TempDir()
	c := &Configurator{DataDir: dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, err := c.Edit("senders.blocked", "evil.example", true); err != nil {
		t.Fatal(err)
	}
	ch, err := c.Edit("senders.blocked", "spam@bad.example", true)
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, dir, "senders.blocked"); got != "evil.example,spam@bad.example" {
		t.Fatalf("after two adds: %q", got)
	}
	if ch.Before != "senders.blocked = evil.example" || ch.After != "senders.blocked = evil.example,spam@bad.example" ||
		!strings.Contains(ch.Message, "apply at the next reload") {
		t.Errorf("change %+v", ch)
	}
	for _, bad := range []struct {
		key, entry string
		add        bool
		says       string
	}{
		{"senders.blocked", "EVIL.example", true, "already holds evil.example"},
		{"senders.blocked", "nobody.example", false, "does not hold"},
		{"smtp.listen", "x", true, "is not a list"},
		{"senders.blocked", "a.example,b.example", true, "one entry"},
		{"lists.blocked_hashes", "not-a-hash", true, "lists.blocked_hashes"},
	} {
		if _, err := c.Edit(bad.key, bad.entry, bad.add); err == nil || !strings.Contains(err.Error(), bad.says) {
			t.Errorf("%s %q: %v, want %q", bad.key, bad.entry, err, bad.says)
		}
	}
	if _, err := c.Edit("senders.blocked", "Evil.Example", false); err != nil {
		t.Fatal(err)
	}
	if got := value(t, dir, "senders.blocked"); got != "spam@bad.example" {
		t.Fatalf("after the remove: %q", got)
	}
	if versions, _ := settings.History(dir); len(versions) != 3 {
		t.Errorf("%d versions kept, want 3 (one per change)", len(versions))
	}
}
