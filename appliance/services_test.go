package appliance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailinspector/internal/cli"
	"mailinspector/internal/hub"
	"mailinspector/internal/services"
	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
)

// The files and links of the service tests, and what the hub's feeds say
// of them.
var (
	malwareFile  = []byte("MZ\x90\x00 test sample the project's MalwareBazaar test feed lists")
	goodFile     = []byte("a tool the project's known-good test feed lists\n")
	malwareURL   = "http://cdn.badfiles.test/payload.exe"
	listedClient = "192.0.2.99" // listed in the test DNSBL zone
)

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// testHub is a real hub on loopback with the project's test feeds plus
// the hashes of the test files, behind a fault proxy.
type testHub struct {
	Dir   string // its data directory (hub.Publish puts bundles there)
	Store *hub.Store
	Key   string
	Proxy *testutil.FaultProxy

	mu       sync.Mutex
	requests []string // "POST /v1/lookup", in order
	// intercept, when set, answers instead of the hub (next is the hub).
	intercept atomic.Pointer[func(w http.ResponseWriter, r *http.Request, next http.Handler)]
}

// Requests are the requests the hub was sent so far ("METHOD /path").
func (h *testHub) Requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.requests)
}

func startTestHub(t testing.TB) *testHub {
	t.Helper()
	dir := t.TempDir()
	st, err := hub.OpenStore(dir)
	must(t, err)
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	feeds := filepath.Join("..", "internal", "hub", "testdata")
	for kind, file := range map[string]string{"urlhaus-csv": "urlhaus.csv", "openphish-txt": "openphish.txt", "spamhaus-drop-json": "drop_v4.json"} {
		_, err := st.Import(ctx, kind, filepath.Join(feeds, file))
		must(t, err)
	}
	mb := filepath.Join(dir, "malwarebazaar.csv")
	must(t, os.WriteFile(mb, []byte(`# "first_seen_utc","sha256_hash","md5_hash","sha1_hash","reporter","file_name","file_type_guess","mime_type","signature","clamav","vtpercent","imphash","ssdeep","tlsh"
"2026-11-20 10:00:00", "`+sha(malwareFile)+`", "x", "x", "project", "invoice.exe", "exe", "application/x-dosexec", "TestLoader", "n/a", "n/a", "n/a", "n/a", "n/a"
`), 0o644))
	_, err = st.Import(ctx, "malwarebazaar-csv", mb)
	must(t, err)
	kg := filepath.Join(dir, "known-good.txt")
	must(t, os.WriteFile(kg, []byte(sha(goodFile)+" Project Tool 1.0\n"), 0o644))
	_, err = st.Import(ctx, "known-good-sha256", kg)
	must(t, err)
	key, err := st.AddKey(ctx, "appliance-under-test")
	must(t, err)
	srv, err := hub.NewServer(st, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	must(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	th := &testHub{Dir: dir, Store: st, Key: key}
	next := srv.Handler()
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		th.mu.Lock()
		th.requests = append(th.requests, r.Method+" "+r.URL.Path)
		th.mu.Unlock()
		if f := th.intercept.Load(); f != nil {
			(*f)(w, r, next)
			return
		}
		next.ServeHTTP(w, r)
	})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	th.Proxy = testutil.StartFaultProxy(t, ln.Addr().String())
	return th
}

// serviceSettings point an appliance at the hub and the DNSBL, with short
// deadlines and back-offs so that a test sees the breaker open and close.
func serviceSettings(h *testHub, bl *testutil.DNSBL, extra map[string]string) map[string]string {
	s := map[string]string{"hub.url": "http://" + h.Proxy.Addr, "hub.key": h.Key, "ers.zones": "bl.test", "dns.resolver": bl.Addr,
		"smtp.proxy_networks": "127.0.0.1/32", "smtp.accepted_domains": "example.com", "ers.action": "tag", "services.failures": "1", "services.backoff": "1s",
		"services.cache_ttl": "0s", "services.negative_ttl": "0s", "schedules.feedback": "@every 1s", "services.smart-feedback.enabled": "true",
		"schedules.updates": "@every 1s", "schedules.licence": "@every 1s"}
	for _, name := range services.All[:12] {
		s["services."+name+".deadline"] = "400ms"
	}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

func startDNSBL(t testing.TB) *testutil.DNSBL {
	bl := testutil.StartDNSBL(t, "bl.test")
	bl.List("99.2.0.192.bl.test.", "127.0.0.2")
	return bl
}

// sendVia submits a message as if from client ip, through a PROXY v1 line
// (the way a load balancer in smtp.proxy_networks hands connections over).
func sendVia(addr, ip, from string, to []string, body string) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(conn, "PROXY TCP4 %s 127.0.0.1 40000 25\r\n", ip)
	return sendOn(conn, from, to, body)
}

// serviceMessage exercises every per-message service: a link the URLhaus
// feed lists, a file MalwareBazaar lists and one the known-good list has.
func serviceMessage(subject string) string {
	return "From: bob@example.org\r\nTo: alice@example.com\r\nSubject: " + subject + "\r\nDate: Fri, 27 Nov 2026 08:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n" +
		"get it at " + malwareURL + " today\r\n" +
		"--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"invoice.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		b64lines(malwareFile) +
		"--b1\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"tool.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		b64lines(goodFile) + "--b1--\r\n"
}

func entry(d *cli.MessageDetail, stage string) cli.TrailEntry {
	for _, e := range d.Trail {
		if e.Stage == stage {
			return e
		}
	}
	return cli.TrailEntry{}
}

func hasFinding(d *cli.MessageDetail, engine, name string) bool {
	for _, f := range d.Findings {
		if f.Engine == engine && (name == "" || f.Name == name) {
			return true
		}
	}
	return false
}

func TestHubServicesGiveFindings(t *testing.T) {
	h, bl, sink := startTestHub(t), startDNSBL(t), testutil.NewSink(t)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"delivery.relay": sink.Addr}))

	// Known malware and a malicious link: high risk, quarantined by the
	// default policy, each finding from the engine that made it.
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.20", "bob@example.org", []string{"alice@example.com"}, serviceMessage("bad")))
	d := waitState(t, a, onlyMessage(t, a).ID, store.StateQuarantined, 10*time.Second)
	if d.Risk != "high" {
		t.Fatalf("risk %s", d.Risk)
	}
	for _, want := range []struct{ engine, name string }{
		{"file-census", "TestLoader"}, {"web-reputation", "malicious-url"}, {"web-inspection", "malware_download"},
	} {
		if !hasFinding(d, want.engine, want.name) {
			t.Errorf("no %s finding %s: %+v", want.engine, want.name, d.Findings)
		}
	}
	if e := entry(d, "known-good"); e.Outcome != "ok" || !strings.Contains(e.Detail, "Project Tool 1.0") {
		t.Errorf("known-good: %+v", e)
	}
	// The known-good file is not asked about again; the malware is.
	if e := entry(d, "file-census"); !strings.Contains(e.Detail, "1 files asked") {
		t.Errorf("file-census asked about the known-good file: %+v", e)
	}
	// The trail's links open the hub's page in a browser: signed, no key.
	if e := entry(d, "threat-connect"); !strings.Contains(e.Detail, "/tc/hash?") || !strings.Contains(e.Detail, "indicator="+sha(malwareFile)) ||
		!strings.Contains(e.Detail, "&sig=") || strings.Contains(e.Detail, h.Key) || !strings.Contains(e.Detail, "TestLoader") {
		t.Errorf("threat-connect: %+v", e)
	}
	if e := entry(d, "email-reputation"); e.Outcome != "ok" || !strings.Contains(e.Detail, "198.51.100.20 not listed") {
		t.Errorf("email-reputation of an unlisted client: %+v", e)
	}

	// A listed client with ers.action=tag: accepted, the finding is in the
	// trail and the delivered copy carries X-MailInspector-ERS.
	must(t, sendVia(a.SMTPAddr().String(), listedClient, "carol@example.net", []string{"alice@example.com"}, testMessage("listed", "")))
	got := sink.WaitFor(t, 1, 10*time.Second)
	if !strings.Contains(string(got[0].Data), "X-MailInspector-ERS: listed; bl.test: listed (127.0.0.2)") {
		t.Fatalf("delivered copy without the ERS header:\n%s", got[0].Data)
	}

	// Smart Feedback reached the hub: the census now counts the file.
	waitFeedbackSent(t, a)
	var census struct{ Sightings int }
	hubGet(t, h, "/v1/file-census?sha256="+sha(malwareFile), &census)
	if census.Sightings != 1 {
		t.Fatalf("file census after feedback: %+v", census)
	}
}

func hubGet(t *testing.T, h *testHub, path string, out any) {
	t.Helper()
	hc := services.NewHub("http://"+h.Proxy.Addr, h.Key)
	must(t, hc.Get(context.Background(), path, nil, out))
}

func TestERSRejectAndDefer(t *testing.T) {
	h, bl := startTestHub(t), startDNSBL(t)
	for action, code := range map[string]string{"reject": "550 5.7.1", "defer": "450 4.7.1"} {
		t.Run(action, func(t *testing.T) {
			a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"ers.action": action}))
			err := sendVia(a.SMTPAddr().String(), listedClient, "carol@example.net", []string{"alice@example.com"}, testMessage("x", ""))
			if got := smtpCode(err); got != code || !strings.Contains(err.Error(), "bl.test") {
				t.Fatalf("listed client: %v, want %s naming the zone", err, code)
			}
			must(t, sendVia(a.SMTPAddr().String(), "198.51.100.21", "dave@example.net", []string{"alice@example.com"}, testMessage("y", "")))
		})
	}
}

// TestOutageMatrix is the degradation contract, service by service: with
// the hub and the DNS server made to refuse connections, accept and never
// answer, answer with an error, and answer garbage, a message that uses
// every service is accepted, analysed and delivered; its trail names each
// service skipped with the reason and no step waits past its deadline;
// show services reports them out of reach. Then the faults go, and with no
// command given the services come back and the next message uses them.
func TestOutageMatrix(t *testing.T) {
	h, bl, sink := startTestHub(t), startDNSBL(t), testutil.NewSink(t)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"delivery.relay": sink.Addr,
		"exceptions.senders": "bob@example.org", "lists.blocked_hashes": sha(malwareFile), "click.listen": "127.0.0.1:0"}))
	perMessage := map[string]string{"email-reputation": "ers", "known-good": "csss", "file-census": "file-census",
		"predictive-ml": "ml", "web-reputation": "web-reputation", "web-inspection": "web-inspection",
		"domain-census": "domain-census", "threat-connect": "threat-connect"}
	// Time-of-click is the appliance's own click service: the hub's
	// outage does not touch it (TestTimeOfClick has its clicks then).
	scheduled := []string{"smart-feedback", "updates", "licence"}
	deadline := 400 * time.Millisecond
	delivered := 0
	// The message uses every service; its sender is a message-level
	// exception, so that it is delivered whatever the hub says of it
	// and the test can follow it to the downstream. The malware file is
	// also on the local block list: a detection threat-connect links
	// even while every other engine is out of reach.
	msg := serviceMessage
	for _, mode := range []string{testutil.FaultRefuse, testutil.FaultBlackhole, testutil.FaultError, testutil.FaultGarbage} {
		t.Run(mode, func(t *testing.T) {
			h.Proxy.SetFault(mode)
			bl.SetFault(mode)
			must(t, sendVia(a.SMTPAddr().String(), "198.51.100.30", "bob@example.org", []string{"alice@example.com"}, msg("down-"+mode)))
			delivered++
			sink.WaitFor(t, delivered, 20*time.Second)
			d := newest(t, a)
			for stage, svc := range perMessage {
				e := entry(d, stage)
				if e.Outcome != "skipped" || e.Service != svc || !strings.HasPrefix(e.Detail, svc+": ") {
					t.Errorf("%s: %s stage %+v, want skipped naming %s", mode, stage, e, svc)
				}
				if time.Duration(e.MS)*time.Millisecond > deadline+time.Second {
					t.Errorf("%s: %s waited %d ms on a %s deadline", mode, stage, e.MS, deadline)
				}
			}
			waitServices(t, a, append(scheduled, "ers", "resolver", "csss", "file-census", "ml", "web-reputation", "web-inspection", "domain-census", "threat-connect"),
				func(st cli.ServiceStatus) bool { return st.State == "unreachable" || st.State == "degraded" })
			waitServices(t, a, []string{"time-of-click"}, func(st cli.ServiceStatus) bool { return st.State == "ok" })
			// Smart Feedback of the message waits on disk.
			if n, err := a.db.FeedbackQueued(context.Background()); err != nil || n == 0 {
				t.Errorf("%s: %d feedback records queued (%v), want the message's", mode, n, err)
			}

			// The fault goes; nothing is done; the services come back.
			back := time.Now()
			h.Proxy.SetFault(testutil.FaultNone)
			bl.SetFault(testutil.FaultNone)
			waitServices(t, a, append(scheduled, "ers", "resolver", "csss", "file-census", "ml", "web-reputation", "web-inspection", "domain-census", "threat-connect"),
				func(st cli.ServiceStatus) bool { return st.State == "ok" })
			waitFeedbackSent(t, a)
			// The next scheduled licence check succeeds by itself (its
			// status may come back earlier, through the probe).
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				if a.updates.Book.LastCheck().LastSuccess.After(back) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: no successful licence check after the hub came back: %+v", mode, a.updates.Book.LastCheck())
				}
			}
			must(t, sendVia(a.SMTPAddr().String(), "198.51.100.31", "bob@example.org", []string{"alice@example.com"}, msg("up-"+mode)))
			delivered++
			sink.WaitFor(t, delivered, 20*time.Second)
			d = newest(t, a)
			for stage := range perMessage {
				if e := entry(d, stage); e.Outcome == "skipped" || e.Outcome == "error" || e.Outcome == "" {
					t.Errorf("%s, after recovery: %s stage %+v", mode, stage, e)
				}
			}
		})
	}
}

// newest is the most recent message.
func newest(t *testing.T, a *Appliance) *cli.MessageDetail {
	t.Helper()
	ms, err := a.Messages(context.Background(), 1)
	must(t, err)
	d, err := a.Message(context.Background(), ms[0].ID)
	must(t, err)
	return d
}

// waitServices polls show services until every named service satisfies ok.
func waitServices(t *testing.T, a *Appliance, names []string, ok func(cli.ServiceStatus) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		sts, err := a.Services(context.Background())
		must(t, err)
		var bad []string
		for _, st := range sts {
			for _, n := range names {
				if st.Name == n && !ok(st) {
					bad = append(bad, fmt.Sprintf("%s=%s (%s)", st.Name, st.State, st.LastError))
				}
			}
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("services not as expected: %s", strings.Join(bad, ", "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDisabledServiceAndMetrics(t *testing.T) {
	h, bl := startTestHub(t), startDNSBL(t)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"services.ml.enabled": "false", "services.csss.enabled": "false",
		"metrics.listen": "127.0.0.1:0"}))
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.40", "bob@example.org", []string{"alice@example.com"}, serviceMessage("m")))
	d := waitState(t, a, onlyMessage(t, a).ID, store.StateQuarantined, 10*time.Second)
	if e := entry(d, "predictive-ml"); e.Outcome != "skipped" || !strings.Contains(e.Detail, "ml: service unavailable: disabled in settings") {
		t.Fatalf("disabled ml: %+v", e)
	}
	// Without the known-good shortcut the known-good file is analysed
	// fully: the file census asks about both files.
	if e := entry(d, "known-good"); e.Outcome != "skipped" || !strings.Contains(e.Detail, "csss: service unavailable: disabled in settings") {
		t.Fatalf("disabled csss: %+v", e)
	}
	if e := entry(d, "file-census"); !strings.Contains(e.Detail, "2 files asked") {
		t.Fatalf("file census with csss disabled: %+v", e)
	}
	resp, err := http.Get("http://" + a.MetricsAddr().String() + "/metrics")
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`mailinspector_service_state{service="ml",state="disabled"} 1`,
		`mailinspector_service_state{service="web-reputation",state="ok"} 1`,
		`mailinspector_service_calls_total{service="web-reputation"} 1`,
		`mailinspector_service_state{service="clamd",state="not-configured"} 1`,
		`mailinspector_smtp_accepted_total 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestCacheAnswersRepeats: the second message with the same link and
// file is answered from the cache, not the hub.
func TestCacheAnswersRepeats(t *testing.T) {
	h, bl := startTestHub(t), startDNSBL(t)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"services.cache_ttl": "1h", "services.negative_ttl": "1h"}))
	for i := 0; i < 2; i++ {
		must(t, sendVia(a.SMTPAddr().String(), "198.51.100.41", "bob@example.org", []string{"alice@example.com"}, serviceMessage(fmt.Sprint("c", i))))
		waitState(t, a, newest(t, a).ID, store.StateQuarantined, 10*time.Second)
	}
	// One link and two files: one call each for the first message (csss
	// asks about both files in one batch; the later file checks only about
	// the one that is not known good), cache hits per object for the second.
	hits := map[string]int64{"web-reputation": 1, "web-inspection": 1, "file-census": 1, "ml": 1, "csss": 2}
	for _, st := range a.services.Statuses() {
		if n, ok := hits[st.Name]; ok && (st.Calls != 1 || st.CacheHits != n) {
			t.Errorf("%s: %d calls, %d cache hits; want 1 and %d", st.Name, st.Calls, st.CacheHits, n)
		}
	}
}

// waitFeedbackSent waits until the Smart Feedback outbox is empty.
func waitFeedbackSent(t *testing.T, a *Appliance) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := a.db.FeedbackQueued(context.Background())
		must(t, err)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d feedback records still queued", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestOutageInBCCMode: in BCC mode the copy is analysed and recorded as
// monitored while the hub and the DNS server hang; the trail says which
// steps were skipped. (ERS runs in the analysis here: a BCC copy comes
// from the organisation's MTA, so its Received lines say who sent it.)
func TestOutageInBCCMode(t *testing.T) {
	h, bl := startTestHub(t), startDNSBL(t)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"mode": "bcc"}))
	h.Proxy.SetFault(testutil.FaultBlackhole)
	bl.SetFault(testutil.FaultBlackhole)
	msg := "Received: from mx.sender.test (mx.sender.test [192.0.2.99]) by mx.corp.test (Postfix) with ESMTP id A1; Fri, 27 Nov 2026 08:00:00 +0000\r\n" +
		serviceMessage("bcc")
	must(t, sendVia(a.SMTPAddr().String(), "10.0.0.5", "bob@example.org", []string{"alice@example.com"}, msg))
	d := waitState(t, a, onlyMessage(t, a).ID, store.StateMonitored, 20*time.Second)
	for _, stage := range []string{"email-reputation", "known-good", "file-census", "predictive-ml", "web-reputation", "web-inspection", "domain-census"} {
		if e := entry(d, stage); e.Outcome != "skipped" || !strings.Contains(e.Detail, "no answer within 400ms") && !strings.Contains(e.Detail, "circuit open") {
			t.Errorf("%s: %+v", stage, e)
		}
	}
	h.Proxy.SetFault(testutil.FaultNone)
	bl.SetFault(testutil.FaultNone)
	waitServices(t, a, []string{"ers", "web-reputation"}, func(st cli.ServiceStatus) bool { return st.State == "ok" })
	must(t, sendVia(a.SMTPAddr().String(), "10.0.0.5", "bob@example.org", []string{"alice@example.com"}, strings.Replace(msg, "Subject: bcc", "Subject: bcc2", 1)))
	d = waitState(t, a, newest(t, a).ID, store.StateMonitored, 20*time.Second)
	if e := entry(d, "email-reputation"); e.Outcome != "finding" || !strings.Contains(e.Detail, "192.0.2.99 listed") {
		t.Errorf("non-edge ERS after recovery: %+v", e)
	}
}

// TestLocalPartsOutageMatrix is the contract for clamd and the downstream
// MTA, in the same four faults: the message is accepted and analysed
// (clamd: skipped, delivered anyway) or kept and retried (downstream:
// deferred, never lost), the status shows the part out of reach, and it
// all comes back without a command once the fault goes.
func TestLocalPartsOutageMatrix(t *testing.T) {
	cd := testutil.StartClamd(t)
	sink := testutil.NewSink(t)
	clam := testutil.StartFaultProxy(t, cd.Spec())
	clam.ErrorReply = "stream: Can't allocate memory ERROR\x00"
	down := testutil.StartFaultProxy(t, sink.Addr)
	down.ErrorReply = "421 4.3.2 mx.test service not available\r\n"
	a := startApp(t, t.TempDir(), map[string]string{"engine.clamd": clam.Addr, "engine.clamd_timeout": "500ms",
		"delivery.relay": down.Addr, "delivery.retry_intervals": "300ms", "delivery.connect_timeout": "500ms",
		"delivery.command_timeout": "500ms", "services.failures": "1", "services.backoff": "1s"})
	delivered := 0
	for _, mode := range []string{testutil.FaultRefuse, testutil.FaultBlackhole, testutil.FaultError, testutil.FaultGarbage} {
		t.Run(mode, func(t *testing.T) {
			clam.SetFault(mode)
			down.SetFault(mode)
			subject := "local-" + mode
			// A text goes on, unrated (an attachment would be held as
			// unscannable: TestClamdDownOrSilentMailFlows).
			must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, testMessage(subject, "")))
			id := newest(t, a).ID
			d := waitState(t, a, id, store.StateDeferred, 10*time.Second)
			if e := entry(d, "pattern-engine"); e.Outcome != "skipped" || !strings.HasPrefix(e.Detail, "clamd: ") || e.MS > 1500 {
				t.Errorf("%s: pattern-engine %+v", mode, e)
			}
			if d.Risk != "unrated" || !hasFinding(d, "pattern-engine", "not-scanned") {
				t.Errorf("%s: risk %q findings %+v", mode, d.Risk, d.Findings)
			}
			if d.Recipients[0].LastError == "" || d.Recipients[0].Status != store.RcptDeferred {
				t.Errorf("%s: recipient %+v", mode, d.Recipients[0])
			}
			waitServices(t, a, []string{"clamd", "downstream"}, func(st cli.ServiceStatus) bool {
				return st.State == "unreachable" || st.State == "degraded"
			})
			clam.SetFault(testutil.FaultNone)
			down.SetFault(testutil.FaultNone)
			delivered++
			sink.WaitFor(t, delivered, 15*time.Second)
			waitState(t, a, id, store.StateDelivered, 10*time.Second)
			waitServices(t, a, []string{"clamd", "downstream"}, func(st cli.ServiceStatus) bool { return st.State == "ok" })
			// The next message is scanned again.
			must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, withAttachment(subject+"-up", "application/zip", "a.zip", []byte(eicar))))
			d = waitState(t, a, newest(t, a).ID, store.StateQuarantined, 10*time.Second)
			if e := entry(d, "pattern-engine"); e.Outcome != "finding" {
				t.Errorf("%s, after recovery: pattern-engine %+v", mode, e)
			}
		})
	}
}

// TestHubOverHTTPSWithPrivateCA: a self-hosted hub behind a certificate
// of a private authority is used once hub.ca_file names it, and refused
// (skipped, with the reason) without it.
func TestHubOverHTTPSWithPrivateCA(t *testing.T) {
	dir := t.TempDir()
	st, err := hub.OpenStore(dir)
	must(t, err)
	t.Cleanup(func() { st.Close() })
	_, err = st.Import(context.Background(), "urlhaus-csv", filepath.Join("..", "internal", "hub", "testdata", "urlhaus.csv"))
	must(t, err)
	key, err := st.AddKey(context.Background(), "tls")
	must(t, err)
	srv, err := hub.NewServer(st, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	must(t, err)
	hs := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(hs.Close)
	ca := filepath.Join(dir, "ca.pem")
	must(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}), 0o644))
	body := testMessage("tls", "") + "see " + malwareURL + "\r\n"
	for _, tc := range []struct {
		caFile, outcome, detail string
	}{
		{ca, "finding", "rated malicious"},
		{"", "skipped", "certificate signed by unknown authority"},
	} {
		a := startApp(t, t.TempDir(), map[string]string{"hub.url": hs.URL, "hub.key": key, "hub.ca_file": tc.caFile})
		must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, body))
		var d *cli.MessageDetail
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			d = newest(t, a)
			if entry(d, "web-reputation").Outcome != "" || time.Now().After(deadline) {
				break
			}
		}
		if e := entry(d, "web-reputation"); e.Outcome != tc.outcome || !strings.Contains(e.Detail+fmt.Sprint(d.Findings), tc.detail) {
			t.Errorf("ca_file %q: %+v %+v", tc.caFile, e, d.Findings)
		}
	}
}

// TestMLScoresAnObfuscatedScript: the features of a script dropper,
// extracted here and scored by the hub's shipped model, give an ml finding.
func TestMLScoresAnObfuscatedScript(t *testing.T) {
	h, bl := startTestHub(t), startDNSBL(t)
	cd := testutil.StartClamd(t)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"engine.clamd": cd.Spec()}))
	script := []byte("var a = String.fromCharCode(87,83,99); var s = new ActiveXObject('WScript.Shell');\r\n" +
		"eval(unescape('%76%61%72')); eval(a); s.Run(chr(99)+chr(109)+chr(100));\r\n" + strings.Repeat("VGhpcyBpcyBub3QgbWFsd2FyZQ", 10) + "\r\n")
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.50", "bob@example.org", []string{"alice@example.com"},
		withAttachment("js", "application/javascript", "invoice.js", script)))
	// Medium risk: tagged and delivered by the default policy.
	d := waitState(t, a, onlyMessage(t, a).ID, store.StateDelivered, 10*time.Second)
	if !hasFinding(d, "ml", "ml-malicious") || d.Risk != "medium" {
		t.Fatalf("risk %s, findings %+v, ml step %+v", d.Risk, d.Findings, entry(d, "predictive-ml"))
	}
}

// TestStopDoesNotWaitOnADeadHub: with the hub black-holed and the
// scheduled checks' deadlines far away, stopping does not wait them out
// (systemd would kill the daemon at TimeoutStopSec).
func TestStopDoesNotWaitOnADeadHub(t *testing.T) {
	h, bl := startTestHub(t), startDNSBL(t)
	h.Proxy.SetFault(testutil.FaultBlackhole)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"services.updates.deadline": "5m",
		"services.licence.deadline": "5m", "services.time-of-click.deadline": "5m", "services.smart-feedback.deadline": "5m",
		"services.failures": "100"})) // no breaker opens: the calls really wait
	time.Sleep(1500 * time.Millisecond) // the start-up checks and a scheduled run are now waiting on the hub
	start := time.Now()
	must(t, a.Stop())
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("stop took %s with checks waiting on a dead hub", took)
	}
}

// TestFeedbackOutboxStaysBoundedInAnOutage: with the hub refusing for
// longer than the outbox holds, each flush drops the oldest records past
// the bound, counts them in the metrics, and keeps the newest for when
// the hub returns.
func TestFeedbackOutboxStaysBoundedInAnOutage(t *testing.T) {
	h, bl := startTestHub(t), startDNSBL(t)
	// The schedule does not run during the test: the test flushes by hand,
	// so that the bound it sets is not read concurrently.
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"schedules.feedback": "@every 24h", "metrics.listen": "127.0.0.1:0"}))
	a.updates.FeedbackMax = 3
	h.Proxy.SetFault(testutil.FaultRefuse)
	bl.SetFault(testutil.FaultRefuse)
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.50", "bob@example.org", []string{"alice@example.com"}, serviceMessage("outage")))
	waitState(t, a, onlyMessage(t, a).ID, store.StateQuarantined, 20*time.Second)
	before, err := a.db.FeedbackQueued(context.Background())
	must(t, err)
	if before <= 3 {
		t.Fatalf("%d records queued; the test needs more than the bound", before)
	}
	newestBefore, err := a.db.FeedbackBatch(context.Background(), before)
	must(t, err)
	a.updates.FlushFeedback()
	left, err := a.db.FeedbackBatch(context.Background(), before)
	must(t, err)
	if len(left) != 3 || left[2].Seq != newestBefore[before-1].Seq {
		t.Fatalf("after the flush %d records, want the newest 3 of %d", len(left), before)
	}
	resp, err := http.Get("http://" + a.MetricsAddr().String() + "/metrics")
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("mailinspector_feedback_dropped_total %d", before-3); !strings.Contains(string(body), want) {
		t.Fatalf("metrics lack %q", want)
	}
}
