package cli

import (
	"context"
	"strings"
	"testing"
	"time"
)

type policyBackend struct {
	fakeBackend
	file, committed string
}

func (p *policyBackend) Policies(context.Context) (string, error) { return p.file, nil }

func (p *policyBackend) CommitPolicies(_ context.Context, data string, _ time.Duration) (Done, error) {
	p.committed = data
	return Done{OK: true, Message: "policies committed"}, nil
}

func (p *policyBackend) ShowSettings(context.Context, string) ([]SettingValue, error) {
	return []SettingValue{{Key: "policy.high", Value: "quarantine"}, {Key: "policy.unscannable", Value: "quarantine"},
		{Key: "policy.medium", Value: "tag"}, {Key: "policy.unrated", Value: "tag"}, {Key: "policy.subject_tag", Value: "[x]"}}, nil
}

// TestPolicyCommandsWithoutAFile: the first policy added where the
// default policy applies comes before it, written out as "Default" with
// the settings' actions; the commands are audited as policies changes.
func TestPolicyCommandsWithoutAFile(t *testing.T) {
	b := &policyBackend{}
	ctx := WithCaller(context.Background(), Caller{Who: "admin", Via: "test", Role: RoleAdministrator})
	if _, err := ExecWords(WithInput(ctx, "policy \"Board\"\n  recipients ceo@example.com\n  high delete\n"), b, []string{"policy", "put", "Board"}); err != nil {
		t.Fatal(err)
	}
	want := "policy \"Board\"\n  recipients ceo@example.com\n  high delete\n" +
		"# Written from the default policy (the settings policy.*) when the first policy was edited.\npolicy \"Default\"\n  high quarantine\n  unscannable quarantine\n  medium tag\n  unrated tag\n"
	if b.committed != want {
		t.Fatalf("committed:\n%s\nwant:\n%s", b.committed, want)
	}
	b.file = b.committed
	if _, err := ExecWords(ctx, b, []string{"policy", "disable", "Default"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.committed, "policy \"Default\"\n  disabled\n") || !strings.HasPrefix(b.committed, "policy \"Board\"") {
		t.Fatalf("disable Default:\n%s", b.committed)
	}
	if _, err := ExecWords(ctx, b, []string{"policy", "move", "Board", "two"}); err == nil {
		t.Error("a position that is no number")
	}
	if _, err := ExecWords(ctx, b, []string{"policy", "put", "X"}); err == nil {
		t.Error("put without a policy on standard input")
	}
	if len(b.audited) == 0 || b.audited[0].Kind != "policies" {
		t.Errorf("audit %+v", b.audited)
	}
}
