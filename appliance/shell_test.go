package appliance

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/testutil"
)

// TestShellContract drives the built binary as an administrator would:
// `mailinspector serve` and `mailinspector shell -o json -c …` against it.
func TestShellContract(t *testing.T) {
	bin := buildBinary(t)
	sink := testutil.NewSink(t)
	dir := t.TempDir()
	d := newChild(t, dir, "delivery.relay="+sink.Addr, "senders.blocked=evil.example")
	addr := d.addr
	d.start()
	defer d.stop()
	shell := func(args ...string) (string, int) {
		cmd := exec.Command(bin, append([]string{"shell", "--data-dir", dir}, args...)...)
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
			out = append(out, ee.Stderr...)
		}
		return string(out), code
	}
	must(t, sendMail(addr, "bob@example.org", []string{"alice@example.com"}, testMessage("shell-clean", "")))
	must(t, sendMail(addr, "x@evil.example", []string{"alice@example.com", "carol@example.com"}, testMessage("shell-held", "")))
	sink.WaitFor(t, 1, 10*time.Second)

	var msgs []map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, code := shell("-o", "json", "-c", "show messages")
		if code != 0 {
			t.Fatalf("show messages: %d %s", code, out)
		}
		must(t, json.Unmarshal([]byte(out), &msgs))
		if len(msgs) == 2 && msgs[0]["state"] == "quarantined" && msgs[1]["state"] == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("messages: %s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, k := range []string{"id", "received", "from", "to", "subject", "state", "risk", "action"} {
		if _, ok := msgs[0][k]; !ok {
			t.Errorf("show messages lacks %q: %v", k, msgs[0])
		}
	}
	held := msgs[0]["id"].(string)
	out, code := shell("-o", "json", "-c", "show message "+held)
	var detail struct {
		ID    string `json:"id"`
		Risk  string `json:"risk"`
		Trail []struct {
			Stage, Service, Outcome, Detail string
		} `json:"trail"`
		Findings []map[string]any `json:"findings"`
	}
	must(t, json.Unmarshal([]byte(out), &detail))
	if code != 0 || detail.ID != held || detail.Risk != "high" || len(detail.Trail) < 2 || len(detail.Findings) != 2 { // blocked sender, not scanned
		t.Fatalf("show message: %d %s", code, out)
	}
	for _, e := range detail.Trail {
		switch e.Outcome {
		case "ok", "finding", "skipped", "error":
		default:
			t.Errorf("trail outcome %q", e.Outcome)
		}
	}
	if out, _ := shell("-o", "json", "-c", "show quarantine"); !strings.Contains(out, held) {
		t.Fatalf("show quarantine: %s", out)
	}
	if out, code := shell("-c", "show queue"); code != 0 || !strings.Contains(out, "no recipient waits") {
		t.Fatalf("show queue: %d %s", code, out)
	}
	if out, code := shell("-c", "quarantine release "+held+" carol@example.com"); code != 0 || !strings.Contains(out, "released") {
		t.Fatalf("release: %d %s", code, out)
	}
	got := sink.WaitFor(t, 2, 10*time.Second)
	if strings.Join(got[1].To, ",") != "carol@example.com" {
		t.Fatalf("released to %v", got[1].To)
	}
	if out, code := shell("-c", "quarantine delete "+held); code == 0 {
		t.Fatalf("deleting a released message succeeded: %s", out)
	}
	var svcs []map[string]any
	svcOut, code := shell("-o", "json", "-c", "show services")
	if code != 0 {
		t.Fatalf("show services: %d %s", code, svcOut)
	}
	must(t, json.Unmarshal([]byte(svcOut), &svcs))
	if len(svcs) != 16 || svcs[0]["name"] != "ers" || svcs[0]["state"] != "not-configured" || svcs[14]["name"] != "resolver" || svcs[15]["name"] != "libvirt" {
		t.Fatalf("show services: %s", svcOut)
	}
	for _, k := range []string{"name", "state", "last_ok", "last_error", "calls", "failures", "skips"} {
		if _, ok := svcs[0][k]; !ok {
			t.Errorf("show services lacks %q: %v", k, svcs[0])
		}
	}
	if out, code := shell("-c", "show services"); code != 0 || !strings.Contains(out, "web-reputation") || !strings.Contains(out, "not-configured") {
		t.Fatalf("show services (text): %d %s", code, out)
	}
	// As the admin user's login shell (a symlink named mailinspector-shell):
	// sshd runs it with -c COMMAND.
	login := filepath.Join(t.TempDir(), "mailinspector-shell")
	must(t, os.Symlink(bin, login))
	loginCmd := exec.Command(login, "-c", "show version")
	loginCmd.Env = append(os.Environ(), "MAILINSPECTOR_DATA_DIR="+dir)
	if out, err := loginCmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Mail Inspector") {
		t.Fatalf("as a login shell: %v %s", err, out)
	}
	if out, code := shell("-c", "show version"); code != 0 || !strings.Contains(out, "Mail Inspector") || !strings.Contains(out, "mode mta") {
		t.Fatalf("show version: %d %s", code, out)
	}
	if out, code := shell("-c", "frobnicate"); code != 2 || !strings.Contains(out, "unknown command") {
		t.Fatalf("unknown command: %d %s", code, out)
	}
	if out, code := shell("-c", "show message"); code != 2 || !strings.Contains(out, "usage") {
		t.Fatalf("missing argument: %d %s", code, out)
	}
	if out, code := shell("-c", "show message nosuchid"); code != 1 || !strings.Contains(out, "no such message") {
		t.Fatalf("unknown id: %d %s", code, out)
	}
	// A shell without a daemon says so.
	if out, code := exec.Command(bin, "shell", "--data-dir", t.TempDir(), "-c", "show version").CombinedOutput(); code == nil || !strings.Contains(string(out), "is mailinspector serve running") {
		t.Fatalf("no daemon: %v %s", code, out)
	}
}

func TestServeRefusesBadSettingsWithExitCode78(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "settings.conf"), []byte("mode = relay\nsmtp.listen = nowhere\n"), 0o600))
	out, err := exec.Command(bin, "serve", "--data-dir", dir, "--set", "limits.max_message_bytes=12").CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 78 {
		t.Fatalf("exit %v, want 78\n%s", err, out)
	}
	for _, want := range []string{`mode = "relay"`, `smtp.listen = "nowhere"`, `limits.max_message_bytes = "12"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, err = exec.Command(bin, "settings", "describe").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "delivery.relay\n    default: (empty)") {
		t.Fatalf("settings describe: %v\n%s", err, out)
	}
}
