package appliance

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/cli"
	"mailinspector/internal/hub"
	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
	signedbundle "mailinspector/internal/updates/signed"
)

// updateSample is what the new signature of the test bundles finds.
const updateSample = "MAILINSPECTOR-UPDATE-E2E-51d0"

// signBundle signs a ClamAV bundle of version v whose database finds
// updateSample, with a canary of it, into a file.
func signBundle(t *testing.T, keyFile string, v uint64, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "e2e.ndb"), []byte("MailInspector.Update.E2E:0:*:"+hex.EncodeToString([]byte(updateSample))+"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "canary"), []byte("x "+updateSample+" x"), 0o644))
	for name, body := range extra {
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	key, err := signedbundle.ReadPrivate(keyFile)
	must(t, err)
	out := filepath.Join(t.TempDir(), "clamav.bundle")
	f, err := os.Create(out)
	must(t, err)
	_, err = signedbundle.Sign(key, signedbundle.SignOptions{Kind: "clamav", Version: v, Lifetime: 24 * time.Hour,
		Canaries: []signedbundle.Canary{{File: "canary", Expect: "MailInspector.Update.E2E.UNOFFICIAL"}}}, dir, f)
	must(t, err)
	must(t, f.Close())
	return out
}

func updateMessage(subject string) string {
	return "From: bob@example.org\r\nTo: alice@example.com\r\nSubject: " + subject + "\r\nDate: Fri, 04 Dec 2026 08:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee the file\r\n" +
		"--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"report.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte("report "+updateSample+" end")) + "\r\n--b1--\r\n"
}

func showUpdates(t *testing.T, a *Appliance) *cli.Updates {
	t.Helper()
	u, err := a.Updates(context.Background())
	must(t, err)
	return u
}

func installedOf(u *cli.Updates, kind string) uint64 {
	for _, k := range u.Kinds {
		if k.Kind == kind {
			return k.Installed
		}
	}
	return 0
}

// The proof of issue 22's updates: the hub serves a bundle with a new
// ClamAV signature, the scheduled check installs it, and a message the
// old patterns let through is quarantined, without a restart; with the
// hub stopped, update import installs the next one and show services
// says the hub is out of reach; rollback goes back.
func TestPatternUpdateEndToEnd(t *testing.T) {
	cd := testutil.StartClamd(t)
	h, bl, sink := startTestHub(t), startDNSBL(t), testutil.NewSink(t)
	keyFile := filepath.Join(t.TempDir(), "signing.key")
	_, err := signedbundle.GenerateKey(keyFile)
	must(t, err)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"delivery.relay": sink.Addr,
		"engine.clamd": cd.Spec(), "engine.clamd_database": cd.DB, "updates.trusted_keys": keyFile + ".pub",
		"schedules.updates": "@every 1s"}))
	admin := cli.WithCaller(context.Background(), cli.Caller{Who: "admin", Via: "test", Role: cli.RoleAdministrator})

	// The old patterns do not know the sample: delivered.
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.20", "bob@example.org", []string{"alice@example.com"}, updateMessage("before")))
	sink.WaitFor(t, 1, 20*time.Second)

	_, err = hub.Publish(h.Dir, signBundle(t, keyFile, 1, nil))
	must(t, err)
	deadline := time.Now().Add(60 * time.Second)
	for installedOf(showUpdates(t, a), "clamav") != 1 {
		if time.Now().After(deadline) {
			b, _ := json.Marshal(showUpdates(t, a))
			t.Fatalf("the scheduled check did not install version 1: %s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	u := showUpdates(t, a)
	if u.LastSuccess == "" || len(u.History) == 0 || u.History[0].Source != "hub" || u.History[0].Outcome != "installed" {
		t.Fatalf("show updates after the scheduled install: %+v", u)
	}
	js, err := cli.Render(u, true)
	must(t, err)
	if !strings.Contains(js, `"kind": "clamav"`) || !strings.Contains(js, `"installed": 1`) {
		t.Fatalf("show updates -o json does not name the installed version:\n%s", js)
	}

	// The same message now: quarantined by the new signature.
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.20", "bob@example.org", []string{"alice@example.com"}, updateMessage("after")))
	var d *cli.MessageDetail
	deadline = time.Now().Add(20 * time.Second)
	for d == nil || d.Subject != "after" {
		if time.Now().After(deadline) {
			t.Fatal("the second message was not recorded")
		}
		time.Sleep(100 * time.Millisecond)
		d = newest(t, a)
	}
	d = waitState(t, a, d.ID, store.StateQuarantined, 20*time.Second)
	if !hasFinding(d, "clamd", "MailInspector.Update.E2E.UNOFFICIAL") {
		t.Fatalf("findings: %+v", d.Findings)
	}

	// The hub stops answering: the patterns stay, show services says so,
	// and update import installs version 2 from a file.
	h.Proxy.SetFault(testutil.FaultRefuse)
	waitServices(t, a, []string{"updates"}, func(s cli.ServiceStatus) bool { return s.State == "unreachable" && s.LastOK != "" })
	v2 := signBundle(t, keyFile, 2, map[string]string{"extra.hdb": ""})
	// An empty database is a database clamd cannot load: refused, v1 stays.
	if _, err := cli.Exec(admin, a, "update import "+v2); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Fatalf("update import of a bundle clamd cannot load: %v", err)
	}
	v3 := signBundle(t, keyFile, 3, nil)
	out, err := cli.Exec(admin, a, "update import "+v3)
	if err != nil || !strings.Contains(out.(cli.Done).Message, "clamav version 3 installed") {
		t.Fatalf("update import with the hub stopped: %v %v", out, err)
	}
	if got := installedOf(showUpdates(t, a), "clamav"); got != 3 {
		t.Fatalf("installed %d after the import", got)
	}
	if _, err := cli.Exec(admin, a, "update import "+v3); err == nil || !strings.Contains(err.Error(), "not newer than 3") {
		t.Fatalf("the same version again: %v", err)
	}
	if _, err := cli.Exec(admin, a, "update rollback"); err != nil {
		t.Fatal(err)
	}
	if got := installedOf(showUpdates(t, a), "clamav"); got != 1 {
		t.Fatalf("installed %d after the rollback, want 1", got)
	}
	text, err := cli.Render(showUpdates(t, a), false)
	must(t, err)
	for _, want := range []string{"clamav", "rolled-back", "failed", "import", "hub"} {
		if !strings.Contains(text, want) {
			t.Errorf("show updates lacks %q:\n%s", want, text)
		}
	}
	// Mail went on throughout: a clean message is delivered.
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.20", "bob@example.org", []string{"alice@example.com"}, testMessage("clean", "")))
	sink.WaitFor(t, 2, 20*time.Second)
}

// TestBundleCommands drives the bundle commands as a hub operator would:
// keygen, sign, verify with the right key and with another, publish on
// the hub; and the contract's exit codes.
func TestBundleCommands(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	run := func(args ...string) (string, int) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return string(out), code
	}
	key, other := filepath.Join(dir, "signing.key"), filepath.Join(dir, "other.key")
	for _, k := range []string{key, other} {
		if out, code := run("bundle", "keygen", "--out", k); code != 0 || !strings.Contains(out, "key ") {
			t.Fatalf("keygen: %d %s", code, out)
		}
	}
	if out, code := run("bundle", "keygen", "--out", key); code != 1 || !strings.Contains(out, "never overwritten") {
		t.Fatalf("keygen over a key: %d %s", code, out)
	}
	src := filepath.Join(dir, "db")
	must(t, os.Mkdir(src, 0o755))
	must(t, os.WriteFile(filepath.Join(src, "e2e.ndb"), []byte("MailInspector.Update.E2E:0:*:"+hex.EncodeToString([]byte(updateSample))+"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "canary"), []byte(updateSample), 0o644))
	bundle := filepath.Join(dir, "clamav-7.bundle")
	out, code := run("bundle", "sign", "--key", key, "--kind", "clamav", "--version", "7", "--out", bundle,
		"--canary", "canary=MailInspector.Update.E2E.UNOFFICIAL", src)
	if code != 0 || !strings.Contains(out, "clamav version 7") {
		t.Fatalf("sign: %d %s", code, out)
	}
	if out, code := run("bundle", "verify", "--pub", key+".pub", bundle); code != 0 || !strings.Contains(out, "good: clamav version 7") || !strings.Contains(out, "e2e.ndb") {
		t.Fatalf("verify: %d %s", code, out)
	}
	if out, code := run("bundle", "verify", "--pub", other+".pub", bundle); code != 1 || !strings.Contains(out, "not a trusted key") {
		t.Fatalf("verify with another key: %d %s", code, out)
	}
	// Without --pub: the keys the appliance of --data-dir trusts (none).
	if out, code := run("bundle", "verify", "--data-dir", t.TempDir(), bundle); code != 1 || !strings.Contains(out, "not a trusted key") {
		t.Fatalf("verify with no trusted key: %d %s", code, out)
	}
	if out, code := run("bundle", "sign", "--key", key, "--kind", "Bad Kind", "--version", "1", "--out", bundle+"2", src); code != 1 || !strings.Contains(out, "kind") {
		t.Fatalf("sign with a bad kind: %d %s", code, out)
	}
	if _, code := run("bundle", "sign", "--key", key, src); code != 2 {
		t.Fatalf("sign without --kind: exit %d, want 2", code)
	}
	hubDir := t.TempDir()
	if out, code := run("hub", "bundle", "publish", "--data-dir", hubDir, bundle); code != 0 || !strings.Contains(out, "published clamav version 7") {
		t.Fatalf("hub bundle publish: %d %s", code, out)
	}
	if out, code := run("hub", "bundle", "publish", "--data-dir", hubDir, key); code != 1 {
		t.Fatalf("hub bundle publish of a key file: %d %s", code, out)
	}
	// The hub's ML model as a signed bundle.
	modelSrc := t.TempDir()
	must(t, os.WriteFile(filepath.Join(modelSrc, "model.json"), []byte(`{"version": "cmd-test", "trained_on": "test", "samples": 1, "bias": 0, "weights": {"office_macros": 1}, "mean": {}, "std": {}, "threshold": 0.5}`), 0o644))
	modelBundle := filepath.Join(dir, "model.bundle")
	if out, code := run("bundle", "sign", "--key", key, "--kind", "ml-model", "--version", "1", "--out", modelBundle, modelSrc); code != 0 {
		t.Fatalf("sign the model: %d %s", code, out)
	}
	if out, code := run("hub", "model", "install", "--data-dir", hubDir, "--pub", other+".pub", modelBundle); code != 1 || !strings.Contains(out, "not a trusted key") {
		t.Fatalf("hub model install with another key: %d %s", code, out)
	}
	if out, code := run("hub", "model", "install", "--data-dir", hubDir, "--pub", key+".pub", modelBundle); code != 0 || !strings.Contains(out, "model cmd-test (bundle version 1") {
		t.Fatalf("hub model install: %d %s", code, out)
	}
}

// TestListsUpdate: a lists bundle's blocked domain decides the next
// message without a restart, and after one.
func TestListsUpdate(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "signing.key")
	_, err := signedbundle.GenerateKey(keyFile)
	must(t, err)
	dir := t.TempDir()
	conf := map[string]string{"updates.trusted_keys": keyFile + ".pub", "policy.unrated": "deliver"}
	a := startApp(t, dir, conf)
	src := t.TempDir()
	must(t, os.WriteFile(filepath.Join(src, "blocked-domains.txt"), []byte("# the feed\nfeed-blocked.test\n"), 0o644))
	key, err := signedbundle.ReadPrivate(keyFile)
	must(t, err)
	bundle := filepath.Join(t.TempDir(), "lists.bundle")
	f, err := os.Create(bundle)
	must(t, err)
	_, err = signedbundle.Sign(key, signedbundle.SignOptions{Kind: "lists", Version: 1, Lifetime: time.Hour}, src, f)
	must(t, err)
	must(t, f.Close())
	admin := cli.WithCaller(context.Background(), cli.Caller{Who: "admin", Via: "test", Role: cli.RoleAdministrator})
	if out, err := cli.Exec(admin, a, "update import "+bundle); err != nil {
		t.Fatalf("update import: %v %v", out, err)
	}
	check := func(subject string) {
		t.Helper()
		must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"},
			"From: bob@example.org\r\nTo: alice@example.com\r\nSubject: "+subject+"\r\n\r\nsee http://www.feed-blocked.test/landing today\r\n"))
		var d *cli.MessageDetail
		for deadline := time.Now().Add(20 * time.Second); d == nil || d.Subject != subject; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the message was not recorded")
			}
			d = newest(t, a)
		}
		d = waitState(t, a, d.ID, store.StateQuarantined, 20*time.Second)
		if !hasFinding(d, "local-lists", "feed-domain") {
			t.Fatalf("%s: findings %+v", subject, d.Findings)
		}
	}
	check("listed by the feed")
	a.Stop()
	a = startApp(t, dir, conf)
	check("listed after a restart")
}

// TestPolicyTemplates: a policy-templates bundle's templates are listed and
// one is applied by name as a policies commit; a template whose policy is
// not named after its file is refused.
func TestPolicyTemplates(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "signing.key")
	_, err := signedbundle.GenerateKey(keyFile)
	must(t, err)
	a := startApp(t, t.TempDir(), map[string]string{"updates.trusted_keys": keyFile + ".pub"})
	key, err := signedbundle.ReadPrivate(keyFile)
	must(t, err)
	sign := func(v uint64, files map[string]string) string {
		src := t.TempDir()
		for n, b := range files {
			must(t, os.WriteFile(filepath.Join(src, n), []byte(b), 0o644))
		}
		out := filepath.Join(t.TempDir(), "templates.bundle")
		f, err := os.Create(out)
		must(t, err)
		_, err = signedbundle.Sign(key, signedbundle.SignOptions{Kind: "policy-templates", Version: v, Lifetime: time.Hour}, src, f)
		must(t, err)
		must(t, f.Close())
		return out
	}
	admin := cli.WithCaller(context.Background(), cli.Caller{Who: "admin", Via: "test", Role: cli.RoleAdministrator})
	if _, err := cli.Exec(admin, a, "update import "+sign(1, map[string]string{"Strict.conf": "policy \"Other\"\n  high delete\n"})); err == nil ||
		!strings.Contains(err.Error(), `must hold one policy, named "Strict"`) {
		t.Fatalf("a template named apart from its file: %v", err)
	}
	tmpl := "policy \"Strict\"\n  direction inbound\n  high delete\n  medium quarantine\n"
	if _, err := cli.Exec(admin, a, "update import "+sign(2, map[string]string{"Strict.conf": tmpl})); err != nil {
		t.Fatal(err)
	}
	v, err := cli.Exec(admin, a, "show policy-templates")
	must(t, err)
	if ts := v.([]cli.PolicyTemplate); len(ts) != 1 || ts[0].Name != "Strict" || ts[0].Version != 2 {
		t.Fatalf("show policy-templates: %+v", ts)
	}
	if _, err := cli.Exec(admin, a, "policy template apply Nope"); err == nil {
		t.Fatal("applied a template that does not exist")
	}
	if _, err := cli.Exec(admin, a, "policy template apply Strict"); err != nil {
		t.Fatal(err)
	}
	pols, err := a.Policies(context.Background())
	must(t, err)
	if !strings.Contains(pols, `policy "Strict"`) || !strings.Contains(pols, "medium quarantine") {
		t.Fatalf("policies after apply:\n%s", pols)
	}
}
