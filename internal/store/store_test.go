package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestConcurrentWritesShareCommitsAndFailAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = db.Write(ctx, func(tx *Tx) error {
				m := &Message{ID: fmt.Sprintf("m%03d", i), Received: time.Now(), From: "a@example.org", To: []string{"b@example.com"}, State: StateReceived}
				if err := InsertMessage(tx, m); err != nil {
					return err
				}
				if i%10 == 0 {
					return errors.New("this one fails")
				}
				return nil
			})
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if (i%10 == 0) != (err != nil) {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	db.Close()

	// Reopen: migrations run once, and only the successful writes exist.
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms, err := db.SearchMessages(ctx, MessageFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 180 {
		t.Fatalf("%d messages, want 180", len(ms))
	}
	for _, m := range ms {
		var n int
		fmt.Sscanf(m.ID, "m%d", &n)
		if n%10 == 0 {
			t.Fatalf("failed write %s was committed", m.ID)
		}
	}
}

func TestVerdictTrailAndQueue(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	id := NewID(time.Now())
	err := db.Write(ctx, func(tx *Tx) error {
		if err := InsertMessage(tx, &Message{ID: id, Received: time.Now(), From: "a@example.org", To: []string{"b@example.com", "c@example.com"}, State: StateReceived}); err != nil {
			return err
		}
		if err := SaveVerdict(tx, id, &Verdict{State: StateQueued, Risk: "low", Action: "deliver", Subject: "s",
			Trail:    []TrailEntry{{Stage: "one", Outcome: "ok"}, {Stage: "two", Service: "svc", Outcome: "skipped", Detail: "svc: down"}},
			Findings: []Finding{{Stage: "one", Engine: "e", Risk: "low", Name: "n"}}}); err != nil {
			return err
		}
		return QueueRecipients(tx, id, []string{"b@example.com", "c@example.com"})
	})
	if err != nil {
		t.Fatal(err)
	}
	due, err := db.DueMessages(ctx, time.Now(), 10)
	if err != nil || len(due) != 1 || due[0] != id {
		t.Fatalf("due %v %v", due, err)
	}
	tr, _ := db.Trail(ctx, id)
	if len(tr) != 2 || tr[1].Outcome != "skipped" || tr[1].Service != "svc" {
		t.Fatalf("trail %+v", tr)
	}
	next := time.Now().Add(time.Hour)
	err = db.Write(ctx, func(tx *Tx) error {
		return UpdateRecipient(tx, &Recipient{MessageID: id, Rcpt: "b@example.com", Status: RcptDeferred, Attempts: 1, NextAttempt: next})
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := db.NextDelivery(ctx, time.Now()); !n.Equal(next.UTC().Truncate(0)) && n.UnixNano() != next.UnixNano() {
		t.Fatalf("next delivery %v, want %v", n, next)
	}
	if _, err := db.GetMessage(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing message: %v", err)
	}
}

func TestLazyAndDurableWritesMix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			w := db.Write
			if i%2 == 0 {
				w = func(ctx context.Context, fn func(*Tx) error) error { return db.WriteLazy(ctx, fn, nil) }
			}
			if err := w(ctx, func(tx *Tx) error {
				return InsertMessage(tx, &Message{ID: fmt.Sprintf("x%03d", i), Received: time.Now(), To: []string{"b@example.com"}, State: StateReceived})
			}); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	// Alone, a lazy write commits at synchronous=NORMAL (1); a durable one
	// at FULL (2).
	lazy := func(ctx context.Context, fn func(*Tx) error) error { return db.WriteLazy(ctx, fn, nil) }
	for _, c := range []struct {
		w    func(context.Context, func(*Tx) error) error
		want int
	}{{lazy, 1}, {db.Write, 2}, {lazy, 1}} {
		if err := c.w(ctx, func(tx *Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
		var mode int
		if err := db.wc.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode != c.want {
			t.Fatalf("synchronous = %d, want %d", mode, c.want)
		}
	}
	db.Close()
	db, _ = Open(path)
	defer db.Close()
	if ms, _ := db.SearchMessages(ctx, MessageFilter{Limit: 1000}); len(ms) != 100 {
		t.Fatalf("%d messages after reopen", len(ms))
	}
}

func TestWorkAfterALazyWriteWaitsForDurability(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	done := make(chan string, 3)
	noop := func(*Tx) error { return nil }
	// Alone: within durableWithin a FULL commit of its own carries it.
	if err := db.WriteLazy(ctx, noop, func() { done <- "alone" }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * durableWithin):
		t.Fatal("a lazy write's follow-up never ran without other writes")
	}
	// A failed lazy write's follow-up never runs.
	db.WriteLazy(ctx, func(*Tx) error { return errors.New("no") }, func() { done <- "failed" })
	// Followed by a durable write: that commit carries it.
	if err := db.WriteLazy(ctx, noop, func() { done <- "carried" }); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, noop); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if got != "carried" {
			t.Fatalf("ran %q", got)
		}
	case <-time.After(5 * durableWithin):
		t.Fatal("follow-up did not run")
	}
	select {
	case got := <-done:
		t.Fatalf("unexpected follow-up %q", got)
	case <-time.After(2 * durableWithin):
	}
}

// TestDatabaseIsPrivate: the database is created 0600 (mail, trails and
// accounts are in it), and an existing one with wider permissions is
// tightened.
func TestDatabaseIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o644)
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: %o", p, fi.Mode().Perm())
		}
	}
}

// TestFeedbackOutboxIsBounded: past the bound the oldest records go and
// the newest stay, in order; sending some first leaves gaps at the low end
// that do not make the trim keep fewer than the bound.
func TestFeedbackOutboxIsBounded(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	queue := func(from, n int) {
		recs := make([]FeedbackRecord, n)
		for i := range recs {
			recs[i] = FeedbackRecord{Kind: "domain", Object: fmt.Sprintf("d%03d.example", from+i), Verdict: "none", At: time.Now()}
		}
		if err := db.Write(ctx, func(tx *Tx) error { return QueueFeedback(tx, recs) }); err != nil {
			t.Fatal(err)
		}
	}
	trim := func(max int) int64 {
		var n int64
		if err := db.Write(ctx, func(tx *Tx) (err error) { n, err = TrimFeedback(tx, max); return }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	queue(0, 30)
	if n := trim(50); n != 0 {
		t.Fatalf("under the bound, trimmed %d", n)
	}
	// The hub took the first 10.
	batch, err := db.FeedbackBatch(ctx, 10)
	if err != nil || len(batch) != 10 {
		t.Fatalf("batch %d, %v", len(batch), err)
	}
	if err := db.Write(ctx, func(tx *Tx) error { return FeedbackSent(tx, batch[9].Seq) }); err != nil {
		t.Fatal(err)
	}
	queue(30, 40) // 60 waiting: d010..d069
	if n := trim(50); n != 10 {
		t.Fatalf("trimmed %d, want 10", n)
	}
	left, err := db.FeedbackBatch(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 50 || left[0].Object != "d020.example" || left[49].Object != "d069.example" {
		t.Fatalf("left %d records, first %q last %q", len(left), left[0].Object, left[len(left)-1].Object)
	}
}

// TestVerdictObjects: a verdict with objects replaces the message's
// objects in the order given; one without (nil) leaves them; deleting the
// message takes them along.
func TestVerdictObjects(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	id := NewID(time.Now())
	objs := []Object{
		{Kind: ObjectFile, Value: strings.Repeat("a", 64), Name: "a.exe", Location: "part 2", Declared: "application/pdf", TrueType: "application/x-dosexec", Size: 60, SHA1: strings.Repeat("b", 40)},
		{Kind: ObjectURL, Value: "http://x.test/", Name: "HTTP://X.test", Location: "1 text"},
		{Kind: ObjectIP, Value: "198.51.100.7", Location: "Received"},
	}
	save := func(v *Verdict) {
		t.Helper()
		if err := db.Write(ctx, func(tx *Tx) error { return SaveVerdict(tx, id, v) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Write(ctx, func(tx *Tx) error {
		return InsertMessage(tx, &Message{ID: id, Received: time.Now(), From: "a@example.org", To: []string{"b@example.com"}, State: StateReceived})
	}); err != nil {
		t.Fatal(err)
	}
	save(&Verdict{State: StateAnalysing, Risk: "unrated", Objects: objs})
	save(&Verdict{State: StateAnalysing, Risk: "unrated"})
	got, err := db.Objects(ctx, id)
	if err != nil || !reflect.DeepEqual(got, objs) {
		t.Fatalf("objects %+v %v, want %+v", got, err, objs)
	}
	save(&Verdict{State: StateQuarantined, Risk: "high", Objects: objs[2:]})
	if got, _ := db.Objects(ctx, id); !reflect.DeepEqual(got, objs[2:]) {
		t.Fatalf("objects after the second verdict %+v", got)
	}
	if err := db.Write(ctx, func(tx *Tx) error { return SetState(tx, id, StateDelivered) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, func(tx *Tx) error { return PurgeMessage(tx, id) }); err != nil {
		t.Fatal(err)
	}
	var n int
	db.r.QueryRow(`SELECT COUNT(*) FROM message_objects`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d objects outlive their message", n)
	}
}
