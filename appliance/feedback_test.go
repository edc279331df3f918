package appliance

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailinspector/internal/cli"
	"mailinspector/internal/hubapi"
	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
)

// sendMany submits n messages over a few connections (through the PROXY
// line serviceSettings asks for), each with an attachment of its own.
func sendMany(t *testing.T, addr string, n int, file func(i int) []byte) {
	t.Helper()
	const perConn = 100
	for start := 0; start < n; start += perConn {
		conn, err := net.Dial("tcp", addr)
		must(t, err)
		fmt.Fprintf(conn, "PROXY TCP4 198.51.100.60 127.0.0.1 40000 25\r\n")
		c := smtp.NewClient(conn)
		must(t, c.Hello("client.test"))
		for i := start; i < min(start+perConn, n); i++ {
			must(t, c.Mail("bob@example.org", nil))
			must(t, c.Rcpt("alice@example.com", nil))
			w, err := c.Data()
			must(t, err)
			fmt.Fprintf(w, "From: bob@example.org\r\nTo: alice@example.com\r\nSubject: feedback %d\r\nMIME-Version: 1.0\r\n"+
				"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\n"+
				"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=f.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n--b--\r\n",
				i, base64.StdEncoding.EncodeToString(file(i)))
			must(t, w.Close())
		}
		c.Quit()
		c.Close()
	}
}

func feedbackNote(t *testing.T, a *Appliance) string {
	t.Helper()
	ss, err := a.Services(context.Background())
	must(t, err)
	for _, s := range ss {
		if s.Name == "smart-feedback" {
			return s.Note
		}
	}
	t.Fatal("no smart-feedback in show services")
	return ""
}

// TestSmartFeedbackThroughAnOutage: thousands of messages while the hub
// refuses; the outbox stays within feedback.outbox_max (the oldest
// dropped, counted in show services), survives a restart, and drains in
// batches when the hub is back; the hub's census rises by exactly what
// was kept.
func TestSmartFeedbackThroughAnOutage(t *testing.T) {
	h, bl := startTestHub(t), startDNSBL(t)
	const bound, n = 1500, 2000
	dir := t.TempDir()
	conf := serviceSettings(h, bl, map[string]string{"feedback.outbox_max": fmt.Sprint(bound)})
	a := startApp(t, dir, conf)
	ctx := context.Background()
	var before hubapi.Status
	hubGet(t, h, hubapi.PathStatus, &before)
	h.Proxy.SetFault(testutil.FaultRefuse)
	file := func(i int) []byte { return []byte(fmt.Sprintf("feedback sample %06d", i)) }
	sendMany(t, a.SMTPAddr().String(), n, file)
	// Every message is analysed and decided through the outage (without
	// a pattern engine the attachments are held as unscannable).
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		st, err := a.Status(ctx)
		must(t, err)
		if st.Messages[store.StateQuarantined] == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("messages by state after the outage's mail: %v", st.Messages)
		}
	}
	// Each message gave a file, the sender's domain and the relay: more
	// than the bound in all; after the next scheduled flush, exactly the
	// bound is left, the newest.
	var queued int
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var err error
		queued, err = a.db.FeedbackQueued(ctx)
		must(t, err)
		if queued == bound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox holds %d records during the outage, bound %d", queued, bound)
		}
	}
	note := feedbackNote(t, a)
	if !strings.Contains(note, fmt.Sprintf("%d records waiting (bound %d)", bound, bound)) || strings.Contains(note, "; 0 dropped") {
		t.Fatalf("show services' note during the outage: %q", note)
	}
	text, err := cli.Render(mustServices(t, a), false)
	must(t, err)
	if !strings.Contains(text, "smart-feedback: outbox") {
		t.Fatalf("show services text lacks the outbox:\n%s", text)
	}

	// A restart, the hub still out: the outbox is as it was.
	a.Stop()
	a = startApp(t, dir, conf)
	if q, _ := a.db.FeedbackQueued(ctx); q != bound {
		t.Fatalf("after a restart the outbox holds %d, want %d", q, bound)
	}
	kept, err := a.db.FeedbackBatch(ctx, bound)
	must(t, err)
	want := map[string]int{} // kind/object -> records kept
	for _, r := range kept {
		want[r.Kind+"/"+r.Object]++
	}

	// The hub is back: nothing is done; the outbox drains in batches.
	h.Proxy.SetFault(testutil.FaultNone)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		q, err := a.db.FeedbackQueued(ctx)
		must(t, err)
		if q == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records still queued a minute after the hub came back", q)
		}
	}
	posts := 0
	for _, r := range h.Requests() {
		if r == "POST "+hubapi.PathFeedback {
			posts++
		}
	}
	if posts < 2 {
		t.Fatalf("the outbox of %d drained in %d requests, want batches", bound, posts)
	}
	var after hubapi.Status
	hubGet(t, h, hubapi.PathStatus, &after)
	if got := after.FeedbackRecords - before.FeedbackRecords; got != bound {
		t.Fatalf("the hub's sightings rose by %d, want %d", got, bound)
	}
	// Census per object: the newest message's file counts once, the first
	// message's (dropped in the outage) not at all, the sender's domain
	// as many times as its records were kept.
	for _, c := range []struct {
		path string
		key  string
	}{
		{hubapi.PathFileCensus + "?sha256=" + sha(file(n-1)), "file/" + sha(file(n-1))},
		{hubapi.PathFileCensus + "?sha256=" + sha(file(0)), "file/" + sha(file(0))},
		{hubapi.PathDomainCensus + "?name=example.org", "domain/example.org"},
	} {
		var ans hubapi.CensusAnswer
		hubGet(t, h, c.path, &ans)
		if ans.Sightings != want[c.key] {
			t.Errorf("census of %s: %d sightings, want %d", c.key, ans.Sightings, want[c.key])
		}
	}
	if want["file/"+sha(file(n-1))] != 1 || want["file/"+sha(file(0))] != 0 {
		t.Fatalf("the kept records are not the newest: %v", want["file/"+sha(file(n-1))])
	}
}

func mustServices(t *testing.T, a *Appliance) []cli.ServiceStatus {
	t.Helper()
	ss, err := a.Services(context.Background())
	must(t, err)
	return ss
}
