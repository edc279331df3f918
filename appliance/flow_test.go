package appliance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailinspector/internal/cli"
	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
)

func TestCleanMailIsRelayedByteForByteWithOurReceivedHeader(t *testing.T) {
	sink := testutil.NewSink(t)
	// No pattern engine here, so the text is unrated, which the default
	// policy tags (TestDefaultDeliversIntoMaildir); this administrator
	// lets unrated text through unmarked, and its bytes arrive as sent.
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "policy.unrated": "deliver"})
	body := testMessage("clean", "")
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com", "carol@example.com"}, body))

	got := sink.WaitFor(t, 1, 10*time.Second)
	if got[0].From != "bob@example.org" || strings.Join(got[0].To, ",") != "alice@example.com,carol@example.com" {
		t.Fatalf("envelope at the sink: from %q to %v", got[0].From, got[0].To)
	}
	splitReceived(t, got[0].Data, body)

	m := onlyMessage(t, a)
	d := waitState(t, a, m.ID, store.StateDelivered, 5*time.Second)
	// The text was not scanned, so the message is unrated, never none.
	if d.Risk != "unrated" || d.Action != "deliver" || d.Subject != "clean" || len(d.Findings) != 1 || d.Findings[0].Name != "not-scanned" {
		t.Fatalf("verdict: risk %q action %q subject %q findings %+v", d.Risk, d.Action, d.Subject, d.Findings)
	}
	stages := []string{}
	for _, e := range d.Trail {
		stages = append(stages, e.Stage+":"+e.Outcome)
	}
	if got, want := strings.Join(stages, " "), "header-sanity:ok sender-lists:ok email-reputation:skipped extraction:ok pattern-engine:skipped known-good:skipped file-census:skipped predictive-ml:skipped web-reputation:skipped web-inspection:skipped domain-census:skipped local-lists:ok virtual-analyzer:skipped threat-connect:skipped policy:ok delivery:ok delivery:ok"; got != want {
		t.Fatalf("trail %q, want %q", got, want)
	}
	if e := d.Trail[4]; e.Service != "clamd" || !strings.Contains(e.Detail, "clamd: service unavailable: not configured") {
		t.Fatalf("pattern-engine entry without clamd: %+v", e)
	}
	for _, r := range d.Recipients {
		if r.Status != store.RcptDelivered || r.Attempts != 1 {
			t.Fatalf("recipient %+v", r)
		}
	}
	waitGone(t, a.spool.Path(m.ID), "spool file of a delivered message")
}

func TestDefaultDeliversIntoMaildir(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir, nil)
	body := testMessage("maildir", "")
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"Alice@Example.com"}, body))
	m := onlyMessage(t, a)
	waitState(t, a, m.ID, store.StateDelivered, 5*time.Second)
	files, _ := filepath.Glob(filepath.Join(dir, "maildir", "alice@example.com", "new", "*"))
	if len(files) != 1 {
		t.Fatalf("maildir files: %v", files)
	}
	data, err := os.ReadFile(files[0])
	must(t, err)
	want := "Return-Path: <bob@example.org>\r\nDelivered-To: Alice@Example.com\r\n"
	if !strings.HasPrefix(string(data), want) {
		t.Fatalf("maildir file starts %q", data[:min(len(data), 80)])
	}
	// Without a pattern engine the text is unrated: the default policy
	// delivers it tagged, never as clean.
	tagged := strings.Replace(body, "Subject: maildir\r\n", "Subject: [Suspicious] maildir\r\n", 1)
	tagged = strings.Replace(tagged, "\r\n\r\n", "\r\nX-MailInspector-Risk: unrated\r\n\r\n", 1)
	splitReceived(t, data[len(want):], tagged)
}

func TestBCCModeAnalysesRecordsMonitoredAndDiscardsTheCopy(t *testing.T) {
	sink := testutil.NewSink(t)
	a := startApp(t, t.TempDir(), map[string]string{"mode": "bcc", "delivery.relay": sink.Addr, "senders.blocked": "evil.example"})
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, testMessage("bcc-clean", "")))
	must(t, send(t, a.SMTPAddr().String(), "mallory@evil.example", []string{"alice@example.com"}, testMessage("bcc-blocked", "")))
	ms, err := a.Messages(context.Background(), 10)
	must(t, err)
	if len(ms) != 2 {
		t.Fatalf("messages: %+v", ms)
	}
	for _, m := range ms {
		d := waitState(t, a, m.ID, store.StateMonitored, 5*time.Second)
		wantAction, wantRisk := "monitor: tag", "unrated" // no pattern engine: not scanned
		if d.From == "mallory@evil.example" {
			wantAction, wantRisk = "monitor: quarantine", "high"
		}
		if d.Action != wantAction || d.Risk != wantRisk {
			t.Fatalf("%s: action %q risk %q, want %q %q", d.From, d.Action, d.Risk, wantAction, wantRisk)
		}
		waitGone(t, a.spool.Path(m.ID), "bcc copy in the spool")
		if len(d.Recipients) != 0 {
			t.Fatalf("bcc message has delivery rows: %+v", d.Recipients)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(sink.Messages()); n != 0 {
		t.Fatalf("bcc mode delivered %d messages", n)
	}
}

func TestDownstreamDownThenUpDefersThenDelivers(t *testing.T) {
	sink := testutil.NewSink(t)
	sink.Stop() // connections refused
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "delivery.retry_intervals": "300ms"})
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, testMessage("deferred", "")))
	m := onlyMessage(t, a)
	d := waitState(t, a, m.ID, store.StateDeferred, 5*time.Second)
	if !strings.Contains(d.Recipients[0].LastError, "connect") {
		t.Fatalf("deferral reason %q", d.Recipients[0].LastError)
	}
	q, err := a.Queue(context.Background())
	must(t, err)
	if len(q) != 1 || q[0].Status != store.RcptDeferred {
		t.Fatalf("queue: %+v", q)
	}
	waitServices(t, a, []string{"downstream"}, func(st cli.ServiceStatus) bool {
		return (st.State == "degraded" || st.State == "unreachable") && strings.Contains(st.LastError, "connect")
	})
	sink.Restart(t)
	sink.WaitFor(t, 1, 10*time.Second)
	d = waitState(t, a, m.ID, store.StateDelivered, 5*time.Second)
	waitServices(t, a, []string{"downstream"}, func(st cli.ServiceStatus) bool { return st.State == "ok" })
	if d.Recipients[0].Attempts < 2 {
		t.Fatalf("attempts %d, want at least 2", d.Recipients[0].Attempts)
	}
}

func TestSmarthostFallbackToTheNextHost(t *testing.T) {
	dead := testutil.NewSink(t)
	dead.Stop()
	live := testutil.NewSink(t)
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": dead.Addr + "," + live.Addr})
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, testMessage("fallback", "")))
	live.WaitFor(t, 1, 10*time.Second)
	d := waitState(t, a, onlyMessage(t, a).ID, store.StateDelivered, 5*time.Second)
	if d.Recipients[0].Attempts != 1 {
		t.Fatalf("attempts %d: the second smarthost should take it in the first attempt", d.Recipients[0].Attempts)
	}
}

func TestPermanentFailureBouncesWithDSNToSender(t *testing.T) {
	sink := testutil.NewSink(t)
	sink.RejectRcpt("nobody@example.com", 550, smtp.EnhancedCode{5, 1, 1}, "no such user")
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr})
	body := testMessage("bounce", "")
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"nobody@example.com", "alice@example.com"}, body))

	got := sink.WaitFor(t, 2, 10*time.Second)
	var orig, dsn *testutil.Received
	for i := range got {
		if got[i].From == "" {
			dsn = &got[i]
		} else {
			orig = &got[i]
		}
	}
	if orig == nil || dsn == nil {
		t.Fatalf("want the original and a DSN at the sink, got %+v", got)
	}
	if strings.Join(orig.To, ",") != "alice@example.com" {
		t.Fatalf("original went to %v", orig.To)
	}
	if strings.Join(dsn.To, ",") != "bob@example.org" {
		t.Fatalf("DSN went to %v", dsn.To)
	}
	for _, want := range []string{"Content-Type: multipart/report; report-type=delivery-status", "Final-Recipient: rfc822; nobody@example.com",
		"Action: failed", "Status: 5.1.1", "no such user", "Content-Type: text/rfc822-headers", "Subject: bounce", "Auto-Submitted: auto-replied"} {
		if !strings.Contains(string(dsn.Data), want) {
			t.Errorf("DSN lacks %q:\n%s", want, dsn.Data)
		}
	}
	if strings.Contains(string(dsn.Data), "this is a test.") {
		t.Errorf("DSN returned the body; it should return headers only")
	}
	ms, err := a.Messages(context.Background(), 10)
	must(t, err)
	var origID string
	for _, m := range ms {
		if m.From == "bob@example.org" {
			origID = m.ID
		}
	}
	d := waitState(t, a, origID, store.StateDelivered, 5*time.Second)
	status := map[string]string{}
	for _, r := range d.Recipients {
		status[r.Rcpt] = r.Status
	}
	if status["nobody@example.com"] != store.RcptBounced || status["alice@example.com"] != store.RcptDelivered {
		t.Fatalf("recipient statuses %v", status)
	}
}

func TestQueueLifetimeBouncesAfterRetries(t *testing.T) {
	sink := testutil.NewSink(t)
	sink.RejectRcpt("slow@example.com", 451, smtp.EnhancedCode{4, 3, 0}, "try later")
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "delivery.retry_intervals": "200ms",
		"delivery.queue_lifetime": "1s"})
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"slow@example.com"}, testMessage("lifetime", "")))
	got := sink.WaitFor(t, 1, 15*time.Second)
	if got[0].From != "" || !strings.Contains(string(got[0].Data), "Status: 4.4.7") {
		t.Fatalf("want a DSN with status 4.4.7, got from %q:\n%s", got[0].From, got[0].Data)
	}
	ms, err := a.Messages(context.Background(), 10)
	must(t, err)
	for _, m := range ms {
		if m.From == "bob@example.org" {
			d := waitState(t, a, m.ID, store.StateBounced, 5*time.Second)
			if d.Recipients[0].Attempts < 2 {
				t.Fatalf("bounced after %d attempts, want retries first", d.Recipients[0].Attempts)
			}
		}
	}
}

func TestBlockedSenderIsQuarantinedThenReleasedOrDeleted(t *testing.T) {
	sink := testutil.NewSink(t)
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "senders.blocked": "mallory@evil.example"})
	addr := a.SMTPAddr().String()
	must(t, send(t, addr, "mallory@evil.example", []string{"alice@example.com", "carol@example.com"}, testMessage("q1", "")))
	must(t, send(t, addr, "mallory@evil.example", []string{"alice@example.com"}, testMessage("q2", "")))
	ctx := context.Background()
	var ids []string
	ms, _ := a.Messages(ctx, 10)
	for _, m := range ms {
		d := waitState(t, a, m.ID, store.StateQuarantined, 5*time.Second)
		if d.Risk != "high" || d.Action != "quarantine" || d.Reason != "threat" || findingNamed(d, "blocked-sender") == nil {
			t.Fatalf("verdict %+v findings %+v", d.MessageSummary, d.Findings)
		}
		ids = append(ids, m.ID)
	}
	q, err := a.Quarantine(ctx)
	must(t, err)
	if len(q) != 2 {
		t.Fatalf("quarantine lists %d", len(q))
	}
	// ids[0] is the newest (q2), ids[1] is q1 with two recipients.
	if err := a.Release(ctx, ids[1], []string{"dave@example.com"}); err == nil {
		t.Fatal("release to a stranger succeeded")
	}
	must(t, a.Release(ctx, ids[1], []string{"carol@example.com"}))
	got := sink.WaitFor(t, 1, 10*time.Second)
	if strings.Join(got[0].To, ",") != "carol@example.com" || !strings.Contains(string(got[0].Data), "Subject: q1") {
		t.Fatalf("released to %v: %s", got[0].To, got[0].Data)
	}
	waitState(t, a, ids[1], store.StateDelivered, 5*time.Second)

	must(t, a.Delete(ctx, ids[0]))
	d := waitState(t, a, ids[0], store.StateDeleted, time.Second)
	if _, err := os.Stat(a.spool.Path(ids[0])); !os.IsNotExist(err) {
		t.Fatalf("deleted message still in the spool")
	}
	if err := a.Release(ctx, d.ID, nil); err == nil {
		t.Fatal("a deleted message was released")
	}
}

func TestHeaderProblemsAreFindings(t *testing.T) {
	a := startApp(t, t.TempDir(), nil)
	body := "Subject: one\r\nSubject: two\r\n\r\nno From, no Date\r\n"
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, body))
	d := waitState(t, a, onlyMessage(t, a).ID, store.StateDelivered, 5*time.Second)
	// Unrated, not low: no pattern engine scanned it.
	f := findingNamed(d, "malformed")
	if d.Risk != "unrated" || f == nil || f.Risk != "low" {
		t.Fatalf("risk %q findings %+v", d.Risk, d.Findings)
	}
	for _, want := range []string{"no From field", "no Date field", "2 Subject fields"} {
		if !strings.Contains(f.Detail, want) {
			t.Errorf("finding detail %q lacks %q", f.Detail, want)
		}
	}
}

func TestDeliveryTLS(t *testing.T) {
	tlsSink := testutil.NewTLSSink(t)
	plain := testutil.NewSink(t)
	// Opportunistic: STARTTLS when offered (self-signed is fine), plain
	// otherwise.
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": tlsSink.Addr})
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, testMessage("tls", "")))
	if got := tlsSink.WaitFor(t, 1, 10*time.Second); !got[0].TLS {
		t.Fatal("opportunistic TLS did not use the STARTTLS the downstream offered")
	}
	b := startApp(t, t.TempDir(), map[string]string{"delivery.relay": plain.Addr})
	must(t, send(t, b.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, testMessage("plain", "")))
	if got := plain.WaitFor(t, 1, 10*time.Second); got[0].TLS {
		t.Fatal("TLS without STARTTLS?")
	}
	// Required: a downstream without STARTTLS defers; one with a certificate
	// we cannot verify defers too.
	for _, sink := range []*testutil.Sink{plain, tlsSink} {
		c := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "delivery.tls": "required", "delivery.retry_intervals": "1h"})
		must(t, send(t, c.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, testMessage("required", "")))
		d := waitState(t, c, onlyMessage(t, c).ID, store.StateDeferred, 5*time.Second)
		if e := d.Recipients[0].LastError; !strings.Contains(e, "STARTTLS not offered") && !strings.Contains(e, "certificate") {
			t.Fatalf("required TLS deferral reason %q", e)
		}
	}
}
