package appliance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/spool"
	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
)

// TestRestartResumesEveryState lays a data directory with a message in
// every state, as a crash would leave it, and starts the daemon on it.
func TestRestartResumesEveryState(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "mailinspector.db"))
	must(t, err)
	sp, err := spool.Open(filepath.Join(dir, "spool"))
	must(t, err)
	now := time.Now()
	ids := map[string]string{}
	add := func(state string, withFile bool, after func(tx *store.Tx, id string) error) {
		id := store.NewID(now)
		ids[state] = id
		if withFile {
			must(t, sp.Put(id, strings.NewReader(testMessage(state, ""))))
		}
		must(t, db.Write(context.Background(), func(tx *store.Tx) error {
			m := &store.Message{ID: id, Received: now, From: "bob@example.org", To: []string{state + "@example.com"}, State: state}
			if state == store.StateAnalysing {
				m.AnalyseAfter = now.Add(time.Second)
			}
			if err := store.InsertMessage(tx, m); err != nil {
				return err
			}
			if after != nil {
				return after(tx, id)
			}
			return nil
		}))
		time.Sleep(2 * time.Millisecond) // distinct ids
	}
	queue := func(tx *store.Tx, id string) error {
		m := []string{}
		for s, i := range ids {
			if i == id {
				m = append(m, s+"@example.com")
			}
		}
		return store.QueueRecipients(tx, id, m)
	}
	add(store.StateReceived, true, nil)
	add(store.StateAnalysing, true, nil)
	add(store.StateQueued, true, queue)
	add(store.StateDeferred, true, func(tx *store.Tx, id string) error {
		if err := queue(tx, id); err != nil {
			return err
		}
		if err := store.SetState(tx, id, store.StateDeferred); err != nil {
			return err
		}
		return store.UpdateRecipient(tx, &store.Recipient{MessageID: id, Rcpt: "deferred@example.com", Status: store.RcptDeferred,
			Attempts: 3, NextAttempt: now.Add(-time.Second), LastError: "earlier failure"})
	})
	add(store.StateQuarantined, true, nil)
	add(store.StateDelivered, true, nil) // a crash came between the commit and the file's removal
	add(store.StateMonitored, false, nil)
	must(t, sp.Put("orphan", strings.NewReader("no row: its client never got 250")))
	must(t, db.Close())

	sink := testutil.NewSink(t)
	a := startApp(t, dir, map[string]string{"delivery.relay": sink.Addr})
	got := sink.WaitFor(t, 4, 15*time.Second)
	seen := map[string]bool{}
	for _, m := range got {
		seen[m.To[0]] = true
	}
	for _, s := range []string{store.StateReceived, store.StateAnalysing, store.StateQueued, store.StateDeferred} {
		if !seen[s+"@example.com"] {
			t.Errorf("the %s message was not delivered after restart (sink has %v)", s, seen)
		}
		waitState(t, a, ids[s], store.StateDelivered, 5*time.Second)
	}
	time.Sleep(200 * time.Millisecond)
	if len(sink.Messages()) != 4 {
		t.Fatalf("sink has %d messages, want 4", len(sink.Messages()))
	}
	ctx := context.Background()
	if m, _ := a.Message(ctx, ids[store.StateQuarantined]); m.State != store.StateQuarantined {
		t.Fatalf("quarantined message is %s", m.State)
	}
	if _, err := os.Stat(a.spool.Path(ids[store.StateQuarantined])); err != nil {
		t.Fatalf("quarantined original lost: %v", err)
	}
	for _, gone := range []string{"orphan", ids[store.StateDelivered]} {
		if _, err := os.Stat(a.spool.Path(gone)); !os.IsNotExist(err) {
			t.Errorf("spool file %s not swept", gone)
		}
	}
}

// TestStopAndStartKeepsDeferredAndQuarantinedMail restarts a real daemon
// with mail waiting for a dead downstream and mail in quarantine.
func TestStopAndStartKeepsDeferredAndQuarantinedMail(t *testing.T) {
	dir := t.TempDir()
	sink := testutil.NewSink(t)
	sink.Stop()
	set := map[string]string{"delivery.relay": sink.Addr, "senders.blocked": "evil.example", "delivery.retry_intervals": "1h"}
	a := startApp(t, dir, set)
	addr := a.SMTPAddr().String()
	for i := 0; i < 3; i++ {
		must(t, send(t, addr, "bob@example.org", []string{"alice@example.com"}, testMessage("wait", "")))
	}
	must(t, send(t, addr, "x@evil.example", []string{"alice@example.com"}, testMessage("held", "")))
	ms, _ := a.Messages(context.Background(), 10)
	for _, m := range ms {
		want := store.StateDeferred
		if m.From == "x@evil.example" {
			want = store.StateQuarantined
		}
		waitState(t, a, m.ID, want, 5*time.Second)
	}
	must(t, a.Stop())

	sink.Restart(t)
	// The retry wait is an hour: only a restart that resumes the queue
	// would not deliver now. Make the rows due, as time passing would.
	db, err := store.Open(filepath.Join(dir, "mailinspector.db"))
	must(t, err)
	must(t, db.Write(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Exec(`UPDATE recipients SET next_attempt = 0`)
		return err
	}))
	db.Close()
	b := startApp(t, dir, set)
	sink.WaitFor(t, 3, 10*time.Second)
	q, err := b.Quarantine(context.Background())
	must(t, err)
	if len(q) != 1 {
		t.Fatalf("quarantine after restart: %+v", q)
	}
}
