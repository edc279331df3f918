package appliance

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailinspector/internal/bundle"
	"mailinspector/internal/cli"
	"mailinspector/internal/policy"
	"mailinspector/internal/settings"
)

// TestConfigExportImport: one appliance's settings, policies and accounts
// (password hashes only) go to another through config export and config
// import; a bundle changed after its export, or one whose parts do not
// validate, is refused whole and changes nothing.
func TestConfigExportImport(t *testing.T) {
	admin := cli.WithCaller(context.Background(), cli.Caller{Who: "admin", Via: "test", Role: cli.RoleAdministrator})
	exec := func(a *Appliance, line, input string) (string, error) {
		t.Helper()
		v, err := cli.Exec(cli.WithSecret(cli.WithInput(admin, input), input), a, line)
		if err != nil {
			return "", err
		}
		return cli.Render(v, false)
	}
	src := t.TempDir()
	must(t, settings.Update(src, map[string]string{"smtp.accepted_domains": "example.com,example.net", "hub.key": "mih_exported",
		"senders.blocked": "evil.example"}))
	a := startApp(t, src, nil)
	pols := "policy \"Hold all\"\n  none quarantine\n  low quarantine\n  medium quarantine\n  high quarantine\n  unrated quarantine\n"
	if _, err := exec(a, "policies commit", pols); err != nil {
		t.Fatal(err)
	}
	if _, err := exec(a, "account add ivy investigator", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := exec(a, "account password ivy", "Ivy-Pass-2026"); err != nil {
		t.Fatal(err)
	}
	exported, err := exec(a, "config export", "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(exported, "Ivy-Pass-2026") || !strings.Contains(exported, "$argon2id$") {
		t.Fatalf("the export and the password:\n%s", exported)
	}

	dst := t.TempDir()
	b := startApp(t, dst, nil)
	before, _ := os.ReadFile(filepath.Join(dst, settings.FileName))

	// Changed after the export: refused.
	tampered := strings.Replace(exported, "evil.example", "evil.examplf", 1)
	if _, err := exec(b, "config import", tampered); err == nil || !strings.Contains(err.Error(), "signature does not verify") {
		t.Fatalf("a changed bundle: %v", err)
	}
	// Signed, but a part does not validate: refused whole, every problem named.
	var bad bundle.Bundle
	must(t, json.Unmarshal([]byte(exported), &bad))
	bad.Settings += "smtp.max_recipients = lots\n"
	bad.Policies += "  bogus line\n"
	bad.Accounts = append(bad.Accounts, bundle.Account{Name: "Bad Name", Role: "operator"}, bundle.Account{Name: "eve", Role: "operator", Hash: "$argon2id$v=19$m=999999999,t=1,p=1$c2FsdA$a2V5"})
	must(t, bad.Sign(dst))
	badJSON, _ := json.Marshal(&bad)
	_, err = exec(b, "config import", string(badJSON))
	for _, want := range []string{"nothing imported", "smtp.max_recipients", "(in the bundle)", "Bad Name", "eve: the password hash"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("an invalid bundle: no %q in %v", want, err)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dst, settings.FileName)); string(after) != string(before) {
		t.Fatal("a refused import changed the settings file")
	}
	if _, err := os.Stat(filepath.Join(dst, policy.FileName)); err == nil {
		t.Fatal("a refused import wrote the policies")
	}

	out, err := exec(b, "config import", exported)
	if err != nil || !strings.Contains(out, "signed by another appliance, key SHA256:") || !strings.Contains(out, "2 accounts") {
		t.Fatalf("config import: %q %v", out, err)
	}
	vals, err := settings.Values(dst)
	must(t, err)
	for _, v := range vals {
		switch v.Key {
		case "smtp.accepted_domains":
			if v.Value != "example.com,example.net" {
				t.Errorf("imported %s = %q", v.Key, v.Value)
			}
		case "hub.key":
			if v.Value != "mih_exported" {
				t.Errorf("the hub key was not imported: %q", v.Value)
			}
		}
	}
	if p, _ := os.ReadFile(filepath.Join(dst, policy.FileName)); string(p) != pols {
		t.Errorf("imported policies %q", p)
	}
	if _, err := b.accounts.Authenticate(context.Background(), "ivy", "Ivy-Pass-2026"); err != nil {
		t.Errorf("ivy cannot log in with her password on the importing appliance: %v", err)
	}
	var log []cli.AuditRecord
	log, err = b.AuditLog(context.Background(), cli.AuditQuery{Kind: "config"})
	must(t, err)
	if len(log) != 3 || !log[0].OK || log[1].OK || log[2].OK || strings.Contains(log[0].Command, "argon2") {
		t.Errorf("audit %+v", log)
	}
	// The exporting appliance reads its own bundle as its own.
	if out, err := exec(a, "config import", exported); err != nil || !strings.Contains(out, "signed by this appliance") {
		t.Errorf("importing its own export: %q %v", out, err)
	}
}
