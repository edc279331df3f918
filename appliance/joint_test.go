package appliance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"mailinspector/internal/cli"
	"mailinspector/internal/store"
)

// perObjectStages are the stages whose services one joint request carries,
// by the service each names.
var perObjectStages = map[string]string{"known-good": "csss", "file-census": "file-census", "predictive-ml": "ml",
	"web-reputation": "web-reputation", "web-inspection": "web-inspection", "domain-census": "domain-census"}

// countRequests counts the joint requests and the per-service batch
// requests (POST, not Smart Feedback) the hub was sent.
func countRequests(h *testHub) (joint, single int) {
	for _, r := range h.Requests() {
		switch {
		case r == "POST /v1/lookup":
			joint++
		case strings.HasPrefix(r, "POST /v1/") && r != "POST /v1/feedback":
			single++
		}
	}
	return joint, single
}

func serviceStatus(t *testing.T, a *Appliance, name string) cli.ServiceStatus {
	t.Helper()
	sts, err := a.Services(t.Context())
	must(t, err)
	for _, st := range sts {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no service %s", name)
	return cli.ServiceStatus{}
}

// TestJointLookup: a message that uses every per-object service makes one
// request to the hub for all of them, and each service still reads as if
// asked alone: its own call counted, its own state, its stage's answer.
func TestJointLookup(t *testing.T) {
	h, bl := startTestHub(t), startDNSBL(t)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, nil))
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.50", "bob@example.org", []string{"alice@example.com"}, serviceMessage("joint")))
	d := waitState(t, a, onlyMessage(t, a).ID, store.StateQuarantined, 10*time.Second)
	if joint, single := countRequests(h); joint != 1 || single != 0 {
		t.Fatalf("%d joint and %d per-service requests, want 1 and 0: %v", joint, single, h.Requests())
	}
	for stage, svc := range perObjectStages {
		if e := entry(d, stage); e.Outcome == "skipped" || e.Outcome == "error" || e.Outcome == "" {
			t.Errorf("%s: %+v", stage, e)
		}
		if st := serviceStatus(t, a, svc); st.State != "ok" || st.Calls != 1 || st.Failures != 0 {
			t.Errorf("%s: %+v, want ok after one call", svc, st)
		}
	}
	for _, want := range []struct{ engine, name string }{
		{"file-census", "TestLoader"}, {"web-reputation", "malicious-url"}, {"web-inspection", "malware_download"},
	} {
		if !hasFinding(d, want.engine, want.name) {
			t.Errorf("no %s finding %s: %+v", want.engine, want.name, d.Findings)
		}
	}
	// The known-good file skipped the deeper checks all the same.
	if e := entry(d, "file-census"); !strings.Contains(e.Detail, "1 files asked") {
		t.Errorf("file-census: %+v", e)
	}
	if e := entry(d, "predictive-ml"); !strings.Contains(e.Detail, "1 attachments scored") {
		t.Errorf("predictive-ml: %+v", e)
	}
}

// TestJointLookupDeadlines: services with different deadlines are asked
// in different joint requests, so that none waits past its own.
func TestJointLookupDeadlines(t *testing.T) {
	h, bl := startTestHub(t), startDNSBL(t)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"services.web-inspection.deadline": "900ms"}))
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.51", "bob@example.org", []string{"alice@example.com"}, serviceMessage("deadlines")))
	d := waitState(t, a, onlyMessage(t, a).ID, store.StateQuarantined, 10*time.Second)
	if joint, single := countRequests(h); joint != 2 || single != 0 {
		t.Fatalf("%d joint and %d per-service requests, want 2 and 0: %v", joint, single, h.Requests())
	}
	if !hasFinding(d, "web-inspection", "malware_download") || !hasFinding(d, "web-reputation", "malicious-url") {
		t.Fatalf("findings: %+v", d.Findings)
	}
}

// TestJointPartFails: the hub answers one service's part with an error and
// the others with answers: only that service's step is skipped, with the
// hub's reason, and only its state changes.
func TestJointPartFails(t *testing.T) {
	h, bl := startTestHub(t), startDNSBL(t)
	f := func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.URL.Path != "/v1/lookup" {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var ans map[string]json.RawMessage
		must(t, json.Unmarshal(rec.Body.Bytes(), &ans))
		ans["web-inspection"] = json.RawMessage(`{"error":{"code":"internal","message":"the index is being rebuilt"}}`)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(ans)
	}
	h.intercept.Store(&f)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, nil))
	must(t, sendVia(a.SMTPAddr().String(), "198.51.100.52", "bob@example.org", []string{"alice@example.com"}, serviceMessage("part")))
	d := waitState(t, a, onlyMessage(t, a).ID, store.StateQuarantined, 10*time.Second)
	if e := entry(d, "web-inspection"); e.Outcome != "skipped" || !strings.HasPrefix(e.Detail, "web-inspection: ") ||
		!strings.Contains(e.Detail, "the index is being rebuilt") {
		t.Errorf("web-inspection: %+v", e)
	}
	if st := serviceStatus(t, a, "web-inspection"); st.State == "ok" || st.Failures != 1 {
		t.Errorf("web-inspection: %+v, want one failure", st)
	}
	for stage, svc := range perObjectStages {
		if svc == "web-inspection" {
			continue
		}
		if e := entry(d, stage); e.Outcome == "skipped" || e.Outcome == "error" || e.Outcome == "" {
			t.Errorf("%s: %+v", stage, e)
		}
		if st := serviceStatus(t, a, svc); st.State != "ok" || st.Failures != 0 {
			t.Errorf("%s: %+v", svc, st)
		}
	}
}

// TestJointLookupOlderHub: a hub that does not know POST /v1/lookup (404)
// is asked service by service, as before, with nothing counted against
// any service; the appliance remembers it and does not try again for the
// next message.
func TestJointLookupOlderHub(t *testing.T) {
	h, bl := startTestHub(t), startDNSBL(t)
	f := func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.URL.Path == "/v1/lookup" {
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	}
	h.intercept.Store(&f)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, nil))
	for i, subject := range []string{"old-1", "old-2"} {
		must(t, sendVia(a.SMTPAddr().String(), "198.51.100.53", "bob@example.org", []string{"alice@example.com"}, serviceMessage(subject)))
		d := waitState(t, a, newest(t, a).ID, store.StateQuarantined, 10*time.Second)
		if d.Subject != subject {
			t.Fatalf("newest message is %q, want %q", d.Subject, subject)
		}
		for stage := range perObjectStages {
			if e := entry(d, stage); e.Outcome == "skipped" || e.Outcome == "error" || e.Outcome == "" {
				t.Errorf("message %d: %s: %+v", i+1, stage, e)
			}
		}
		if !hasFinding(d, "file-census", "TestLoader") || !hasFinding(d, "web-inspection", "malware_download") {
			t.Errorf("message %d: findings %+v", i+1, d.Findings)
		}
	}
	if joint, single := countRequests(h); joint != 1 || single < 2*5 {
		t.Fatalf("%d joint and %d per-service requests, want 1 and at least 10: %v", joint, single, h.Requests())
	}
	for _, svc := range perObjectStages {
		if st := serviceStatus(t, a, svc); st.State != "ok" || st.Failures != 0 {
			t.Errorf("%s: %+v", svc, st)
		}
	}
}

// sendConcurrently submits n copies of the service message at once.
func sendConcurrently(t *testing.T, a *Appliance, n int, subject string) {
	t.Helper()
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			errs <- sendVia(a.SMTPAddr().String(), "198.51.100.54", "bob@example.org", []string{"alice@example.com"}, serviceMessage(fmt.Sprint(subject, i)))
		}()
	}
	for i := 0; i < n; i++ {
		must(t, <-errs)
	}
}

// waitAnalysed waits until n messages are past analysis.
func waitAnalysed(t *testing.T, a *Appliance, n int) []*cli.MessageDetail {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ms, err := a.Messages(t.Context(), 100)
		must(t, err)
		var out []*cli.MessageDetail
		for _, m := range ms {
			d, err := a.Message(t.Context(), m.ID)
			must(t, err)
			if d.State != store.StateReceived && d.State != store.StateAnalysing {
				out = append(out, d)
			}
		}
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages analysed", len(out), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestJointQueueGroupsConcurrentMessages: while one joint request is in
// flight, the requests of other messages wait for it and then leave
// together; every message gets its own answers, and each service counts
// one call per message.
func TestJointQueueGroupsConcurrentMessages(t *testing.T) {
	h, bl := startTestHub(t), startDNSBL(t)
	var first sync.Once
	f := func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.URL.Path == "/v1/lookup" {
			first.Do(func() { time.Sleep(300 * time.Millisecond) }) // the others arrive meanwhile
		}
		next.ServeHTTP(w, r)
	}
	h.intercept.Store(&f)
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, nil))
	const n = 4
	sendConcurrently(t, a, n, "group")
	for _, d := range waitAnalysed(t, a, n) {
		for stage := range perObjectStages {
			if e := entry(d, stage); e.Outcome == "skipped" || e.Outcome == "error" || e.Outcome == "" {
				t.Errorf("%s: %s: %+v", d.Subject, stage, e)
			}
		}
		if !hasFinding(d, "file-census", "TestLoader") || !hasFinding(d, "web-inspection", "malware_download") {
			t.Errorf("%s: findings %+v", d.Subject, d.Findings)
		}
	}
	joint, single := countRequests(h)
	if joint >= n || joint < 2 || single != 0 {
		t.Fatalf("%d joint and %d per-service requests for %d messages, want fewer joint requests than messages: %v", joint, single, n, h.Requests())
	}
	// Each message counts as a call of each service, as if asked alone.
	for _, svc := range perObjectStages {
		if st := serviceStatus(t, a, svc); st.Calls != n || st.Failures != 0 {
			t.Errorf("%s: %+v, want %d calls", svc, st, n)
		}
	}
}

// TestJointQueueKeepsDeadlines: messages queued behind a request the hub
// never answers wait no longer than their deadline in all, waiting
// included: their own request has only what is left of it.
func TestJointQueueKeepsDeadlines(t *testing.T) {
	h, bl := startTestHub(t), startDNSBL(t)
	f := func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.URL.Path == "/v1/lookup" {
			<-r.Context().Done() // accepted, never answered
			return
		}
		next.ServeHTTP(w, r)
	}
	h.intercept.Store(&f)
	// Breakers that stay closed, so that the queued messages' request is
	// sent, with what is left of their deadline.
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"services.failures": "100"}))
	const n = 4
	sendConcurrently(t, a, n, "hang")
	deadline := 400 * time.Millisecond
	for _, d := range waitAnalysed(t, a, n) {
		for stage, svc := range perObjectStages {
			e := entry(d, stage)
			if e.Outcome != "skipped" || !strings.HasPrefix(e.Detail, svc+": ") {
				t.Errorf("%s: %s: %+v, want skipped naming %s", d.Subject, stage, e, svc)
			}
			if time.Duration(e.MS)*time.Millisecond > deadline+300*time.Millisecond {
				t.Errorf("%s: %s waited %d ms on a %s deadline", d.Subject, stage, e.MS, deadline)
			}
			// Each waited its whole deadline, in the queue or not.
			if !strings.Contains(e.Detail, "no answer within 400ms") {
				t.Errorf("%s: %s: %q, want no answer within the deadline", d.Subject, stage, e.Detail)
			}
		}
	}
}

// TestJointQueueCountsEachMessage: the breaker opens after as many failed
// messages whether their questions went in one request or in several.
// Four messages behind a hub that never answers are at most two requests,
// and four failures: with services.failures=4 every breaker is open.
func TestJointQueueCountsEachMessage(t *testing.T) {
	h, bl := startTestHub(t), startDNSBL(t)
	f := func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.URL.Path == "/v1/lookup" {
			<-r.Context().Done()
			return
		}
		next.ServeHTTP(w, r)
	}
	h.intercept.Store(&f)
	const n = 4
	a := startApp(t, t.TempDir(), serviceSettings(h, bl, map[string]string{"services.failures": fmt.Sprint(n), "services.backoff": "1m"}))
	sendConcurrently(t, a, n, "count")
	waitAnalysed(t, a, n)
	if joint, _ := countRequests(h); joint >= n {
		t.Fatalf("%d joint requests for %d messages: the test wants them grouped", joint, n)
	}
	for _, svc := range perObjectStages {
		if st := serviceStatus(t, a, svc); st.State != "unreachable" || st.Calls != n || st.Failures != n {
			t.Errorf("%s: %+v, want unreachable after %d failed calls", svc, st, n)
		}
	}
}
