package appliance

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"mailinspector/internal/cli"
	"mailinspector/internal/settings"
	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
)

// browser is Debian's chromium driven by chromedp, with what the page
// logged as errors and every request it made to another host.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	errors   []string
	external []string
}

func newBrowser(t *testing.T, host string, flags ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	bin := testutil.RequireTool(t, "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.Flag("ignore-certificate-errors", true), chromedp.Flag("disable-dev-shm-usage", true))
	opts = append(opts, flags...)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	b := &browser{ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // starts the browser and its tab
		t.Fatalf("chromium: %v", err)
	}
	chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			b.errors = append(b.errors, e.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				b.errors = append(b.errors, "console.error")
			}
		case *cdplog.EventEntryAdded:
			// CSP refusals, assets that failed to load, ...
			if e.Entry.Level == cdplog.EntryLevelError {
				b.errors = append(b.errors, e.Entry.Text+" ("+e.Entry.URL+")")
			}
		case *network.EventRequestWillBeSent:
			if u, err := url.Parse(e.Request.URL); err == nil && u.Host != host && u.Scheme != "data" {
				b.external = append(b.external, e.Request.URL)
			}
		}
	})
	return b
}

// do runs steps in the browser's tab.
func (b *browser) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// text is the text of the element sel selects.
func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	return s
}

func (b *browser) login(t *testing.T, base, name, password string) {
	t.Helper()
	b.do(t, chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), name),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Submit(chromedp.CSS(`form`)),
		// logged in, or the reason: the next step must not cut the login
		chromedp.WaitVisible(chromedp.CSS(`.logout, .error`)))
}

// follow goes where the link sel selects leads, as a click does (read
// from the page, so the test follows the link the page has).
func (b *browser) follow(t *testing.T, sel string) {
	t.Helper()
	href, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector(`+strconv.Quote(sel)+`).href`))
	if err != nil || href == "" {
		t.Fatalf("no link %s: %v", sel, err)
	}
	b.do(t, chromedp.Navigate(href))
}

// waitQuarantined waits until the appliance holds n messages in
// quarantine, and returns them, newest first.
func waitQuarantined(t *testing.T, a *Appliance, n int, timeout time.Duration) []cli.MessageSummary {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ms, _ := a.SearchMessages(context.Background(), cli.MessageQuery{State: store.StateQuarantined, Limit: n})
		if len(ms) == n {
			return ms
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages quarantined after %s, want %d: %+v", len(ms), timeout, n, ms)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// screenshot keeps a page's picture in docs/console/ when
// MAILINSPECTOR_SCREENSHOTS=1 (make console-screenshots).
func (b *browser) screenshot(t *testing.T, name string) {
	if os.Getenv("MAILINSPECTOR_SCREENSHOTS") != "1" {
		return
	}
	b.do(t, chromedp.EmulateViewport(1440, 900))
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	must(t, err)
	must(t, os.MkdirAll("../docs/console", 0o755))
	must(t, os.WriteFile(filepath.Join("../docs/console", name+".png"), png, 0o644))
}

// TestWebConsole drives the console in chromium as an administrator and an
// Operator would: log in, read the service status panel, find a
// quarantined message, release it and see it delivered, see the release in
// the audit log; an Operator is refused a message's bytes even by typing
// the address; a POST without the form's token or from another origin is
// refused; five wrong passwords lock the account; no page logs an error or
// loads anything from another host.
func TestWebConsole(t *testing.T) {
	sink := testutil.NewSink(t)
	a := startApp(t, t.TempDir(), map[string]string{"web.listen": "127.0.0.1:0", "delivery.relay": sink.Addr,
		"policy.unrated": "deliver", "senders.blocked": "evil@example.net"})
	ctx := context.Background()
	must(t, a.accounts.SetPassword(ctx, "admin", "Admin-Pass-2026"))
	must(t, a.accounts.Add(ctx, "olga", "operator"))
	must(t, a.accounts.SetPassword(ctx, "olga", "Olga-Pass-2026"))
	must(t, send(t, a.SMTPAddr().String(), "evil@example.net", []string{"alice@example.com"}, testMessage("held for review", "")))
	id := waitQuarantined(t, a, 1, 10*time.Second)[0].ID
	host := a.WebAddr().String()
	base := "https://" + host

	b := newBrowser(t, host)
	b.login(t, base, "admin", "Admin-Pass-2026")
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`#services`)))
	services, who := b.text(t, `#services`), b.text(t, `.logout span`)
	if !strings.Contains(services, "web-reputation") || !strings.Contains(services, "not-configured") || who != "admin (administrator)" {
		t.Fatalf("dashboard: %q, %q", who, services)
	}
	b.screenshot(t, "dashboard")

	b.do(t, chromedp.Navigate(base+"/messages?state=quarantined"))
	list := b.text(t, `#messages`)
	if !strings.Contains(list, "held for review") || !strings.Contains(list, "evil@example.net") {
		t.Fatalf("quarantine list: %q", list)
	}
	b.screenshot(t, "messages")
	b.do(t, chromedp.Click(chromedp.CSS(`#messages a[href="/messages/`+id+`"]`)), chromedp.WaitVisible(chromedp.CSS(`#findings`)))
	findings := b.text(t, `#findings`)
	if !strings.Contains(findings, "sender-lists") && !strings.Contains(findings, "blocked") {
		t.Fatalf("findings: %q", findings)
	}
	b.screenshot(t, "message")
	// The Administrator downloads it whole.
	eml, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`fetch("/messages/`+id+`/eml").then(r => r.text().then(t => r.headers.get("Content-Disposition") + "\n" + r.headers.get("Content-Type")))`,
		chromedp.EvalAwaitPromise))
	if err != nil || !strings.Contains(eml, "attachment") || !strings.Contains(eml, "message/rfc822") {
		t.Errorf("the download's headers: %v %q", err, eml)
	}
	whole, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`fetch("/messages/`+id+`/eml").then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil || !strings.Contains(whole, "Subject: held for review") || !strings.HasSuffix(whole, "..a line that starts with a dot\r\n") {
		t.Errorf("the download: %v %q", err, whole)
	}
	b.do(t, chromedp.Click(chromedp.CSS(`form[action$="/release"] button`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	notice := b.text(t, `.notice`)
	if notice != "Done: released." {
		t.Fatalf("after release: %q", notice)
	}
	if got := sink.WaitFor(t, 1, 15*time.Second); got[0].To[0] != "alice@example.com" {
		t.Fatalf("released to %v", got[0].To)
	}
	b.do(t, chromedp.Navigate(base+"/audit"))
	audit := b.text(t, `#audit`)
	if !strings.Contains(audit, "quarantine release "+id) || !strings.Contains(audit, "web console from 127.0.0.1") {
		t.Fatalf("audit: %q", audit)
	}

	// A setting changed in the form: validated with the rest (a bad value
	// changes nothing and stays in the form), committed, audited.
	b.do(t, chromedp.Navigate(base+"/settings?section=smtp"), chromedp.WaitVisible(chromedp.CSS(`#k-smtp\.max_recipients`)),
		chromedp.SetValue(chromedp.CSS(`#k-smtp\.max_recipients`), "lots"), chromedp.Submit(chromedp.CSS(`form.settings`)),
		chromedp.WaitVisible(chromedp.CSS(`.error`)))
	if e := b.text(t, `.error`); !strings.Contains(e, "Nothing changed") || !strings.Contains(e, "smtp.max_recipients") {
		t.Fatalf("a bad value: %q", e)
	}
	b.screenshot(t, "settings")
	b.do(t, chromedp.SetValue(chromedp.CSS(`#k-smtp\.max_recipients`), "60"), chromedp.Submit(chromedp.CSS(`form.settings`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if n := b.text(t, `.notice`); !strings.Contains(n, "committed 1 keys") {
		t.Fatalf("commit from the form: %q", n)
	}
	b.do(t, chromedp.Navigate(base+"/audit"))
	if audit := b.text(t, `#audit`); !strings.Contains(audit, "settings commit smtp.max_recipients 60") {
		t.Fatalf("the form's commit is not in the audit log: %q", audit)
	}
	b.do(t, chromedp.Navigate(base+"/logs?grep=web"))
	if log := b.text(t, `#log`); !strings.Contains(log, "web: login") {
		t.Errorf("system log: %q", log)
	}
	b.do(t, chromedp.Navigate(base+"/queue"))
	if q := b.text(t, `#queue`); !strings.Contains(q, "No recipient waits") {
		t.Errorf("queue: %q", q)
	}

	// Accounts: an Investigator added and given a password in the forms;
	// two passwords that differ change nothing.
	b.do(t, chromedp.Navigate(base+"/accounts"), chromedp.SetValue(chromedp.CSS(`form[action="/accounts"] input[name=name]`), "ivy"),
		chromedp.SetValue(chromedp.CSS(`form[action="/accounts"] select[name=role]`), "investigator"),
		chromedp.Submit(chromedp.CSS(`form[action="/accounts"]`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-account=ivy]`)))
	b.do(t, chromedp.SetValue(chromedp.CSS(`form[action="/accounts/ivy/password"] input[name=password]`), "Ivy-Pass-2026"),
		chromedp.SetValue(chromedp.CSS(`form[action="/accounts/ivy/password"] input[name=password2]`), "Ivy-Pass-2027"),
		chromedp.Submit(chromedp.CSS(`form[action="/accounts/ivy/password"]`)), chromedp.WaitVisible(chromedp.CSS(`.error`)))
	if e := b.text(t, `.error`); !strings.Contains(e, "differ") {
		t.Fatalf("two different passwords: %q", e)
	}
	b.do(t, chromedp.SetValue(chromedp.CSS(`form[action="/accounts/ivy/password"] input[name=password]`), "Ivy-Pass-2026"),
		chromedp.SetValue(chromedp.CSS(`form[action="/accounts/ivy/password"] input[name=password2]`), "Ivy-Pass-2026"),
		chromedp.Submit(chromedp.CSS(`form[action="/accounts/ivy/password"]`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-account=ivy]`)))
	if row := b.text(t, `tr[data-account=ivy]`); !strings.Contains(row, "investigator") || !strings.Contains(row, "set") || strings.Contains(row, "not set") {
		t.Fatalf("ivy's row: %q", row)
	}
	b.screenshot(t, "accounts")
	if _, err := a.accounts.Authenticate(ctx, "ivy", "Ivy-Pass-2026"); err != nil {
		t.Fatalf("ivy's password from the form: %v", err)
	}

	// System: restart without systemd says why; nothing without the box.
	b.do(t, chromedp.Navigate(base+"/system"), chromedp.Click(chromedp.CSS(`form[action="/system/restart"] input[name=confirm]`)),
		chromedp.Submit(chromedp.CSS(`form[action="/system/restart"]`)), chromedp.WaitVisible(chromedp.CSS(`.error`)))
	if e := b.text(t, `.error`); !strings.Contains(e, "D-Bus") {
		t.Fatalf("restart from the console: %q", e)
	}
	b.screenshot(t, "system")

	// A client of its own, logged in as admin: the forms' protections.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path, origin string, form url.Values) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := client.Do(req)
		must(t, err)
		resp.Body.Close()
		return resp
	}
	if r := post("/login", base, url.Values{"name": {"admin"}, "password": {"Admin-Pass-2026"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %s", r.Status)
	}
	if r := post("/login", "https://evil.example", url.Values{"name": {"admin"}, "password": {"Admin-Pass-2026"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("a login from another origin: %s", r.Status)
	}
	if r := post("/messages/"+id+"/delete", base, url.Values{}); r.StatusCode != http.StatusForbidden {
		t.Errorf("a POST without the token: %s", r.Status)
	}
	if r := post("/messages/"+id+"/delete", "https://evil.example", url.Values{"csrf": {"x"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("a POST from another origin: %s", r.Status)
	}
	if r := post("/messages/"+id+"/delete", "", url.Values{}); r.StatusCode != http.StatusForbidden {
		t.Errorf("a POST without an Origin: %s", r.Status)
	}
	if d, _ := a.Message(ctx, id); d.State == store.StateDeleted {
		t.Fatal("a refused POST deleted the message")
	}
	// The configuration: downloaded, then restored by upload (with the
	// system page's token); a changed copy is refused.
	resp, err := client.Get(base + "/system/export")
	must(t, err)
	bundleJSON, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") || !strings.Contains(string(bundleJSON), `"signature"`) {
		t.Fatalf("export: %s %.200s", resp.Header.Get("Content-Disposition"), bundleJSON)
	}
	resp, err = client.Get(base + "/system")
	must(t, err)
	sysPage, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindSubmatch(sysPage)
	if m == nil {
		t.Fatal("no CSRF token on the system page")
	}
	upload := func(data string) string {
		t.Helper()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("csrf", string(m[1]))
		fw, _ := mw.CreateFormFile("bundle", "config.json")
		fw.Write([]byte(data))
		mw.Close()
		req, _ := http.NewRequest("POST", base+"/system/import", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Origin", base)
		resp, err := client.Do(req)
		must(t, err)
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(page)
	}
	if page := upload(strings.Replace(string(bundleJSON), "ivy", "eve", 1)); !strings.Contains(page, "signature does not verify") {
		t.Errorf("a changed bundle uploaded: %.500s", page)
	}
	if page := upload(string(bundleJSON)); !strings.Contains(page, "imported the configuration") || !strings.Contains(page, "signed by this appliance") {
		t.Errorf("the bundle uploaded: %.500s", page)
	}
	resp, err = client.Get(base + "/messages.csv?from=evil")
	must(t, err)
	csvText, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(csvText), "id,received,from,to,subject") || !strings.Contains(string(csvText), "held for review") {
		t.Errorf("CSV export: %q", csvText)
	}
	resp, err = client.Get(base + "/")
	must(t, err)
	resp.Body.Close()
	for _, h := range []string{"Content-Security-Policy", "Strict-Transport-Security", "X-Frame-Options"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}

	// The Operator: reads the message, never its bytes, even by address.
	op := newBrowser(t, host)
	op.login(t, base, "olga", "Olga-Pass-2026")
	op.do(t, chromedp.WaitVisible(chromedp.CSS(`#services`)), chromedp.Navigate(base+"/messages/"+id))
	page := op.text(t, `main`)
	if !strings.Contains(page, "held for review") || strings.Contains(page, "as received") || strings.Contains(page, "Release") {
		t.Fatalf("the Operator's message page: %q", page)
	}
	op.do(t, chromedp.Navigate(base+"/accounts"))
	if page := op.text(t, `main`); !strings.Contains(page, "may not run") {
		t.Fatalf("the Operator's accounts page: %q", page)
	}
	op.do(t, chromedp.Navigate(base+"/messages/"+id+"/raw"))
	page = op.text(t, `main`)
	title, err := chromedp.Run(op.ctx, chromedp.Title())
	must(t, err)
	if !strings.Contains(title, "Forbidden") || !strings.Contains(page, "may not run") || strings.Contains(page, "Subject:") {
		t.Fatalf("the Operator typed the raw address: %q %q", title, page)
	}
	op.do(t, chromedp.Navigate(base+"/messages/"+id+"/eml"))
	if page := op.text(t, `main`); !strings.Contains(page, "may not run") || strings.Contains(page, "Subject:") {
		t.Fatalf("the Operator typed the download's address: %q", page)
	}

	// Five wrong passwords lock the account; the right one then fails too.
	for i := 0; i < 5; i++ {
		post("/login", base, url.Values{"name": {"olga"}, "password": {"wrong"}})
	}
	op2 := newBrowser(t, host)
	op2.login(t, base, "olga", "Olga-Pass-2026")
	msg := op2.text(t, `.error`)
	if !strings.Contains(msg, "locked") {
		t.Fatalf("after five wrong passwords: %q", msg)
	}
	// The lock ends the Operator's open session too.
	op.do(t, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)))

	// The errors a page may log: the Operator's refused pages (403).
	for _, br := range []*browser{b, op, op2} {
		br.mu.Lock()
		var errs []string
		for _, e := range br.errors {
			if !strings.Contains(e, "status of 403") || !strings.Contains(e, "/raw") && !strings.Contains(e, "/eml") && !strings.Contains(e, "/accounts") {
				errs = append(errs, e)
			}
		}
		if len(errs) > 0 || len(br.external) > 0 {
			t.Errorf("console errors %q, requests to other hosts %q", errs, br.external)
		}
		br.mu.Unlock()
	}
	op.mu.Lock()
	if len(op.errors) == 0 {
		t.Error("the 403 of the raw page was not seen in the console: the error check sees nothing")
	}
	op.mu.Unlock()
}

// TestWebDashboardFollowsAnOutage: the dashboard's service panel, left
// open, shows the hub's services unreachable while a fault proxy
// black-holes the hub and ok once it is back, refreshed in place (htmx):
// the page is never reloaded, and says what is skipped meanwhile.
func TestWebDashboardFollowsAnOutage(t *testing.T) {
	h, bl := startTestHub(t), startDNSBL(t)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"web.listen": "127.0.0.1:0"}))
	must(t, a.accounts.SetPassword(context.Background(), "admin", "Admin-Pass-2026"))
	host := a.WebAddr().String()
	b := newBrowser(t, host)
	b.login(t, "https://"+host, "admin", "Admin-Pass-2026")
	wait := func(sel string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
			t.Fatalf("%s never showed: %v\n%s", sel, err, b.text(t, `#services`))
		}
	}
	wait(`tr[data-service=licence] .state.ok`)
	// A mark on the page: a reload would lose it.
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.dataset.mark = "kept"`)); err != nil {
		t.Fatal(err)
	}
	h.Proxy.SetFault(testutil.FaultBlackhole)
	wait(`tr[data-service=licence] .state.unreachable`)
	wait(`tr[data-service=updates] .state.unreachable`)
	if row := b.text(t, `tr[data-service=licence]`); !strings.Contains(row, "the cached licence is used") {
		t.Errorf("the licence's row does not say what happens meanwhile: %q", row)
	}
	b.screenshot(t, "dashboard-outage")
	h.Proxy.SetFault(testutil.FaultNone)
	wait(`tr[data-service=licence] .state.ok`)
	mark, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.dataset.mark`))
	if err != nil || mark != "kept" {
		t.Fatalf("the page was reloaded (mark %q, %v): the panel must refresh in place", mark, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 || len(b.external) > 0 {
		t.Errorf("console errors %q, requests to other hosts %q", b.errors, b.external)
	}
}

// TestWebDashboardFigures: the dashboard's figures of a period count the
// detections the appliance made: the chart is drawn (uPlot under the
// console's CSP, nothing refused), the table under it, and the top
// threats, recipients and sources name the detected message's; each
// period reads the same store through show stats.
func TestWebDashboardFigures(t *testing.T) {
	h, bl := startTestHub(t), startDNSBL(t)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"web.listen": "127.0.0.1:0"}))
	ctx := context.Background()
	must(t, a.accounts.SetPassword(ctx, "admin", "Admin-Pass-2026"))
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.30", "bob@example.org", []string{"alice@example.com"}, serviceMessage("malware inside")))
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.30", "bob@example.org", []string{"carol@example.com"}, serviceMessage("malware again")))
	waitQuarantined(t, a, 2, 20*time.Second)
	host := a.WebAddr().String()
	base := "https://" + host
	b := newBrowser(t, host)
	b.login(t, base, "admin", "Admin-Pass-2026")
	for _, period := range []string{"24h", "7d", "30d"} {
		b.do(t, chromedp.Navigate(base+"/?period="+period), chromedp.WaitVisible(chromedp.CSS(`figure.chart .plot canvas`)))
		if tot := b.text(t, `#totals`); !strings.Contains(tot, "high 2") || !strings.Contains(tot, "medium 0") {
			t.Errorf("%s: totals %q", period, tot)
		}
		for sel, want := range map[string]string{`#top-threats`: "malware", `#top-recipients`: "alice@example.com", `#top-sources`: "198.51.100.30"} {
			if got := b.text(t, sel); !strings.Contains(got, want) || !strings.Contains(got, "2") && sel != `#top-recipients` {
				t.Errorf("%s: %s %q, want %q twice", period, sel, got, want)
			}
		}
		if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("table.buckets tbody tr").length`)); err != nil || n != 1 {
			t.Errorf("%s: %d rows in the table under the chart (%v), want the one bucket the messages came in", period, n, err)
		}
	}
	b.screenshot(t, "dashboard-figures")
	b.follow(t, `#top-sources a`)
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`main h1`)))
	if got := b.text(t, `main`); !strings.Contains(got, "198.51.100.30") {
		t.Errorf("the source's Threat Connect page: %q", got)
	}
	v, err := cli.Exec(cli.WithCaller(ctx, cli.Caller{Who: "admin", Via: "test", Role: cli.RoleAdministrator}), a, "show stats 7d")
	out, _ := cli.Render(v, false)
	if err != nil || !strings.Contains(out, "high 2") || !strings.Contains(out, "malware") {
		t.Errorf("show stats 7d: %v\n%s", err, out)
	}
	if _, err := cli.Exec(cli.WithCaller(ctx, cli.Caller{Who: "admin", Via: "test", Role: cli.RoleAdministrator}), a, "show stats 5y"); !errors.Is(err, cli.ErrUsage) {
		t.Errorf("show stats 5y: %v", err)
	}
	// The system page has the licence and the updates as they stand.
	b.do(t, chromedp.Navigate(base+"/system"), chromedp.WaitVisible(chromedp.CSS(`#operational tr[data-service=updates]`)))
	if l := b.text(t, `#licence`); !strings.Contains(l, "trial until") {
		t.Errorf("the system page's licence: %q", l)
	}
	if op := b.text(t, `#operational`); !strings.Contains(op, "licence") || !strings.Contains(op, "updates") || strings.Count(op, "ok") < 2 {
		t.Errorf("the system page's licence and updates services: %q", op)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 || len(b.external) > 0 {
		t.Errorf("console errors %q, requests to other hosts %q", b.errors, b.external)
	}
}

// TestWebThreatConnect: a detection's indicator links to its Threat
// Connect page: with the hub up the page has what the hub knows (the
// MalwareBazaar entry of the attachment); with the hub black-holed the
// same link gives the appliance's own page saying the service cannot be
// reached.
func TestWebThreatConnect(t *testing.T) {
	h, bl := startTestHub(t), startDNSBL(t)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"web.listen": "127.0.0.1:0"}))
	ctx := context.Background()
	must(t, a.accounts.SetPassword(ctx, "admin", "Admin-Pass-2026"))
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.30", "bob@example.org", []string{"alice@example.com"}, serviceMessage("malware inside")))
	id := waitQuarantined(t, a, 1, 20*time.Second)[0].ID
	host := a.WebAddr().String()
	base := "https://" + host
	b := newBrowser(t, host)
	b.login(t, base, "admin", "Admin-Pass-2026")
	link := `#findings a.tc[href^="/indicators/hash?value=` + sha(malwareFile) + `"]`
	b.do(t, chromedp.Navigate(base+"/messages/"+id), chromedp.WaitVisible(chromedp.CSS(`#files`)))
	// The message's page lists what it held, each with what the engines
	// made of it: the attachment the hub knows as malware, the harmless
	// one, the link, the relay it came from, the decision and the header.
	files := b.text(t, `#files`)
	for _, want := range []string{"invoice.exe", "tool.txt", sha(malwareFile), sha(goodFile), "file-census: "} {
		if !strings.Contains(files, want) {
			t.Errorf("the files table lacks %q:\n%s", want, files)
		}
	}
	if row := b.text(t, `#files tbody tr:first-child`); !strings.Contains(row, "high") || strings.Contains(b.text(t, `#files tbody tr:nth-child(2)`), "high") {
		t.Errorf("the malware's finding on its own row only:\n%s", files)
	}
	if l := b.text(t, `#links`); !strings.Contains(l, malwareURL) || !strings.Contains(l, "web-reputation: ") {
		t.Errorf("the links table: %q", l)
	}
	if src := b.text(t, `.summary`); !strings.Contains(src, "198.51.100.30") || !strings.Contains(src, "-> quarantine") {
		t.Errorf("the summary names neither the source nor the rule that decided:\n%s", src)
	}
	b.do(t, chromedp.Click(chromedp.CSS(`#headers summary`)), chromedp.WaitVisible(chromedp.CSS(`table.headers`)))
	if h := b.text(t, `table.headers`); !strings.Contains(h, "Subject") || !strings.Contains(h, "malware inside") || !strings.Contains(h, "Received") {
		t.Errorf("the header as received: %q", h)
	}
	b.screenshot(t, "message")
	b.follow(t, link)
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`#facts`)))
	if facts := b.text(t, `#facts`); !strings.Contains(facts, "TestLoader") && !strings.Contains(facts, "MalwareBazaar") {
		t.Fatalf("Threat Connect with the hub up: %q", facts)
	}
	if l := b.text(t, `#local`); !strings.Contains(l, "1") || !strings.Contains(l, "TestLoader") || !strings.Contains(l, id) {
		t.Errorf("what this appliance has seen, with the hub up: %q", l)
	}
	// A trial is said quietly (nothing has stopped).
	if got := b.text(t, `#licence-banner.quiet[role=status]`); !strings.Contains(got, "Trial licence") {
		t.Errorf("the trial's banner: %q", got)
	}
	b.screenshot(t, "threat-connect")
	// The hub's own page, through the link the appliance signed: no API
	// key in it, and the browser opens it.
	b.follow(t, `#hub-page`)
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`#facts`)))
	if facts := b.text(t, `#facts`); !strings.Contains(facts, "TestLoader") {
		t.Fatalf("the hub's page: %q", facts)
	}
	hubURL, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.href`))
	must(t, err)
	if !strings.Contains(hubURL, h.Proxy.Addr+"/tc/hash?") || strings.Contains(hubURL, h.Key) {
		t.Fatalf("the hub's page at %s", hubURL)
	}
	// A link changed by hand is refused.
	b.do(t, chromedp.Navigate(strings.Replace(hubURL, "exp=", "exp=1", 1)), chromedp.WaitVisible(chromedp.CSS(`#refused`)))
	if e := b.text(t, `#refused`); !strings.Contains(e, "not signed") {
		t.Fatalf("a forged link: %q", e)
	}
	b.errors = nil // the refusal's 403 is logged as a page error
	h.Proxy.SetFault(testutil.FaultBlackhole)
	b.do(t, chromedp.Navigate(base+"/messages/"+id))
	b.follow(t, link)
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`#unreachable`)))
	if e := b.text(t, `#unreachable`); !strings.Contains(e, "cannot be reached now") {
		t.Fatalf("Threat Connect with the hub down: %q", e)
	}
	if l := b.text(t, `#local`); !strings.Contains(l, "TestLoader") || !strings.Contains(l, id) {
		t.Errorf("the local page with the hub down: %q", l)
	}
	if out, err := cli.Exec(cli.WithCaller(ctx, cli.Caller{Who: "admin", Via: "test", Role: cli.RoleAdministrator}), a, "show indicator hash nothex"); err == nil {
		t.Errorf("show indicator took a bad hash: %v", out)
	}
}

// TestWebPoliciesEdit: on the real daemon (its reload), a policy edited in
// the console's form decides the next message; a file with an error is
// refused whole, the error naming its line, and nothing changes.
func TestWebPoliciesEdit(t *testing.T) {
	bin := buildBinary(t)
	sink := testutil.NewSink(t)
	dir := t.TempDir()
	web := freePort(t)
	must(t, settings.Update(dir, map[string]string{"delivery.relay": sink.Addr, "policy.unrated": "deliver", "web.listen": web}))
	d := newChild(t, dir)
	d.start()
	defer d.stop()
	if out, err := shellAcrossReloads(bin, dir, "Admin-Pass-2026\n", "-c", "account password admin"); err != nil {
		t.Fatalf("account password: %v %s", err, out)
	}
	base := "https://" + web
	b := newBrowser(t, web)
	b.login(t, base, "admin", "Admin-Pass-2026")
	b.do(t, chromedp.Navigate(base+"/policies"), chromedp.Click(chromedp.CSS(`#as-text summary`)), chromedp.WaitVisible(chromedp.CSS(`#policies`)),
		chromedp.SetValue(chromedp.CSS(`#policies`), "policy \"Broken\"\n  bogus line\n"), chromedp.Submit(chromedp.CSS(`form.policies`)),
		chromedp.WaitVisible(chromedp.CSS(`.error`)))
	if e := b.text(t, `.error`); !strings.Contains(e, "Nothing changed") || !strings.Contains(e, ":2:") {
		t.Fatalf("a broken file: %q", e)
	}
	hold := "policy \"Hold all\"\n  none quarantine\n  low quarantine\n  medium quarantine\n  high quarantine\n  unrated quarantine\n"
	b.do(t, chromedp.SetValue(chromedp.CSS(`#policies`), hold), chromedp.Submit(chromedp.CSS(`form.policies`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if n := b.text(t, `.notice`); !strings.Contains(n, "policies committed") {
		t.Fatalf("commit from the form: %q", n)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "policies.conf")); string(got) != hold {
		t.Errorf("policies.conf from the form: %q, want %q (the browser's CRLF made LF)", got, hold)
	}
	b.screenshot(t, "policies")
	// The daemon reloads; the next message follows the new policy.
	deadline := time.Now().Add(20 * time.Second)
	for {
		sendAcrossReloads(t, d.addr, "bob@example.org", []string{"alice@example.com"}, testMessage("after the form", ""))
		out, _ := shellAcrossReloads(bin, dir, "", "-o", "json", "-c", `show messages subject "after the form" state quarantined`)
		if strings.Contains(out, "Hold all") || strings.Contains(out, `"quarantined"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the policy from the form did not decide within 20s: %s", out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if out, _ := shellAcrossReloads(bin, dir, "", "-c", "show audit kind policies"); !strings.Contains(out, "web console from 127.0.0.1") {
		t.Errorf("the form's commit in the audit log:\n%s", out)
	}

	// Rule by rule: a new policy whose rule has a bad action is refused,
	// the reason beside that rule's field, and nothing changes.
	before, _ := os.ReadFile(filepath.Join(dir, "policies.conf"))
	b.do(t, chromedp.Navigate(base+"/policies"), chromedp.Click(chromedp.CSS(`a[href="/policies/edit"]`)), chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Executives"), chromedp.SendKeys(chromedp.CSS(`#recipients`), "ceo@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#rule-high`), "delete explode"), chromedp.SendKeys(chromedp.CSS(`#rule-threat-phishing`), "quarantine"),
		chromedp.Submit(chromedp.CSS(`form.policy-form`)), chromedp.WaitVisible(chromedp.CSS(`.field-error`)))
	if e := b.text(t, `#rule-high ~ .field-error`); !strings.Contains(e, `unknown action "explode"`) {
		t.Errorf("the bad rule's error beside its field: %q", e)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "policies.conf")); string(after) != string(before) {
		t.Errorf("a refused form changed policies.conf:\n%s", after)
	}
	b.screenshot(t, "policy-form")
	b.do(t, chromedp.SetValue(chromedp.CSS(`#rule-high`), "delete"), chromedp.Submit(chromedp.CSS(`form.policy-form`)),
		chromedp.WaitVisible(chromedp.CSS(`#policy-list`)))
	if n := b.text(t, `.notice`); !strings.Contains(n, "policies committed") {
		t.Fatalf("save the form: %q", n)
	}
	// Move it first, disable "Hold all": the next message to alice is no
	// longer held (no enabled policy covers her: delivered).
	b.do(t, chromedp.Click(chromedp.CSS(`tr[data-policy="Executives"] form[action="/policies/up"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#policy-list tbody tr:first-child[data-policy="Executives"]`)),
		chromedp.Click(chromedp.CSS(`tr[data-policy="Hold all"] form[action="/policies/disable"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`tr.disabled[data-policy="Hold all"]`)))
	b.screenshot(t, "policies-list")
	got, _ := os.ReadFile(filepath.Join(dir, "policies.conf"))
	if !strings.HasPrefix(string(got), "policy \"Executives\"\n  recipients ceo@example.com\n  high delete\n  threat phishing quarantine\n") ||
		!strings.Contains(string(got), "policy \"Hold all\"\n  disabled\n") {
		t.Errorf("policies.conf after the forms:\n%s", got)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		sendAcrossReloads(t, d.addr, "bob@example.org", []string{"alice@example.com"}, testMessage("after disable", ""))
		out, _ := shellAcrossReloads(bin, dir, "", "-o", "json", "-c", `show messages subject "after disable" state delivered`)
		if strings.Contains(out, `"delivered"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a message after Hold all was disabled was not delivered within 20s: %s", out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if out, _ := shellAcrossReloads(bin, dir, "", "-c", "show audit kind policies"); !strings.Contains(out, "policy move Executives 1") || !strings.Contains(out, "policy disable") {
		t.Errorf("the forms' changes in the audit log:\n%s", out)
	}
}

// TestWebQuarantineBulk: messages ticked in the quarantine's list are
// deleted together, each by its own audited command.
func TestWebQuarantineBulk(t *testing.T) {
	a := startApp(t, t.TempDir(), map[string]string{"web.listen": "127.0.0.1:0", "senders.blocked": "evil@example.net"})
	ctx := context.Background()
	must(t, a.accounts.SetPassword(ctx, "admin", "Admin-Pass-2026"))
	for _, s := range []string{"first", "second", "third"} {
		must(t, send(t, a.SMTPAddr().String(), "evil@example.net", []string{"alice@example.com"}, testMessage(s, "")))
	}
	ms := waitQuarantined(t, a, 3, 10*time.Second)
	host := a.WebAddr().String()
	b := newBrowser(t, host)
	b.login(t, "https://"+host, "admin", "Admin-Pass-2026")
	b.do(t, chromedp.Navigate("https://"+host+"/messages?state=quarantined"),
		chromedp.Click(chromedp.CSS(`input[name=id][value="`+ms[0].ID+`"]`)),
		chromedp.Click(chromedp.CSS(`input[name=id][value="`+ms[2].ID+`"]`)),
		chromedp.Click(chromedp.CSS(`#bulk button[value=delete]`)), chromedp.WaitVisible(chromedp.CSS(`#bulk-done`)))
	if n := b.text(t, `#bulk-done`); n != "delete: 2 messages." {
		t.Fatalf("bulk delete: %q", n)
	}
	for i, want := range []string{store.StateDeleted, store.StateQuarantined, store.StateDeleted} {
		if d, _ := a.Message(ctx, ms[i].ID); d == nil || d.State != want {
			t.Errorf("message %d: %v, want %s", i, d, want)
		}
	}
	log, err := a.AuditLog(ctx, cli.AuditQuery{Kind: "quarantine"})
	must(t, err)
	if len(log) != 2 || !strings.Contains(log[0].Via, "web console") {
		t.Errorf("audit %+v", log)
	}
}

// TestWebCertificates: a certificate pasted with a key that is not its
// own changes nothing; a pair is stored as files the settings then name.
func TestWebCertificates(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir, map[string]string{"web.listen": "127.0.0.1:0"})
	must(t, a.accounts.SetPassword(context.Background(), "admin", "Admin-Pass-2026"))
	pair := func() (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "console.example.com"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour), DNSNames: []string{"console.example.com"}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		must(t, err)
		kder, _ := x509.MarshalECPrivateKey(key)
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	}
	cert, key := pair()
	_, otherKey := pair()
	host := a.WebAddr().String()
	b := newBrowser(t, host)
	b.login(t, "https://"+host, "admin", "Admin-Pass-2026")
	paste := func(c, k string) {
		b.do(t, chromedp.Navigate("https://"+host+"/certificates"), chromedp.SetValue(chromedp.CSS(`#cert`), c),
			chromedp.SetValue(chromedp.CSS(`#key`), k), chromedp.Submit(chromedp.CSS(`form.policies`)),
			chromedp.WaitVisible(chromedp.CSS(`.notice, .error`)))
	}
	paste(cert, otherKey)
	if e := b.text(t, `.error`); !strings.Contains(e, "Nothing changed") {
		t.Fatalf("a key that is not the certificate's: %q", e)
	}
	if vs, _ := settings.Values(dir); slices.ContainsFunc(vs, func(v settings.Value) bool { return v.Key == "web.tls_cert" && v.Value != "" }) {
		t.Fatal("a refused pair changed the settings")
	}
	paste(cert, key)
	if n := b.text(t, `.notice`); !strings.Contains(n, "console.example.com") || !strings.Contains(n, "committed") {
		t.Fatalf("a pair: %q", n)
	}
	vs, err := settings.Values(dir)
	must(t, err)
	for _, v := range vs {
		if v.Key == "web.tls_cert" {
			got, err := os.ReadFile(v.Value)
			if err != nil || string(got) != cert || !strings.HasPrefix(v.Value, filepath.Join(dir, FilesDir)) {
				t.Fatalf("web.tls_cert = %q: %v", v.Value, err)
			}
			return
		}
	}
	t.Fatal("web.tls_cert not set")
}

// TestWebConsoleOutlivesReloads: every commit reloads the daemon, which
// stops the appliance and starts a new one; the console's listener stays
// (web_front.go), so a browser working through commits never finds it
// gone: requests made during a reload wait for the new console. A client
// keeps one connection and asks all the while; three commits happen.
func TestWebConsoleOutlivesReloads(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	web := freePort(t)
	must(t, settings.Update(dir, map[string]string{"web.listen": web}))
	d := newChild(t, dir)
	d.start()
	defer d.stop()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// The console answers before the test begins (the daemon opens its
	// SMTP port, which start waits for, before the console's).
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get("https://" + web + "/login")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the console does not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop := make(chan struct{})
	var asked, failed atomic.Int64
	var firstErr atomic.Value
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := client.Get("https://" + web + "/login")
			asked.Add(1)
			if err != nil || resp.StatusCode != http.StatusOK {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, time.Now().UTC().Format(time.RFC3339Nano)+": "+fmt.Sprint(err, resp))
			}
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
	for i := 0; i < 3; i++ {
		if out, err := shellAcrossReloads(bin, dir, "", "-c", fmt.Sprintf("settings commit smtp.max_recipients %d", 100+i)); err != nil {
			t.Fatalf("commit: %v %s", err, out)
		}
		// Each reload done before the next commit.
		deadline = time.Now().Add(20 * time.Second)
		for {
			log, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
			if strings.Count(string(log), "settings reloaded") > i {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("reload %d did not happen within 20s", i+1)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	close(stop)
	<-done
	log, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
	if n := strings.Count(string(log), "settings reloaded"); n < 3 {
		t.Fatalf("%d reloads, want 3", n)
	}
	if failed.Load() > 0 {
		var reloads []string
		for _, l := range strings.Split(string(log), "\n") {
			if strings.Contains(l, "reloading settings") || strings.Contains(l, "settings reloaded") {
				reloads = append(reloads, l)
			}
		}
		t.Errorf("%d of %d requests across three reloads failed; the first at %v\nthe reloads:\n%s", failed.Load(), asked.Load(), firstErr.Load(),
			strings.Join(reloads, "\n"))
	}
	t.Logf("%d requests across three reloads", asked.Load())
}

// TestWebLists: the Lists page adds and removes one entry, imports a CSV
// in DDEI's form through a file upload (a file with a bad line changes
// nothing and names the line; a good one is one commit, audited) and
// exports it again; the menu marks the messages views by their filters.
func TestWebLists(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir, map[string]string{"web.listen": "127.0.0.1:0"})
	ctx := context.Background()
	must(t, a.accounts.SetPassword(ctx, "admin", "Admin-Pass-2026"))
	host := a.WebAddr().String()
	base := "https://" + host
	b := newBrowser(t, host)
	b.login(t, base, "admin", "Admin-Pass-2026")
	entries := func(key string) string {
		t.Helper()
		v, err := cli.Exec(cli.WithCaller(ctx, cli.Caller{Who: "admin", Via: "test", Role: cli.RoleAdministrator}), a, "show lists")
		must(t, err)
		for _, l := range v.([]cli.ListInfo) {
			if l.Key == key {
				return strings.Join(l.Entries, ",")
			}
		}
		t.Fatalf("no list %s", key)
		return ""
	}
	b.do(t, chromedp.Navigate(base+"/lists"), chromedp.SendKeys(chromedp.CSS(`#add-senders\.blocked`), "evil@example.net"),
		chromedp.Submit(chromedp.CSS(`#list-senders\.blocked form[action="/lists/add"]`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if got := entries("senders.blocked"); got != "evil@example.net" {
		t.Fatalf("senders.blocked after the add form: %q", got)
	}
	csvFile := filepath.Join(t.TempDir(), "hashes.csv")
	h1, h2 := strings.Repeat("1", 64), strings.Repeat("2", 40)
	must(t, os.WriteFile(csvFile, []byte("type,object,source,notes\nsha256,"+h1+",soc,\"case 7, phishing\"\nurl,http://x.test/\n"), 0o600))
	importCSV := func() {
		b.do(t, chromedp.Navigate(base+"/lists"), chromedp.SetUploadFiles(chromedp.CSS(`#csv-lists\.blocked_hashes`), []string{csvFile}),
			chromedp.Submit(chromedp.CSS(`#list-lists\.blocked_hashes form[action="/lists/import"]`)), chromedp.WaitVisible(chromedp.CSS(`.notice, .error`)))
	}
	importCSV()
	if e := b.text(t, `.error`); !strings.Contains(e, `line 3: type "url" does not go in lists.blocked_hashes`) {
		t.Errorf("a CSV with a bad line: %q", e)
	}
	if got := entries("lists.blocked_hashes"); got != "" {
		t.Fatalf("a CSV with a bad line changed the list: %q", got)
	}
	must(t, os.WriteFile(csvFile, []byte("type,object,source,notes\nsha256,"+h1+",soc,\"case 7, phishing\"\nsha1,"+h2+"\n"), 0o600))
	importCSV()
	if got := entries("lists.blocked_hashes"); got != h1+","+h2 {
		t.Fatalf("lists.blocked_hashes after the import: %q", got)
	}
	b.screenshot(t, "lists")
	exported, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`fetch("/lists/export?key=lists.blocked_hashes").then(r => r.text())`,
		chromedp.EvalAwaitPromise))
	if err != nil || exported != "type,object,source,notes\nsha256,"+h1+",mailinspector,\nsha1,"+h2+",mailinspector,\n" {
		t.Errorf("the export: %v\n%s", err, exported)
	}
	b.do(t, chromedp.Click(chromedp.CSS(`#list-senders\.blocked button[aria-label="Remove evil@example.net"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#list-senders\.blocked td.hint`))) // the list says it is empty
	if got := entries("senders.blocked"); got != "" {
		t.Fatalf("senders.blocked after remove: %q", got)
	}
	v, err := cli.Exec(cli.WithCaller(ctx, cli.Caller{Who: "admin", Via: "test", Role: cli.RoleAdministrator}), a, "show audit kind lists")
	out, _ := cli.Render(v, false)
	if err != nil || !strings.Contains(out, "list import lists.blocked_hashes") || !strings.Contains(out, "list remove senders.blocked") {
		t.Errorf("the lists' changes in the audit log: %v\n%s", err, out)
	}
	for path, entry := range map[string]string{"/messages?state=quarantined": "Quarantine", "/messages?risk=high": "Detections", "/messages?from=x": "Message tracking"} {
		b.do(t, chromedp.Navigate(base+path))
		if got := b.text(t, `nav a[aria-current]`); got != entry {
			t.Errorf("%s marks %q in the menu, want %q", path, got, entry)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 || len(b.external) > 0 {
		t.Errorf("console errors %q, requests to other hosts %q", b.errors, b.external)
	}
}

// TestWebQuarantinePreviewAndRelease: a quarantined message's page shows
// its HTML body as text (no script, nothing loaded) to an Administrator,
// and not to an Operator; release to the recipients ticked goes to those
// only, and a release with none ticked releases nothing.
func TestWebQuarantinePreviewAndRelease(t *testing.T) {
	sink := testutil.NewSink(t)
	a := startApp(t, t.TempDir(), map[string]string{"web.listen": "127.0.0.1:0", "senders.blocked": "evil@example.net", "delivery.relay": sink.Addr})
	ctx := context.Background()
	must(t, a.accounts.SetPassword(ctx, "admin", "Admin-Pass-2026"))
	must(t, a.accounts.Add(ctx, "olga", cli.RoleOperator))
	must(t, a.accounts.SetPassword(ctx, "olga", "Operator-Pass-2026"))
	msg := "From: evil@example.net\r\nTo: alice@example.com, bob@example.com\r\nSubject: your account\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
		"<html><head><script>document.title='x'</script></head><body><p>Your account is <b>locked</b></p><img src=\"http://tracker.test/p.gif\"><p>Gr\u00fc\u00dfe</p></body></html>\r\n"
	must(t, send(t, a.SMTPAddr().String(), "evil@example.net", []string{"alice@example.com", "bob@example.com"}, msg))
	id := waitQuarantined(t, a, 1, 10*time.Second)[0].ID
	host := a.WebAddr().String()
	base := "https://" + host
	b := newBrowser(t, host)
	b.login(t, base, "admin", "Admin-Pass-2026")
	b.do(t, chromedp.Navigate(base+"/messages/"+id), chromedp.WaitVisible(chromedp.CSS(`#preview`)))
	if p := b.text(t, `#preview`); p != "Your account is locked\nGrüße" {
		t.Errorf("the preview: %q", p)
	}
	b.screenshot(t, "quarantine-preview")
	b.do(t, chromedp.Submit(chromedp.CSS(`#release-some`)), chromedp.WaitVisible(chromedp.CSS(`.error`)))
	if e := b.text(t, `.error`); !strings.Contains(e, "nothing was released") {
		t.Errorf("a release with no recipient ticked: %q", e)
	}
	if d, _ := a.Message(ctx, id); d.State != store.StateQuarantined {
		t.Fatalf("after a release with none ticked the message is %s", d.State)
	}
	b.do(t, chromedp.Navigate(base+"/messages/"+id), chromedp.Click(chromedp.CSS(`#release-some input[value="bob@example.com"]`)),
		chromedp.Submit(chromedp.CSS(`#release-some`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	got := sink.WaitFor(t, 1, 20*time.Second)
	if len(got) != 1 || strings.Join(got[0].To, ",") != "bob@example.com" {
		t.Fatalf("released to %+v, want bob only", got)
	}
	op := newBrowser(t, host)
	op.login(t, base, "olga", "Operator-Pass-2026")
	op.do(t, chromedp.Navigate(base+"/messages/"+id), chromedp.WaitVisible(chromedp.CSS(`#trail`)))
	if n, err := chromedp.Run(op.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#preview").length`)); err != nil || n != 0 {
		t.Errorf("an Operator sees the preview (%d, %v)", n, err)
	}
	for _, br := range []*browser{b, op} {
		br.mu.Lock()
		if len(br.external) > 0 {
			t.Errorf("the page loaded from elsewhere: %q", br.external)
		}
		br.mu.Unlock()
	}
}
