package appliance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mailinspector/internal/cli"
	"mailinspector/internal/licence"
	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
	signedbundle "mailinspector/internal/updates/signed"
)

func showLicence(t *testing.T, a *Appliance) *cli.Licence {
	t.Helper()
	l, err := a.Licence(context.Background())
	must(t, err)
	return l
}

// TestLicenceStates walks a licence through its states with the hub:
// unlicensed (the trial over), activated by the hub's code at the online
// check, expired, grace; what each changes (updates), and that mail flows
// and is scanned in every one.
func TestLicenceStates(t *testing.T) {
	cd := testutil.StartClamd(t)
	h, bl, sink := startTestHub(t), startDNSBL(t), testutil.NewSink(t)
	keyFile := filepath.Join(t.TempDir(), "signing.key")
	_, err := signedbundle.GenerateKey(keyFile)
	must(t, err)
	dir := t.TempDir()
	conf := func(grace string) map[string]string {
		return serviceSettings(h, bl, map[string]string{"delivery.relay": sink.Addr, "engine.clamd": cd.Spec(),
			"engine.clamd_database": cd.DB, "updates.trusted_keys": keyFile + ".pub", "schedules.updates": "@every 1h",
			"schedules.licence": "@every 1h", "licence.trial_days": "0", "licence.grace_days": grace})
	}
	a := startApp(t, dir, conf("0"))
	admin := cli.WithCaller(context.Background(), cli.Caller{Who: "admin", Via: "test", Role: cli.RoleAdministrator})
	delivered := 0
	mailFlows := func(state string) {
		t.Helper()
		must(t, sendVia(a.SMTPAddr().String(), "198.51.100.20", "bob@example.org", []string{"alice@example.com"}, testMessage("in "+state, "")))
		delivered++
		sink.WaitFor(t, delivered, 20*time.Second)
	}

	// No code and no trial: unlicensed. Updates stop; mail flows.
	l := showLicence(t, a)
	if l.State != licence.Unlicensed || l.Updates || !strings.Contains(l.Warning, "NO LICENCE") || !licence.ValidID(l.ApplianceID) {
		t.Fatalf("show licence at first: %+v", l)
	}
	if _, err := cli.Exec(admin, a, "update import "+signBundle(t, keyFile, 1, nil)); err == nil || !strings.Contains(err.Error(), "updates are stopped") {
		t.Fatalf("update import while unlicensed: %v", err)
	}
	if u := showUpdates(t, a); !strings.Contains(u.Stopped, "no licence") {
		t.Fatalf("show updates while unlicensed: %+v", u)
	}
	mailFlows("unlicensed")

	// The hub has no code for the appliance yet: the check pins its key
	// and changes nothing.
	out, err := cli.Exec(admin, a, "licence check")
	if err != nil || !strings.Contains(out.(cli.Done).Message, "none") {
		t.Fatalf("licence check with no code issued: %v %v", out, err)
	}
	// The hub issues a code that expires in a few seconds; the next check
	// activates it.
	now := time.Now()
	_, err = h.Store.IssueLicence(context.Background(), h.Dir, licence.Licence{Appliance: l.ApplianceID, Edition: "standard", Seats: 50,
		Issued: now, Expires: now.Add(4 * time.Second)})
	must(t, err)
	if _, err := cli.Exec(admin, a, "licence check"); err != nil {
		t.Fatal(err)
	}
	if l := showLicence(t, a); l.State != licence.Active || l.Seats != 50 || !l.Updates {
		t.Fatalf("after the hub's code: %+v", l)
	}
	if _, err := cli.Exec(admin, a, "update import "+signBundle(t, keyFile, 1, nil)); err != nil {
		t.Fatalf("update import while active: %v", err)
	}
	mailFlows("active")

	// Expired (no grace): updates stop, the patterns in place still scan.
	for showLicence(t, a).State != licence.Expired {
		time.Sleep(200 * time.Millisecond)
	}
	l = showLicence(t, a)
	if l.Updates || !strings.Contains(l.Warning, "LICENCE EXPIRED") {
		t.Fatalf("expired: %+v", l)
	}
	if _, err := cli.Exec(admin, a, "update now"); err == nil || !strings.Contains(err.Error(), "updates stopped") {
		t.Fatalf("update now while expired: %v", err)
	}
	text, _ := cli.Render(l, false)
	if !strings.Contains(text, "STOPPED") || !strings.Contains(text, "never stop") {
		t.Fatalf("show licence text:\n%s", text)
	}
	mailFlows("expired")
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.20", "bob@example.org", []string{"alice@example.com"}, updateMessage("scanned while expired")))
	var d *cli.MessageDetail
	for deadline := time.Now().Add(20 * time.Second); d == nil || d.Subject != "scanned while expired"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the message was not recorded")
		}
		d = newest(t, a)
	}
	if d = waitState(t, a, d.ID, store.StateQuarantined, 20*time.Second); !hasFinding(d, "clamd", "MailInspector.Update.E2E.UNOFFICIAL") {
		t.Fatalf("findings while expired: %+v", d.Findings)
	}

	// The same appliance with a day of grace: updates go on, loudly.
	a.Stop()
	a = startApp(t, dir, conf("1"))
	if l := showLicence(t, a); l.State != licence.Grace || !l.Updates || !strings.Contains(l.Warning, "grace period") {
		t.Fatalf("grace: %+v", l)
	}
	if _, err := cli.Exec(admin, a, "update import "+signBundle(t, keyFile, 2, nil)); err != nil {
		t.Fatalf("update import in grace: %v", err)
	}
	st, err := a.Status(context.Background())
	must(t, err)
	if !strings.HasPrefix(st.Licence, "grace (standard, 50 seats) until") {
		t.Fatalf("show status licence line: %q", st.Licence)
	}
	mailFlows("grace")

	// The hub out of reach: the check fails, the licence in place stands.
	h.Proxy.SetFault(testutil.FaultRefuse)
	if _, err := cli.Exec(admin, a, "licence check"); err == nil || !strings.Contains(err.Error(), "the licence in place stands") {
		t.Fatalf("licence check with the hub refused: %v", err)
	}
	if l := showLicence(t, a); l.State != licence.Grace || l.LastError == "" || l.LastSuccess == "" {
		t.Fatalf("after a failed check: %+v", l)
	}
	mailFlows("hub out of reach")
	h.Proxy.SetFault(testutil.FaultNone)

	// A code for another appliance, and garbage, are refused.
	other, err := h.Store.IssueLicence(context.Background(), h.Dir, licence.Licence{Appliance: "MI-0000-0000-0001", Edition: "standard", Seats: 1,
		Issued: now, Expires: now.Add(time.Hour)})
	must(t, err)
	if _, err := cli.Exec(admin, a, "licence activate "+other); err == nil || !strings.Contains(err.Error(), "MI-0000-0000-0001") {
		t.Fatalf("another appliance's code: %v", err)
	}
	if _, err := cli.Exec(admin, a, "licence activate MI1.garbage"); err == nil {
		t.Fatal("garbage activated")
	}
	// The hub's issuer key was pinned at the first check.
	if _, err := os.Stat(filepath.Join(dir, "licence", "issuer.pub")); err != nil {
		t.Fatal(err)
	}
}

// TestWebLicenceAndUpdates drives Administration > License and Updates in
// chromium: the banner every page shows while unlicensed, "check online
// now" taking the hub's code, and a bundle uploaded and installed.
func TestWebLicenceAndUpdates(t *testing.T) {
	cd := testutil.StartClamd(t)
	h, bl := startTestHub(t), startDNSBL(t)
	keyFile := filepath.Join(t.TempDir(), "signing.key")
	_, err := signedbundle.GenerateKey(keyFile)
	must(t, err)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"web.listen": "127.0.0.1:0", "engine.clamd": cd.Spec(),
		"engine.clamd_database": cd.DB, "updates.trusted_keys": keyFile + ".pub", "schedules.updates": "@every 1h",
		"schedules.licence": "@every 1h", "licence.trial_days": "0"}))
	ctx := context.Background()
	must(t, a.accounts.SetPassword(ctx, "admin", "Admin-Pass-2026"))
	host := a.WebAddr().String()
	base := "https://" + host
	b := newBrowser(t, host)
	b.login(t, base, "admin", "Admin-Pass-2026")

	// Unlicensed: every page says so.
	for _, page := range []string{"/", "/messages", "/settings"} {
		b.do(t, chromedp.Navigate(base+page), chromedp.WaitVisible(chromedp.CSS(`#licence-banner`)))
		if got := b.text(t, `#licence-banner`); !strings.Contains(got, "NO LICENCE") || !strings.Contains(got, "mail flow and scanning go on") {
			t.Fatalf("banner on %s: %q", page, got)
		}
		if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('#licence-banner[role=alert]:not(.quiet)').length`)); err != nil || n != 1 {
			t.Fatalf("the unlicensed banner on %s is not loud: %d %v", page, n, err)
		}
	}
	b.do(t, chromedp.Navigate(base+"/licence"), chromedp.WaitVisible(chromedp.CSS(`#licence-state`)))
	if got := b.text(t, `#licence-state`); got != "unlicensed" {
		t.Fatalf("state on the page: %q", got)
	}
	id := b.text(t, `#appliance-id`)
	now := time.Now()
	_, err = h.Store.IssueLicence(ctx, h.Dir, licence.Licence{Appliance: id, Edition: "enterprise", Seats: 500, Issued: now, Expires: now.AddDate(1, 0, 0)})
	must(t, err)
	b.do(t, chromedp.Click(chromedp.CSS(`#licence-check`)), chromedp.WaitVisible(chromedp.CSS(`#done, #failed`)))
	if got := b.text(t, `#licence-state`); got != "active" {
		t.Fatalf("state after check online now: %q (%s)", got, b.text(t, `main`))
	}
	if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('#licence-banner').length`)); err != nil || n != 0 {
		t.Fatalf("banner still shown when active: %d %v", n, err)
	}
	b.screenshot(t, "licence")

	// A bundle uploaded on the Updates page.
	bundle := signBundle(t, keyFile, 4, nil)
	b.do(t, chromedp.Navigate(base+"/updates"), chromedp.SetUploadFiles(chromedp.CSS(`input[name=bundle]`), []string{bundle}),
		chromedp.Click(chromedp.CSS(`#update-import`)), chromedp.WaitVisible(chromedp.CSS(`#done, #failed`)))
	if got := b.text(t, `main`); !strings.Contains(got, "clamav version 4 installed") {
		t.Fatalf("after the upload: %s", got)
	}
	if got := b.text(t, `tr[data-kind=clamav] .installed`); got != "4" {
		t.Fatalf("installed on the page: %q", got)
	}
	b.screenshot(t, "updates")
	if len(b.errors) > 0 || len(b.external) > 0 {
		t.Fatalf("browser errors %v, external requests %v", b.errors, b.external)
	}
	// What was uploaded is not left in the data directory.
	left, _ := filepath.Glob(filepath.Join(a.DataDir, "updates", ".upload-*"))
	if len(left) != 0 {
		t.Fatalf("uploads left behind: %v", left)
	}
}
