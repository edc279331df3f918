package appliance

import (
	"context"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
)

func TestQuarantineResumeAnalysesAgain(t *testing.T) {
	dir := t.TempDir()
	sink := testutil.NewSink(t)
	a := startApp(t, dir, map[string]string{"delivery.relay": sink.Addr, "senders.blocked": "evil.example"})
	must(t, send(t, a.SMTPAddr().String(), "x@evil.example", []string{"alice@example.com"}, testMessage("resume", "")))
	id := onlyMessage(t, a).ID
	waitState(t, a, id, store.StateQuarantined, 5*time.Second)
	must(t, a.Stop())
	// The administrator takes the sender off the blocked list and resumes.
	b := startApp(t, dir, map[string]string{"delivery.relay": sink.Addr})
	must(t, b.Resume(context.Background(), id))
	d := waitState(t, b, id, store.StateDelivered, 10*time.Second)
	sink.WaitFor(t, 1, 5*time.Second)
	resumed := false
	for _, e := range d.Trail {
		resumed = resumed || strings.Contains(e.Detail, "resumed by the administrator")
	}
	if !resumed || d.Risk != "unrated" { // no pattern engine here: unrated, never none
		t.Fatalf("after resume: risk %s trail %+v", d.Risk, d.Trail)
	}
	if err := b.Resume(context.Background(), id); err == nil {
		t.Fatal("resumed a message that is not in quarantine")
	}
}

func TestQuarantineExpires(t *testing.T) {
	a := startApp(t, t.TempDir(), map[string]string{"senders.blocked": "evil.example",
		"quarantine.expire_after": "1s", "quarantine.expire_schedule": "@every 1s"})
	must(t, send(t, a.SMTPAddr().String(), "x@evil.example", []string{"alice@example.com"}, testMessage("expire", "")))
	id := onlyMessage(t, a).ID
	waitState(t, a, id, store.StateQuarantined, 5*time.Second)
	d := waitState(t, a, id, store.StateDeleted, 10*time.Second)
	if last := d.Trail[len(d.Trail)-1]; !strings.Contains(last.Detail, "expired after 1s") {
		t.Fatalf("trail %+v", last)
	}
	waitGone(t, a.spool.Path(id), "expired message's spool file")
}
