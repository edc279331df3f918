package appliance

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/accounts"
	"mailinspector/internal/cli"
)

// TestAccountsOverTheShell: the built binary's shell adds an account and
// sets its password from standard input (never on the command line or in
// the audit log); show accounts lists it beside admin; the running daemon
// refuses an Operator the raw message an Administrator reads.
func TestAccountsOverTheShell(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	d := newChild(t, dir, "policy.unrated=deliver")
	d.start()
	defer d.stop()
	shell := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"shell", "--data-dir", dir}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := shell("", "-c", "account add olga operator"); err != nil || !strings.Contains(out, "account olga added as operator") {
		t.Fatalf("account add: %s %v", out, err)
	}
	if out, err := shell("weak\n", "-c", "account password olga"); err == nil || !strings.Contains(out, "8 to 64 characters") {
		t.Fatalf("a weak password: %s %v", out, err)
	}
	if out, err := shell("Op3rator-pass\n", "-c", "account password olga"); err != nil || !strings.Contains(out, "password of olga set") {
		t.Fatalf("account password: %s %v", out, err)
	}
	out, err := shell("", "-o", "json", "-c", "show accounts")
	if err != nil {
		t.Fatal(out, err)
	}
	var as []cli.AccountInfo
	must(t, json.Unmarshal([]byte(out), &as))
	if len(as) != 2 || as[0].Name != "admin" || as[0].Role != "administrator" || as[1].Name != "olga" || !as[1].Password {
		t.Fatalf("accounts %+v", as)
	}
	if out, err := shell("", "-c", "account delete admin"); err == nil || !strings.Contains(out, "cannot be deleted") {
		t.Errorf("deleting admin: %s %v", out, err)
	}
	// show logs: the daemon's own recent lines, filtered.
	if out, err := shell("", "-c", "show logs 5 grep \"account password olga\""); err != nil || !strings.Contains(out, `"command":"account password olga"`) ||
		strings.Contains(out, "mailinspector started") {
		t.Errorf("show logs grep: %s %v", out, err)
	}
	if out, err := shell("", "-c", "show logs 500"); err != nil || !strings.Contains(out, "mailinspector started") {
		t.Errorf("show logs: %s %v", out, err)
	}
	out, _ = shell("", "-o", "json", "-c", "show audit kind accounts")
	if strings.Contains(out, "Op3rator-pass") || !strings.Contains(out, `"command": "account password olga"`) {
		t.Errorf("audit:\n%s", out)
	}
}

// TestOperatorIsRefusedMessageBytes: through the command layer of the
// running daemon, as the web console will call it: an Operator may list
// messages but not read one's bytes; an Investigator may.
func TestOperatorIsRefusedMessageBytes(t *testing.T) {
	a := startApp(t, t.TempDir(), map[string]string{"policy.unrated": "deliver", "senders.blocked": "evil.example"})
	must(t, send(t, a.SMTPAddr().String(), "x@evil.example", []string{"alice@example.com"}, testMessage("secret plans", "")))
	id := waitState(t, a, onlyMessage(t, a).ID, "quarantined", 10*time.Second).ID
	as := func(role string) context.Context {
		return cli.WithCaller(context.Background(), cli.Caller{Who: "someone", Via: "test", Role: role})
	}
	if _, err := cli.Exec(as(cli.RoleOperator), a, "show messages"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Exec(as(cli.RoleOperator), a, "show raw "+id); !errors.Is(err, cli.ErrForbidden) {
		t.Fatalf("operator show raw: %v", err)
	}
	v, err := cli.Exec(as(cli.RoleInvestigator), a, "show raw "+id)
	must(t, err)
	if text, _ := cli.Render(v, false); !strings.Contains(text, "Subject: secret plans") {
		t.Errorf("raw:\n%s", text)
	}
}

// TestAdminHashFromTheConsole: the hash the first-boot wizard leaves in
// the data directory becomes admin's password at the daemon's start, and
// the file goes; one that is no hash changes nothing.
func TestAdminHashFromTheConsole(t *testing.T) {
	dir := t.TempDir()
	hash, err := accounts.Hash("Wizard-Pass-2026")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, accounts.PendingHashFile), []byte(hash+"\n"), 0o600))
	a := startApp(t, dir, nil)
	if _, err := a.accounts.Authenticate(context.Background(), "admin", "Wizard-Pass-2026"); err != nil {
		t.Fatalf("admin with the wizard's password: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, accounts.PendingHashFile)); err == nil {
		t.Error("the hash file stayed")
	}
	a.Stop()
	must(t, os.WriteFile(filepath.Join(dir, accounts.PendingHashFile), []byte("not a hash\n"), 0o600))
	a = startApp(t, dir, nil)
	if _, err := a.accounts.Authenticate(context.Background(), "admin", "Wizard-Pass-2026"); err != nil {
		t.Fatalf("a bad file changed admin's password: %v", err)
	}
}
