package appliance

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mailinspector/internal/cli"
	"mailinspector/internal/message"
	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
)

// TestTimeOfClick: the links of an inbound message that looked safe or
// unrated at delivery are wrapped (not its image, not its mailto:); a
// click on the approved one goes on to it, on the unrated one warns and
// goes on when asked; once the hub learns the second link is malicious
// the same link gives the block page. A changed, an unknown and an
// expired token get an error page and never a redirect. With the hub
// black-holed the unrated action applies and the click log says the
// evaluation was skipped. Outbound mail is not wrapped. Every click is in
// show clicks.
func TestTimeOfClick(t *testing.T) {
	h, bl, sink, rs := startTestHub(t), startDNSBL(t), testutil.NewSink(t), testutil.StartRsyslog(t)
	click := freePort(t)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"delivery.relay": sink.Addr, "click.listen": click,
		"click.base_url": "http://" + click, "lists.approved_domains": "good.test", "siem.servers": "tcp://" + rs.TCP + "?format=cef",
		"click.page.high":    `<b>Stop.</b> Ask <a href="https://help.example.com/">the help desk</a>.<script>alert(1)</script>`,
		"policy.unscannable": "deliver"})) // no clamd here: the signed message's signature file goes through
	const later = "http://later-bad.test/login"
	html := "From: bob@example.org\r\nTo: alice@example.com\r\nSubject: links\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
		`<p><a href="http://good.test/page">good</a> <a href="` + later + `">later bad</a> <a href="mailto:bob@example.org">mail</a>` +
		`<img src="http://img.test/pixel.gif"></p>` + "\r\n"
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.30", "bob@example.org", []string{"alice@example.com"}, html))
	got := sink.WaitFor(t, 1, 20*time.Second)
	body := decodedBody(t, got[0].Data)
	wrapped := regexp.MustCompile(`http://`+regexp.QuoteMeta(click)+`/c/[A-Za-z0-9_-]{32}`).FindAllString(body, -1)
	if len(wrapped) != 2 || !strings.Contains(body, `src="http://img.test/pixel.gif"`) ||
		!strings.Contains(body, "mailto:bob@example.org") || strings.Contains(body, later) {
		t.Fatalf("the delivered message, %d links wrapped:\n%s", len(wrapped), body)
	}
	good, bad := wrapped[0], wrapped[1]
	d := newest(t, a)
	if e := entry(d, "time-of-click"); e.Outcome != "ok" || !strings.Contains(e.Detail, "2 links wrapped") {
		t.Errorf("the trail's time-of-click step %+v", e)
	}
	// Its size is the rewritten message's (delivery's SIZE=): what was
	// delivered but the tag delivery adds (its header field and the
	// subject's tag).
	tag := len("X-MailInspector-Risk: unrated\r\n") + len("[Suspicious] ")
	if !strings.Contains(string(got[0].Data), "X-MailInspector-Risk: unrated\r\n") || int(d.Size) != len(got[0].Data)-tag {
		t.Errorf("the message's size %d; delivered %d bytes, of which the tag %d", d.Size, len(got[0].Data), tag)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 20 * time.Second}
	get := func(u string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) test reader")
		resp, err := client.Do(req)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(b)
	}
	if code, loc, _ := get(good); code != http.StatusSeeOther || loc != "http://good.test/page" {
		t.Errorf("the approved link: %d to %q, want 303 to it", code, loc)
	}
	// The same link over HTTPS, on the same address (the appliance's
	// certificate, self-signed here).
	client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	if code, loc, _ := get(strings.Replace(good, "http://", "https://", 1)); code != http.StatusSeeOther || loc != "http://good.test/page" {
		t.Errorf("the approved link over HTTPS: %d to %q, want 303 to it", code, loc)
	}
	code, loc, page := get(bad)
	if code != http.StatusOK || loc != "" || !strings.Contains(page, "Careful") || !strings.Contains(page, later) {
		t.Fatalf("the unrated link: %d %q\n%s", code, loc, page)
	}
	if code, loc, _ := get(bad + "/go"); code != http.StatusSeeOther || loc != later {
		t.Errorf("going on after the warning: %d to %q", code, loc)
	}
	// The hub learns the link is malicious, after delivery.
	feed := filepath.Join(t.TempDir(), "urlhaus.csv")
	must(t, os.WriteFile(feed, []byte(`"4000001","2026-12-04 10:00:00","`+later+`","online","2026-12-04 10:00:00","phishing","","https://urlhaus.abuse.ch/url/4000001/","project"`+"\n"), 0o644))
	_, err := h.Store.Import(context.Background(), "urlhaus-csv", feed)
	must(t, err)
	code, loc, page = get(bad)
	if code != http.StatusOK || loc != "" || !strings.Contains(page, "Link blocked") || strings.Contains(page, "href=\"http://later") {
		t.Fatalf("the link the hub now knows as malicious: %d %q\n%s", code, loc, page)
	}
	// The administrator's text for high risk, sanitised.
	if !strings.Contains(page, "<b>Stop.</b> Ask <a href=\"https://help.example.com/\"") || strings.Contains(page, "<script") {
		t.Errorf("the block page's text (click.page.high):\n%s", page)
	}
	if code, loc, _ := get(bad + "/go"); code == http.StatusSeeOther || loc != "" {
		t.Errorf("going on past a block: %d to %q", code, loc)
	}
	// Tokens the appliance did not make, or no longer honours.
	tok := bad[strings.LastIndex(bad, "/")+1:]
	other := "A"
	if tok[0] == 'A' {
		other = "B"
	}
	changed := strings.Replace(bad, tok, other+tok[1:], 1) // one character changed
	for name, u := range map[string]string{"changed": changed, "unknown": "http://" + click + "/c/" + a.clickKeys.NewToken(), "foreign": "http://" + click + "/c/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"garbage": "http://" + click + "/c/%2F%2Fevil.test", "too long": bad + "x"} {
		code, loc, page := get(u)
		if code < 400 || loc != "" || code == http.StatusNotFound && !strings.Contains(page, "Unknown link") {
			t.Errorf("%s token: %d to %q", name, code, loc)
		}
	}
	must(t, a.db.Write(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Exec(`UPDATE click_links SET expires = ? WHERE token = ?`, time.Now().Add(-time.Minute).UnixNano(), good[strings.LastIndex(good, "/")+1:])
		return err
	}))
	if code, loc, page := get(good); code != http.StatusGone || loc != "" || !strings.Contains(page, "expired") {
		t.Errorf("an expired link: %d to %q", code, loc)
	}
	// The hub out of reach: the unrated action, evaluation skipped.
	h.Proxy.SetFault(testutil.FaultBlackhole)
	if code, loc, page := get(bad); code != http.StatusOK || loc != "" || !strings.Contains(page, "Careful") {
		t.Errorf("a click with the hub black-holed: %d %q\n%s", code, loc, page)
	}
	h.Proxy.SetFault(testutil.FaultNone)
	v, err := cli.Exec(cli.WithCaller(context.Background(), cli.Caller{Who: "admin", Via: "test", Role: cli.RoleAdministrator}), a, "show clicks message "+d.ID)
	must(t, err)
	cs := v.([]cli.ClickRecord)
	var actions []string
	for i := len(cs) - 1; i >= 0; i-- {
		actions = append(actions, cs[i].Action)
	}
	if strings.Join(actions, " ") != "allow allow warn continue block block warn" {
		t.Errorf("the click log's actions: %v", actions)
	}
	if len(cs) > 0 && (!strings.HasPrefix(cs[0].Evaluation, "skipped: ") || cs[0].RiskNow != "unrated" || cs[0].ClientIP != "127.0.0.1") {
		t.Errorf("the click with the hub out of reach: %+v", cs[0])
	}
	if len(cs) == 7 && (cs[2].RiskNow != "high" || cs[2].RiskThen != "unrated" || cs[6].RiskNow != "none" || cs[6].Evaluation != "done") {
		t.Errorf("risks then and now: %+v / %+v", cs[2], cs[5])
	}
	// The message's page has the clicks on each link.
	d = newest(t, a)
	seen := false
	for _, l := range d.Links {
		if l.URL == later {
			seen = true
			if l.Clicks != 5 || !strings.Contains(l.LastClick, "warn (risk unrated)") {
				t.Errorf("the clicks on the message's link: %+v", l)
			}
		}
	}
	if !seen {
		t.Errorf("the message's links %+v lack %s", d.Links, later)
	}
	// Outbound: nothing is wrapped, and a reply quoting a wrapped link
	// carries the original instead (in its text part, its HTML href and
	// its HTML text).
	reply := "From: alice@example.com\r\nTo: carol@example.net\r\nSubject: Re: links\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=\"r\"\r\n\r\n--r\r\nContent-Type: text/plain\r\n\r\n> see " + bad + " here\r\n" +
		"--r\r\nContent-Type: text/html\r\n\r\n<blockquote><a href=\"" + bad + "\">later bad</a> " + bad + "</blockquote>" +
		` <a href="http://new.test/x">new</a>` + "\r\n--r--\r\n"
	must(t, sendVia(a.SMTPAddr().String(), "127.0.0.1", "alice@example.com", []string{"carol@example.net"}, reply))
	got = sink.WaitFor(t, 2, 20*time.Second)
	var texts []string
	_, err = message.Walk(bytes.NewReader(got[1].Data), message.DefaultLimits, func(p *message.Part, r io.Reader) error {
		b, err := io.ReadAll(r)
		texts = append(texts, string(b))
		return err
	})
	must(t, err)
	out := strings.Join(texts, "\n")
	if len(texts) != 2 || strings.Count(out, later) != 3 || strings.Contains(out, "/c/") || !strings.Contains(out, `href="http://new.test/x"`) {
		t.Errorf("the outbound reply as it left:\n%s", out)
	}
	if e := entry(newest(t, a), "time-of-click"); !strings.Contains(e.Detail, "3 wrapped links put back") {
		t.Errorf("the reply's time-of-click step %+v", e)
	}
	// A link another vendor wrapped is judged by what it leads to: a Safe
	// Links wrapper around the link the hub now knows as phishing is a
	// finding on that link, and the message is held.
	waitServices(t, a, []string{"web-reputation"}, func(st cli.ServiceStatus) bool { return st.State == "ok" }) // back from the black hole
	safe := "https://eur01.safelinks.protection.outlook.com/?url=" + url.QueryEscape(later) + "&amp;data=05%7C01&amp;reserved=0"
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.30", "bob@example.org", []string{"alice@example.com"},
		"From: bob@example.org\r\nTo: alice@example.com\r\nSubject: wrapped\r\nContent-Type: text/html\r\n\r\n<a href=\""+safe+"\">sign in</a>\r\n"))
	q := waitQuarantined(t, a, 1, 20*time.Second)
	qd, err := a.Message(context.Background(), q[0].ID)
	must(t, err)
	found := false
	for _, f := range qd.Findings {
		found = found || f.Engine == "web-reputation" && f.Object == later && strings.Contains(f.Location, "inside a wrapped link")
	}
	if !found || qd.Risk != "high" {
		t.Errorf("a Safe Links wrapper around a phishing link: risk %s, findings %+v", qd.Risk, qd.Findings)
	}
	// A signed message is left as it came (click.signed leave), and the
	// trail says why.
	n0 := len(sink.Messages())
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.30", "bob@example.org", []string{"alice@example.com"},
		"From: bob@example.org\r\nTo: alice@example.com\r\nSubject: signed\r\nMIME-Version: 1.0\r\n"+
			"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"s\"\r\n\r\n"+
			"--s\r\nContent-Type: text/plain\r\n\r\nsee http://signed.test/page\r\n--s\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n"+
			"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=smime.p7s\r\n\r\nMIIB\r\n--s--\r\n"))
	signedOut := sink.WaitFor(t, n0+1, 20*time.Second)[n0]
	if !strings.Contains(string(signedOut.Data), "see http://signed.test/page") || strings.Contains(string(signedOut.Data), "/c/") {
		t.Errorf("a signed message was changed:\n%s", signedOut.Data)
	}
	if e := entry(newest(t, a), "time-of-click"); !strings.Contains(e.Detail, "signed") {
		t.Errorf("the signed message's trail: %+v", e)
	}
	// A key rotation: links signed before still lead where they did.
	if _, err := cli.Exec(cli.WithCaller(context.Background(), cli.Caller{Who: "admin", Via: "test", Role: cli.RoleAdministrator}), a, "click key rotate"); err != nil {
		t.Fatal(err)
	}
	if code, loc, page := get(bad); code != http.StatusOK || loc != "" || !strings.Contains(page, "Link blocked") {
		t.Errorf("a link signed before the key rotation: %d %q", code, loc)
	}
	// Two recipients: a copy each, each with its own links, so that a
	// click is known to be that recipient's.
	n := len(sink.Messages())
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.30", "bob@example.org", []string{"alice@example.com", "dave@example.com"},
		"From: bob@example.org\r\nTo: alice@example.com, dave@example.com\r\nSubject: two\r\nContent-Type: text/html\r\n\r\n"+
			`<a href="http://one.test/a">one</a> <a href="http://two.test/b">two</a>`+"\r\n"))
	two := sink.WaitFor(t, n+2, 20*time.Second)[n:]
	tokens := map[string]string{}
	for _, r := range two {
		ws := regexp.MustCompile(`http://`+regexp.QuoteMeta(click)+`/c/[A-Za-z0-9_-]{32}`).FindAllString(decodedBody(t, r.Data), -1)
		if len(r.To) != 1 || len(ws) != 2 {
			t.Fatalf("a delivery to %v with %d links wrapped", r.To, len(ws))
		}
		tokens[r.To[0]] = ws[1]
	}
	if len(tokens) != 2 || tokens["alice@example.com"] == tokens["dave@example.com"] {
		t.Fatalf("the two recipients' links: %v", tokens)
	}
	if cp := newest(t, a); len(cp.To) != 1 || !strings.Contains(entry(cp, "time-of-click").Detail, "a copy of message") {
		t.Errorf("the newest message, a copy for one recipient: %v %+v", cp.To, cp.Trail)
	}
	for rcpt, link := range tokens {
		get(link)
		v, err := cli.Exec(cli.WithCaller(context.Background(), cli.Caller{Who: "admin", Via: "test", Role: cli.RoleAdministrator}), a, "show clicks limit 1")
		must(t, err)
		if cs := v.([]cli.ClickRecord); len(cs) != 1 || cs[0].Rcpt != rcpt {
			t.Errorf("the click on %s's link: %+v", rcpt, cs)
		}
	}
	waitServices(t, a, []string{"time-of-click"}, func(st cli.ServiceStatus) bool { return st.State == "ok" })
	// Each click is a CTP_DETECTION event at the SOC's collector.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var blocked bool
		for _, rec := range rs.Records() {
			blocked = blocked || rec.MsgID == "click" && strings.Contains(rec.Msg, "|CTP_DETECTION|Link clicked: blocked|8|") &&
				strings.Contains(rec.Msg, "request="+later) && strings.Contains(rec.Msg, "flexString2Label=riskAtDelivery flexString2=unrated")
		}
		if blocked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no CTP_DETECTION event for the blocked click at the collector: %+v", rs.Records())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// decodedBody is a one-part message's body, its transfer encoding undone.
func decodedBody(t *testing.T, msg []byte) string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	must(t, err)
	var r io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	must(t, err)
	return string(b)
}

// TestTimeOfClickInABrowser: a delivered message opened as a webmail page
// would show it, its links clicked in chromium: the approved one lands on
// the site; the unrated one shows the warning, and going on lands; once
// the hub learns the second link is malicious, the same link gives the
// block page and the site is not reached; a tampered link shows the
// error page and goes nowhere.
func TestTimeOfClickInABrowser(t *testing.T) {
	h, bl, sink := startTestHub(t), startDNSBL(t), testutil.NewSink(t)
	click := freePort(t)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"delivery.relay": sink.Addr, "click.listen": click,
		"click.base_url": "http://" + click, "lists.approved_domains": "good.test", "web.listen": "127.0.0.1:0"}))
	must(t, a.accounts.SetPassword(context.Background(), "admin", "Admin-Pass-2026"))
	// The sites the links lead to: every *.test name is this server.
	var visits atomic.Int64
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		visits.Add(1)
		fmt.Fprintf(w, "<!doctype html><title>site</title><h1 id=site>%s%s</h1>", r.Host, r.URL.Path)
	}))
	defer site.Close()
	_, port, _ := net.SplitHostPort(site.Listener.Addr().String())
	good, later := "http://good.test:"+port+"/page", "http://later-bad.test:"+port+"/login"
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.30", "bob@example.org", []string{"alice@example.com"},
		"From: bob@example.org\r\nTo: alice@example.com\r\nSubject: links\r\nContent-Type: text/html\r\n\r\n"+
			`<p><a id="good" href="`+good+`">good</a> <a id="later" href="`+later+`">later</a></p>`+"\r\n"))
	body := decodedBody(t, sink.WaitFor(t, 1, 20*time.Second)[0].Data)
	if strings.Contains(body, port+"/") {
		t.Fatalf("the links were not wrapped:\n%s", body)
	}
	// The message as a webmail shows it.
	mail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<!doctype html><title>mail</title>"+body)
	}))
	defer mail.Close()
	b := newBrowser(t, click, chromedp.Flag("host-resolver-rules", "MAP *.test 127.0.0.1"))
	open := func(link string) {
		t.Helper()
		b.do(t, chromedp.Navigate(mail.URL), chromedp.Click(chromedp.CSS("a#"+link)), chromedp.WaitVisible(chromedp.CSS("#site, #title")))
	}
	open("good")
	if got := b.text(t, "h1"); got != "good.test:"+port+"/page" {
		t.Fatalf("the approved link landed on %q", got)
	}
	open("later")
	if got := b.text(t, "#title"); !strings.Contains(got, "Careful") {
		t.Fatalf("the unrated link: %q", got)
	}
	b.screenshot(t, "click-warn")
	b.do(t, chromedp.Click(chromedp.CSS("#continue")), chromedp.WaitVisible(chromedp.CSS("#site")))
	if got := b.text(t, "#site"); got != "later-bad.test:"+port+"/login" {
		t.Fatalf("going on landed on %q", got)
	}
	feed := filepath.Join(t.TempDir(), "urlhaus.csv")
	must(t, os.WriteFile(feed, []byte(`"4000002","2026-12-04 10:00:00","`+later+`","online","2026-12-04 10:00:00","malware_download","","https://urlhaus.abuse.ch/url/4000002/","project"`+"\n"), 0o644))
	_, err := h.Store.Import(context.Background(), "urlhaus-csv", feed)
	must(t, err)
	before := visits.Load()
	open("later")
	if got := b.text(t, "#title"); got != "Link blocked" {
		t.Fatalf("the link the hub now knows as malicious: %q", got)
	}
	b.screenshot(t, "click-block")
	if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("a").length`)); err != nil || n != 0 {
		t.Errorf("the block page has %d links (%v)", n, err)
	}
	// A tampered link: the error page, and nowhere else.
	i := strings.Index(body, "/c/") + 3
	other := byte('A')
	if body[i] == 'A' {
		other = 'B'
	}
	tampered := body[:i] + string(other) + body[i+1:]
	mail.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<!doctype html><title>mail</title>"+tampered)
	})
	open("good")
	if got := b.text(t, "#title"); got != "Unknown link" {
		t.Fatalf("a tampered link: %q", got)
	}
	if visits.Load() != before {
		t.Errorf("the site was reached %d times after the block", visits.Load()-before)
	}
	// The console's Time-of-Click page: a link to try, and the clicks.
	base := "https://" + a.WebAddr().String()
	b.login(t, base, "admin", "Admin-Pass-2026")
	b.do(t, chromedp.Navigate(base+"/settings?section=click"), chromedp.SendKeys(chromedp.CSS(`#click-test input[name=url]`), good),
		chromedp.Submit(chromedp.CSS(`#click-test`)), chromedp.WaitVisible(chromedp.CSS(`#test-link a`)))
	if c := b.text(t, `#clicks`); !strings.Contains(c, later) || !strings.Contains(c, "block") || !strings.Contains(c, "continue") {
		t.Errorf("the latest clicks on the Time-of-Click page: %q", c)
	}
	b.screenshot(t, "time-of-click")
	b.do(t, chromedp.Click(chromedp.CSS(`#test-link a`)), chromedp.WaitVisible(chromedp.CSS("#site")))
	if got := b.text(t, "#site"); got != "good.test:"+port+"/page" {
		t.Errorf("the test link landed on %q", got)
	}
}

// BenchmarkClicks is the click service with the hub up: each op is one
// click on a wrapped link (a different link each, so that nothing is
// cached), judged by the local lists and the hub's joint request, logged,
// answered. Reported: clicks a second and the 95th percentile.
func BenchmarkClicks(b *testing.B) {
	h, bl := startTestHub(b), startDNSBL(b)
	click := freePort(b)
	a := startApp(b, b.TempDir(), serviceSettings(h, bl, map[string]string{"click.listen": click, "click.base_url": "http://" + click,
		"services.web-reputation.deadline": "5s", "services.web-inspection.deadline": "5s", "services.domain-census.deadline": "5s"}))
	links := make([]store.ClickLink, b.N)
	for i := range links {
		links[i] = store.ClickLink{Token: a.clickKeys.NewToken(), MessageID: "bench", URL: fmt.Sprintf("http://site%d.test/page", i),
			Raw: "x", Risk: "unrated", Created: time.Now(), Expires: time.Now().Add(time.Hour)}
	}
	must(b, a.db.Write(context.Background(), func(tx *store.Tx) error { return store.InsertClickLinks(tx, links) }))
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var next atomic.Int64
	var mu sync.Mutex
	times := make([]time.Duration, 0, b.N)
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			began := time.Now()
			resp, err := client.Get("http://" + click + "/c/" + links[i].Token)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("click %d: %s", i, resp.Status)
			}
			mu.Lock()
			times = append(times, time.Since(began))
			mu.Unlock()
		}
	})
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(len(times))/time.Since(start).Seconds(), "clicks/s")
	b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "p95-ms")
}
