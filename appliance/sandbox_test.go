package appliance

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/cli"
	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
)

// sandboxApp starts an appliance whose virtual analyzer uses a private
// libvirtd's test driver, with n loopback guests running the real agent
// under strace for its instances (testutil.SandboxGuests).
func sandboxApp(t *testing.T, n int, overrides map[string]string) *Appliance {
	return sandboxAppAt(t, [4]byte{127, 0, 0, 10}, n, overrides)
}

// sandboxAppAt puts the loopback guests' agents at base and up.
func sandboxAppAt(t *testing.T, base [4]byte, n int, overrides map[string]string) *Appliance {
	t.Helper()
	lvd := testutil.StartLibvirtd(t)
	dir := t.TempDir()
	secret := []byte("0123456789abcdef0123456789abcdef")
	must(t, os.WriteFile(filepath.Join(dir, "sandbox.secret"), []byte(hex.EncodeToString(secret)), 0o600))
	g := testutil.StartSandboxGuests(t, lvd, secret, "linux", base, n)
	tmpl, err := filepath.Abs("../internal/sandbox/testdata/test-domain-overlay.xml")
	must(t, err)
	// The test driver's own storage pool takes the overlays.
	// A pattern engine too, as in the appliance: without one every
	// attachment would be held as unscannable whatever the sandbox says.
	cd := testutil.StartClamd(t)
	vals := map[string]string{"engine.clamd": cd.Spec(), "sandbox.libvirt": lvd.URI(), "sandbox.domain_template": tmpl, "sandbox.agent_base": g.Addrs[0],
		"sandbox.base_image": "/images/linux-guest.qcow2", "sandbox.storage_pool": "default-pool",
		"sandbox.instances": strconv.Itoa(n), "sandbox.call_timeout": "5s", "sandbox.run_time": "20s",
		// A closed port here: checked before every run, and quick.
		"sandbox.isolation_check": closedPort(t)}
	for k, v := range overrides {
		vals[k] = v
	}
	return startApp(t, dir, vals)
}

// closedPort is an address nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// sendNew sends a message and returns the ID the appliance gave it.
func sendNew(t *testing.T, a *Appliance, body string) string {
	t.Helper()
	before, err := a.Messages(context.Background(), 1000)
	must(t, err)
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, body))
	after, err := a.Messages(context.Background(), 1000)
	must(t, err)
	if len(after) != len(before)+1 {
		t.Fatalf("%d messages before, %d after", len(before), len(after))
	}
	return after[0].ID
}

func findingOf(d *cli.MessageDetail, engine string) *cli.Finding {
	for i := range d.Findings {
		if d.Findings[i].Engine == engine {
			return &d.Findings[i]
		}
	}
	return nil
}

func trailEntry(d *cli.MessageDetail, stage string) cli.TrailEntry {
	var last cli.TrailEntry
	for _, e := range d.Trail {
		if e.Stage == stage {
			last = e
		}
	}
	return last
}

const dropper = `#!/bin/bash
mkdir -p "$HOME/.config/autostart"
printf '[Desktop Entry]\nExec=%s/.local/bin/upd\n' "$HOME" > "$HOME/.config/autostart/upd.desktop"
timeout 1 bash -c 'exec 3<>/dev/tcp/192.0.2.1/443' 2>/dev/null
rm -f "$0"
`

// From SMTP to verdict: a script attachment that installs itself and
// calls out is held until the sandbox has judged it, then quarantined as
// high-risk malware; the same attachment in a later message reuses the
// verdict; a benign script goes through with "no risk". show analysis and
// show sandbox tell what happened.
func TestSandboxVerdictInTheMailFlow(t *testing.T) {
	t.Setenv("HOME", t.TempDir()) // the loopback guests' agents run samples as us
	a := sandboxApp(t, 1, map[string]string{"metrics.listen": "127.0.0.1:0"})
	addr := a.SMTPAddr().String()
	must(t, send(t, addr, "bob@example.org", []string{"alice@example.com"}, withAttachment("invoice", "application/octet-stream", "invoice.sh", []byte(dropper))))
	id := onlyMessage(t, a).ID
	d := waitState(t, a, id, "quarantined", 90*time.Second)
	f := findingOf(d, "virtual-analyzer")
	if f == nil || f.Risk != "high" || f.Threat != "malware" || !strings.Contains(f.Detail, "persistence") || f.Object != sha([]byte(dropper)) {
		t.Fatalf("finding %+v; trail %+v", f, d.Trail)
	}
	if d.Reason != "threat" {
		t.Errorf("reason %q", d.Reason)
	}
	var held bool
	for _, e := range d.Trail {
		if e.Stage == "virtual-analyzer" && strings.HasPrefix(e.Detail, "waiting for the sandbox") {
			held = true
		}
	}
	if !held {
		t.Errorf("the message never waited for the sandbox: %+v", d.Trail)
	}

	v, err := cli.Exec(context.Background(), a, "show analysis "+sha([]byte(dropper)))
	must(t, err)
	an := v.(*cli.Analysis)
	var rep struct {
		Verdict struct {
			Risk    string
			Matches []struct{ ID string }
		}
		Report struct {
			Ran    bool
			Events []struct{ Type, Path string }
		}
	}
	must(t, json.Unmarshal(an.Report, &rep))
	if an.State != "done" || an.Risk != "high" || rep.Verdict.Risk != "high" || !rep.Report.Ran || len(rep.Report.Events) == 0 {
		t.Fatalf("analysis %+v / %+v", an, rep)
	}
	row, err := a.db.SandboxAnalysis(context.Background(), an.SHA256)
	must(t, err)
	if !strings.Contains(string(row.HTML), "<h1>Virtual analyzer report") {
		t.Errorf("no HTML report stored")
	}
	// sandbox.screenshot is on by default: the test driver's picture.
	if !strings.Contains(string(row.HTML), `<img src="data:image/png;base64,`) || !strings.Contains(string(an.Report), `"screenshot":{"bytes":`) {
		t.Errorf("no screenshot in the report")
	}

	// The same sample again: the stored verdict, no second run.
	again := sendNew(t, a, withAttachment("invoice again", "application/octet-stream", "copy.sh", []byte(dropper)))
	d = waitState(t, a, again, "quarantined", 60*time.Second)
	if e := trailEntry(d, "virtual-analyzer"); e.Outcome != "finding" {
		t.Errorf("the repeated sample: %+v", d.Trail)
	}
	for _, e := range d.Trail {
		if e.Stage == "virtual-analyzer" && strings.HasPrefix(e.Detail, "waiting") {
			t.Errorf("the repeated sample waited for a run: %+v", e)
		}
	}
	// The dropper inside a zip, under another name: the member is the
	// sample; its verdict is the one already in.
	zipped := sendNew(t, a, withAttachment("invoice zipped", "application/zip", "invoice.zip",
		testutil.Zip(t, map[string][]byte{"docs/run-me.sh": []byte(dropper)})))
	d = waitState(t, a, zipped, "quarantined", 60*time.Second)
	if f := findingOf(d, "virtual-analyzer"); f == nil || f.Risk != "high" || !strings.Contains(f.Location, "docs/run-me.sh") {
		t.Fatalf("zipped dropper: %+v; trail %+v", f, d.Trail)
	}
	// A script only in a zip, new to the sandbox: detonated from the
	// archive.
	inner := "#!/bin/sh\ncrontab -l >/dev/null 2>&1; mkdir -p \"$HOME/.config/autostart\"; echo x > \"$HOME/.config/autostart/z.desktop\"\n"
	zipped = sendNew(t, a, withAttachment("tools zipped", "application/zip", "tools.zip",
		testutil.Zip(t, map[string][]byte{"tool.sh": []byte(inner)})))
	d = waitState(t, a, zipped, "quarantined", 60*time.Second)
	if f := findingOf(d, "virtual-analyzer"); f == nil || f.Risk != "high" || f.Object != sha([]byte(inner)) {
		t.Fatalf("zipped new script: %+v; trail %+v", f, d.Trail)
	}
	// A benign script: runs, no risk, delivered.
	benign := sendNew(t, a, withAttachment("figures", "text/x-sh", "figures.sh", []byte("#!/bin/sh\necho quarterly figures\n")))
	d = waitState(t, a, benign, "delivered", 60*time.Second)
	if e := trailEntry(d, "virtual-analyzer"); e.Outcome != "ok" || !strings.Contains(e.Detail, "no risk") {
		t.Errorf("the benign script: %+v", e)
	}
	sv, err := cli.Exec(context.Background(), a, "show sandbox")
	must(t, err)
	st := sv.(*cli.Sandbox)
	if !st.Configured || st.Status == nil || !st.Status.Libvirt.Connected || st.Accelerator != "test driver" ||
		st.Status.Counters.Finished != 3 || st.Status.Counters.Reverts != 3 || len(st.Status.Recent) != 3 {
		t.Fatalf("show sandbox %+v %+v", st, st.Status)
	}
	resp, err := http.Get("http://" + a.MetricsAddr().String() + "/metrics")
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"mailinspector_sandbox_analyses_total 3", "mailinspector_sandbox_reverts_total 3",
		`mailinspector_sandbox_instances{state="free"} 1`, "mailinspector_sandbox_libvirt_connected 1", `mailinspector_service_state{service="libvirt",state="ok"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	text, err := cli.Render(sv, false)
	must(t, err)
	if !strings.Contains(text, "mi-sbx-linux-0") || !strings.Contains(text, "test driver") {
		t.Errorf("show sandbox text:\n%s", text)
	}
}

// libvirt out of reach: the step is skipped and says so, the mail is not
// held, and sandbox.on_error decides (quarantine with va-error by
// default; deliver when so set). Unconfigured, nothing changes for mail.
func TestSandboxOutOfReach(t *testing.T) {
	tmpl, err := filepath.Abs("../internal/sandbox/testdata/test-domain.xml")
	must(t, err)
	dead := "test+unix:///default?socket=" + filepath.Join(t.TempDir(), "no-libvirtd.sock")
	cd := testutil.StartClamd(t)
	for _, tc := range []struct {
		onError, state, reason string
	}{{"quarantine", "quarantined", "va-error"}, {"deliver", "delivered", ""}} {
		t.Run(tc.onError, func(t *testing.T) {
			a := startApp(t, t.TempDir(), map[string]string{"engine.clamd": cd.Spec(), "sandbox.libvirt": dead, "sandbox.domain_template": tmpl,
				"sandbox.instances": "1", "sandbox.call_timeout": "1s", "sandbox.on_error": tc.onError})
			// Wait until the pool has given up on its instance.
			deadline := time.Now().Add(30 * time.Second)
			for a.va.Usable() == nil {
				if time.Now().After(deadline) {
					t.Fatal("the instance never went out of the pool")
				}
				time.Sleep(20 * time.Millisecond)
			}
			must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"},
				withAttachment("unanalysed", "application/octet-stream", "tool.sh", []byte("#!/bin/sh\necho hi\n"))))
			d := waitState(t, a, onlyMessage(t, a).ID, tc.state, 30*time.Second)
			e := trailEntry(d, "virtual-analyzer")
			if e.Outcome != "skipped" || !strings.HasPrefix(e.Detail, "libvirt: ") || e.MS > 1000 {
				t.Fatalf("trail entry %+v", e)
			}
			if d.Reason != tc.reason {
				t.Fatalf("reason %q, want %q", d.Reason, tc.reason)
			}
			svcs, err := a.Services(context.Background())
			must(t, err)
			for _, s := range svcs {
				if s.Name == "libvirt" && s.Skips == 0 {
					t.Errorf("libvirt status %+v", s)
				}
			}
		})
	}
	a := startApp(t, t.TempDir(), map[string]string{"engine.clamd": cd.Spec()})
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"},
		withAttachment("no sandbox", "application/octet-stream", "tool.sh", []byte("#!/bin/sh\necho hi\n"))))
	d := waitState(t, a, onlyMessage(t, a).ID, "delivered", 30*time.Second)
	if e := trailEntry(d, "virtual-analyzer"); e.Outcome != "skipped" || !strings.Contains(e.Detail, "not configured") {
		t.Fatalf("unconfigured: %+v", e)
	}
}

// A verdict that does not come within sandbox.submission_timeout: the
// message is quarantined with va-timeout.
// TestSandboxVerdictWakesTheWaitingMessage: a message waiting for the
// sandbox is analysed again when the verdict lands, not at its next look:
// one wait in its trail, whose next look (30s here, as the submission
// timeout is far) had not come when the message was decided; and the
// analysis resumes at the sandbox: clamd scanned the message once.
func TestSandboxVerdictWakesTheWaitingMessage(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	a := sandboxApp(t, 1, map[string]string{"sandbox.submission_timeout": "10m"})
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"},
		withAttachment("woken", "application/octet-stream", "invoice.sh", []byte(dropper))))
	d := waitState(t, a, onlyMessage(t, a).ID, "quarantined", 90*time.Second)
	var waits []cli.TrailEntry
	var decided *cli.TrailEntry
	for i, e := range d.Trail {
		if e.Stage != "virtual-analyzer" {
			continue
		}
		if strings.HasPrefix(e.Detail, "waiting for the sandbox") {
			waits = append(waits, e)
		} else {
			decided = &d.Trail[i]
		}
	}
	if len(waits) != 1 || !strings.Contains(waits[0].Detail, "woken by the verdict, else looked at again in 30s") || decided == nil || decided.Outcome != "finding" {
		t.Fatalf("waits %+v, then %+v", waits, decided)
	}
	waited, err := time.Parse(time.RFC3339, waits[0].At)
	must(t, err)
	at, err := time.Parse(time.RFC3339, decided.At)
	must(t, err)
	if at.Sub(waited) >= 30*time.Second {
		t.Fatalf("decided %s after the wait: at its next look, not woken", at.Sub(waited))
	}
	scans, resumed := 0, false
	for _, e := range d.Trail {
		scans += map[bool]int{true: 1}[e.Stage == "pattern-engine"]
		resumed = resumed || e.Stage == "resume" && strings.Contains(e.Detail, "resumed at virtual-analyzer")
	}
	if scans != 1 || !resumed {
		t.Fatalf("%d pattern-engine entries, resumed %v: %+v", scans, resumed, d.Trail)
	}
}

func TestSandboxSubmissionTimeout(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	a := sandboxApp(t, 1, map[string]string{"sandbox.submission_timeout": "2s", "sandbox.run_time": "30s"})
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"},
		withAttachment("slow", "application/octet-stream", "slow.sh", []byte("#!/bin/sh\nsleep 25\n"))))
	d := waitState(t, a, onlyMessage(t, a).ID, "quarantined", 60*time.Second)
	if d.Reason != "va-timeout" {
		t.Fatalf("reason %q; trail %+v", d.Reason, d.Trail)
	}
}

// Links through the mail flow: with sandbox.urls the sandbox opens each
// link of a message through its proxy (the guard lets it reach the test's
// web server only because sandbox.proxy_allow names loopback), the message
// waits for the verdict, a page that asks for a password is a medium-risk
// suspicious URL (tagged and delivered by the default policy), a plain
// page is no risk, and show analysis takes the link itself.
func TestSandboxLinksInTheMailFlow(t *testing.T) {
	web := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/login" {
			io.WriteString(w, `<html><body><form method=post><input name=u><input type="password" name=p></form></body></html>`)
			return
		}
		io.WriteString(w, "<html><body>Our news</body></html>")
	})}
	if os.Geteuid() != 0 {
		t.Skip("a web server on port 80 and the fake internet's DNS on 53 want root")
	}
	ln, err := net.Listen("tcp", "127.77.0.2:80") // the proxy's guard allows ports 80 and 443 only
	must(t, err)
	go web.Serve(ln)
	defer web.Close()
	_, smtpPort, _ := net.SplitHostPort(closedPort(t))
	// The guest's agent at 127.0.0.1, the address its curl connects
	// from: the proxy serves the guests' addresses only.
	a := sandboxAppAt(t, [4]byte{127, 0, 0, 1}, 1, map[string]string{"sandbox.urls": "unrated", "sandbox.proxy": "direct", "sandbox.fakenet": "127.77.0.1",
		"sandbox.fakenet_smtp_port": smtpPort, "sandbox.proxy_allow": "127.0.0.0/8"})
	body := func(subject, link string) string {
		return "From: bob@example.org\r\nTo: alice@example.com\r\nSubject: " + subject + "\r\n\r\nPlease sign in at " + link + " today.\r\n"
	}
	id := sendNew(t, a, body("sign in", "http://127.77.0.2/login"))
	d := waitState(t, a, id, "delivered", 90*time.Second)
	f := findingOf(d, "virtual-analyzer")
	if f == nil || f.Risk != "medium" || f.Threat != "suspicious URL" || f.Object != "http://127.77.0.2/login" || !strings.Contains(f.Detail, "link-login") {
		t.Fatalf("finding %+v; trail %+v", f, d.Trail)
	}
	var held bool
	for _, e := range d.Trail {
		held = held || (e.Stage == "virtual-analyzer" && strings.Contains(e.Detail, "waiting for the sandbox: link http://127.77.0.2/login"))
	}
	if !held {
		t.Errorf("the message never waited for the link's verdict: %+v", d.Trail)
	}
	v, err := cli.Exec(context.Background(), a, "show analysis http://127.77.0.2/login")
	must(t, err)
	an := v.(*cli.Analysis)
	var rep struct {
		Report struct {
			How   string
			Fetch struct {
				Final     string
				Via       string
				LoginForm bool `json:"login_form"`
			}
		}
	}
	must(t, json.Unmarshal(an.Report, &rep))
	if an.Risk != "medium" || rep.Report.How != "curl" || rep.Report.Fetch.Via != "proxy" || !rep.Report.Fetch.LoginForm {
		t.Fatalf("analysis %+v / %+v", an, rep)
	}

	// A day later the same link is fetched again (pages change); until
	// then its verdict serves.
	id = sendNew(t, a, body("sign in again", "http://127.77.0.2/login"))
	d = waitState(t, a, id, "delivered", 90*time.Second)
	for _, e := range d.Trail {
		if e.Stage == "virtual-analyzer" && strings.HasPrefix(e.Detail, "waiting") {
			t.Errorf("a fresh link verdict was not reused: %+v", e)
		}
	}
	must(t, a.db.Write(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Exec(`UPDATE sandbox_analyses SET finished = finished - ? WHERE name = ?`, int64(25*time.Hour), "http://127.77.0.2/login")
		return err
	}))
	id = sendNew(t, a, body("sign in tomorrow", "http://127.77.0.2/login"))
	d = waitState(t, a, id, "delivered", 90*time.Second)
	held = false
	for _, e := range d.Trail {
		held = held || (e.Stage == "virtual-analyzer" && strings.HasPrefix(e.Detail, "waiting"))
	}
	if f := findingOf(d, "virtual-analyzer"); !held || f == nil || f.Risk != "medium" {
		t.Errorf("an old link verdict was not redone: finding %+v; trail %+v", f, d.Trail)
	}

	id = sendNew(t, a, body("news", "http://127.77.0.2/news"))
	d = waitState(t, a, id, "delivered", 90*time.Second)
	if e := trailEntry(d, "virtual-analyzer"); e.Outcome != "ok" || !strings.Contains(e.Detail, "no risk") {
		t.Errorf("the plain page: %+v", e)
	}
	if f := findingOf(d, "virtual-analyzer"); f != nil {
		t.Errorf("the plain page got a finding: %+v", f)
	}
}
