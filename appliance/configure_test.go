package appliance

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailinspector/internal/cli"
	"mailinspector/internal/settings"
	"mailinspector/internal/testutil"
)

// TestConfigureCommitAppliesLive drives the built binary as an
// administrator would: configure mode on the shell's standard input, a
// commit that takes effect without a restart (a new accepted domain is
// accepted within seconds), recorded in show audit with before and after;
// then a commit confirmed that nobody confirms rolls back by itself (its
// deadline shortened in the file the daemon keeps it in, and kept across
// a reload).
func TestConfigureCommitAppliesLive(t *testing.T) {
	bin := buildBinary(t)
	sink := testutil.NewSink(t)
	dir := t.TempDir()
	// In the file, not --set: what --set gives at start a commit cannot
	// change. Loopback is not trusted here, so the accepted domains decide.
	must(t, settings.Update(dir, map[string]string{"delivery.relay": sink.Addr, "smtp.trusted_networks": "192.0.2.0/24",
		"smtp.accepted_domains": "example.com", "policy.unrated": "deliver"}))
	d := newChild(t, dir)
	d.start()
	defer d.stop()
	shell := func(stdin string, args ...string) string {
		t.Helper()
		out, err := shellAcrossReloads(bin, dir, stdin, args...)
		if err != nil {
			t.Fatalf("shell %v: %v\n%s", args, err, out)
		}
		return out
	}
	if err := sendMail(d.addr, "bob@example.org", []string{"carol@example.net"}, testMessage("before", "")); err == nil || !strings.Contains(err.Error(), "550") {
		t.Fatalf("example.net before the commit: %v", err)
	}
	out := shell("configure\nset smtp.accepted_domains example.com,example.net\nshow smtp.accepted\ncompare\ncommit\nexit\n")
	for _, want := range []string{"* smtp.accepted_domains = example.com,example.net", "- smtp.accepted_domains = example.com",
		"+ smtp.accepted_domains = example.com,example.net", "committed 1 keys; the daemon reloads them now"} {
		if !strings.Contains(out, want) {
			t.Fatalf("configure session lacks %q:\n%s", want, out)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for sendMail(d.addr, "bob@example.org", []string{"carol@example.net"}, testMessage("after", "")) != nil {
		if time.Now().After(deadline) {
			t.Fatal("example.net still refused 15s after the commit")
		}
		time.Sleep(100 * time.Millisecond)
	}
	sink.WaitFor(t, 1, 10*time.Second)
	var audit []cli.AuditRecord
	must(t, json.Unmarshal([]byte(shell("", "-o", "json", "-c", "show audit kind settings")), &audit))
	if len(audit) != 1 || !audit[0].OK || audit[0].Before != "smtp.accepted_domains = example.com" ||
		audit[0].After != "smtp.accepted_domains = example.com,example.net" || audit[0].Who != "admin" {
		t.Fatalf("audit %+v", audit)
	}

	// commit confirmed, never confirmed: back by itself.
	out = shell("configure\nset smtp.max_recipients 50\ncommit confirmed 5\nexit\n")
	if !strings.Contains(out, "roll back at") {
		t.Fatalf("commit confirmed:\n%s", out)
	}
	p, ok, err := settings.PendingConfirm(dir)
	if err != nil || !ok {
		t.Fatalf("no pending confirmation: %v", err)
	}
	p.Deadline = time.Now().Add(time.Second)
	must(t, settings.SetPending(dir, p))
	time.Sleep(time.Second) // the commit's own reload is over
	must(t, d.cmd.Process.Signal(syscall.SIGHUP))
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got := shell("", "-c", "show settings smtp.max_recipients")
		if strings.Contains(got, "smtp.max_recipients = 100") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not rolled back: %s", got)
		}
	}
	must(t, json.Unmarshal([]byte(shell("", "-o", "json", "-c", "show audit kind settings")), &audit))
	if len(audit) != 3 || audit[0].Command != "settings rollback (commit confirmed expired)" || !audit[0].OK || audit[0].Who != "system" {
		t.Fatalf("audit after the rollback %+v", audit)
	}
	if _, ok, _ := settings.PendingConfirm(dir); ok {
		t.Error("the confirmation is still pending after the rollback")
	}

	// A secret is set, never read back, and a commit of other keys keeps it.
	shell("configure\nset hub.key mih_not-for-your-eyes\ncommit\nexit\n")
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got := shell("", "-c", "show settings hub.key")
		if strings.Contains(got, "not-for-your-eyes") {
			t.Fatalf("show settings shows the hub key: %s", got)
		}
		if strings.Contains(got, "hub.key = (set, not shown)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("show settings hub.key: %s", got)
		}
	}
	shell("configure\nset smtp.max_recipients 60\ncommit\nexit\n")
	if vs, _ := settings.Values(dir); !slices.ContainsFunc(vs, func(v settings.Value) bool { return v.Key == "hub.key" && v.Value == "mih_not-for-your-eyes" }) {
		t.Errorf("the hub key did not survive a commit of another key: %+v", vs)
	}
	if out := shell("", "-o", "json", "-c", "show audit kind settings"); strings.Contains(out, "not-for-your-eyes") {
		t.Errorf("the audit log holds the hub key:\n%s", out)
	}
	if out := shell("", "-c", "show logs 5000"); strings.Contains(out, "not-for-your-eyes") || !strings.Contains(out, "hub.key (secret)") {
		t.Errorf("the daemon's log and the hub key:\n%s", out)
	}

	// One entry added to a list applies as a commit does: the sender is
	// blocked within seconds; removed, it is not.
	if out := shell("", "-c", "list add senders.blocked evil.example"); !strings.Contains(out, "committed 1 keys") {
		t.Fatalf("list add: %s", out)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		// The commit's reload closes SMTP for a moment: a refused
		// connection then is tried again, as a client would.
		if err := sendMail(d.addr, "x@evil.example", []string{"carol@example.com"}, testMessage("blocked", "")); err != nil {
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
			continue
		}
		var ms []cli.MessageSummary
		must(t, json.Unmarshal([]byte(shell("", "-o", "json", "-c", "show messages from evil.example state quarantined")), &ms))
		if len(ms) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sender added to senders.blocked is still not held")
		}
	}
	if out := shell("", "-c", "list remove senders.blocked EVIL.example"); !strings.Contains(out, "committed 1 keys") {
		t.Fatalf("list remove: %s", out)
	}
	must(t, json.Unmarshal([]byte(shell("", "-o", "json", "-c", "show audit kind lists")), &audit))
	if len(audit) != 2 || audit[0].After != "senders.blocked = " || audit[1].After != "senders.blocked = evil.example" {
		t.Fatalf("lists audit %+v", audit)
	}
}

// sendAcrossReloads is sendMail to a daemon that may be reloading (a
// commit's reload closes SMTP for a moment): a refused connection is tried
// again for up to 15 seconds, as a client would.
func sendAcrossReloads(t *testing.T, addr, from string, to []string, body string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := sendMail(addr, from, to, body)
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "connection refused") || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shellAcrossReloads runs the built binary's shell; while a reload has the
// control socket closed (a commit's own, or a rollback's), it tries again
// for up to 10 seconds, as an administrator would.
func shellAcrossReloads(bin, dir, stdin string, args ...string) (string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		cmd := exec.Command(bin, append([]string{"shell", "--data-dir", dir}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "cannot reach the daemon") || time.Now().After(deadline) {
			return string(out), err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
