package policy

import (
	"strings"
	"testing"
)

const editFile = `# the site's policies

policy "Executives"
  recipients ceo@example.com   # the board too, one day
  high delete

# everyone else
policy "Everyone"
  high quarantine
  medium tag
`

func names(t *testing.T, data string) []string {
	t.Helper()
	ps, err := Parse("t", []byte(data))
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	var out []string
	for _, p := range ps {
		n := p.Name
		if p.Disabled {
			n += " (off)"
		}
		out = append(out, n)
	}
	return out
}

// TestEdits: each edit changes one policy and keeps every other line,
// comments included; a bad edit changes nothing and says why.
func TestEdits(t *testing.T) {
	got, err := Put(editFile, "Trial", "policy \"Trial\"\n  direction outbound\n  spam delete\n")
	if err == nil {
		t.Fatalf("a rule of an unknown risk went in:\n%s", got)
	}
	got, err = Put(editFile, "Trial", "policy \"Trial\"\n  direction outbound\n  high delete\n")
	if err != nil || strings.Join(names(t, got), ",") != "Executives,Everyone,Trial" || !strings.Contains(got, "# the board too") {
		t.Fatalf("put a new one: %v\n%s", err, got)
	}
	got, err = Move(got, "Trial", 1)
	if err != nil || strings.Join(names(t, got), ",") != "Trial,Executives,Everyone" || !strings.HasPrefix(got, "# the site's policies\n\npolicy \"Trial\"") {
		t.Fatalf("move to the top: %v\n%s", err, got)
	}
	got, err = SetDisabled(got, "Executives", true)
	if err != nil || strings.Join(names(t, got), ",") != "Trial,Executives (off),Everyone" {
		t.Fatalf("disable: %v\n%s", err, got)
	}
	if again, _ := SetDisabled(got, "Executives", true); again != got {
		t.Fatalf("disabling twice added a line:\n%s", again)
	}
	// The comment right above Everyone goes with it, and stays above it.
	off, err := SetDisabled(got, "Everyone", true)
	if err != nil || !strings.Contains(off, "# everyone else\npolicy \"Everyone\"\n  disabled\n  high quarantine") {
		t.Fatalf("disable a policy with a comment above it: %v\n%s", err, off)
	}
	if back, _ := SetDisabled(off, "Everyone", false); back != got {
		t.Fatalf("enable again is not the file as it was:\n%s\nwant\n%s", back, got)
	}
	if put, err := Put(got, "Everyone", "policy \"Everyone\"\n  high delete\n"); err != nil || !strings.Contains(put, "# everyone else\npolicy \"Everyone\"\n  high delete\n") {
		t.Fatalf("put in place of a policy with a comment above it: %v\n%s", err, put)
	}
	got, err = SetDisabled(got, "Executives", false)
	if err != nil || strings.Join(names(t, got), ",") != "Trial,Executives,Everyone" {
		t.Fatalf("enable: %v\n%s", err, got)
	}
	// A rename in place; a rename onto another's name is refused.
	got, err = Put(got, "Trial", "policy \"Outbound spam\"\n  direction outbound\n  medium delete\n")
	if err != nil || strings.Join(names(t, got), ",") != "Outbound spam,Executives,Everyone" {
		t.Fatalf("rename: %v\n%s", err, got)
	}
	if _, err := Put(got, "Outbound spam", "policy \"Everyone\"\n  high delete\n"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("a rename onto another policy's name: %v", err)
	}
	if _, err := Put(got, "x", "policy \"A\"\n  high delete\npolicy \"B\"\n  high delete\n"); err == nil {
		t.Fatal("two policies put as one")
	}
	got, err = Delete(got, "Executives")
	if err != nil || strings.Join(names(t, got), ",") != "Outbound spam,Everyone" || strings.Contains(got, "ceo@") || !strings.Contains(got, "# everyone else") {
		t.Fatalf("delete: %v\n%s", err, got)
	}
	for _, err := range []error{
		func() error { _, err := Delete(got, "Nobody"); return err }(),
		func() error { _, err := Move(got, "Everyone", 3); return err }(),
		func() error { _, err := SetDisabled("policy \"A\"\n  bogus\n", "A", true); return err }(),
	} {
		if err == nil {
			t.Error("a bad edit was taken")
		}
	}
}

// TestFormatParses: what Format writes reads back as the same policy.
func TestFormatParses(t *testing.T) {
	p := Policy{Name: `Board "A"`, Direction: "inbound", Senders: []string{".example.net"}, Recipients: []string{"ceo@example.com", "cfo@example.com"},
		Disabled: true, Rules: []Rule{{Match: "high", Actions: []Action{{Kind: "quarantine"}, {Kind: "notify", Args: []string{"soc@example.com", "it@example.com"}}}},
			{Match: "threat targeted malware", Actions: []Action{{Kind: "delete"}}}}}
	ps, err := Parse("t", []byte(Format(p)))
	if err != nil || len(ps) != 1 {
		t.Fatalf("%v\n%s", err, Format(p))
	}
	q := ps[0]
	if q.Name != p.Name || q.Direction != "inbound" || !q.Disabled || strings.Join(q.Recipients, " ") != "ceo@example.com cfo@example.com" ||
		len(q.Rules) != 2 || ActionsText(q.Rules[0].Actions) != "quarantine notify soc@example.com, it@example.com" || q.Rules[1].Match != "threat targeted malware" {
		t.Fatalf("read back %+v from\n%s", q, Format(p))
	}
	if _, err := Parse("t", []byte("policy \"A\"\n  high delete\npolicy \"A\"\n  high tag\n")); err == nil || !strings.Contains(err.Error(), "comes earlier") {
		t.Fatalf("two policies of one name: %v", err)
	}
}
