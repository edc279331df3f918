package retention

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"mailinspector/internal/spool"
	"mailinspector/internal/store"
)

type harness struct {
	p    *Purger
	path string // the database file
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "mi.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sp, err := spool.Open(filepath.Join(dir, "spool"))
	if err != nil {
		t.Fatal(err)
	}
	return &harness{path: path, p: &Purger{DB: db, Spool: sp, Keep: 90 * 24 * time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
}

// add records a message received at, in state, with a recipient, a trail
// entry, a finding and its spool file.
func (h *harness) add(t testing.TB, id string, at time.Time, state string) {
	t.Helper()
	if err := h.p.Spool.Put(id, strings.NewReader("Subject: x\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	err := h.p.DB.Write(context.Background(), func(tx *store.Tx) error {
		if err := store.InsertMessage(tx, &store.Message{ID: id, Received: at, From: "a@example.org", To: []string{"b@example.com"},
			Size: 20, State: store.StateReceived}); err != nil {
			return err
		}
		if err := store.QueueRecipients(tx, id, []string{"b@example.com"}); err != nil {
			return err
		}
		return store.SaveVerdict(tx, id, &store.Verdict{State: state, Risk: "low",
			Trail:    []store.TrailEntry{{At: at, Stage: "extraction", Outcome: "ok"}},
			Findings: []store.Finding{{Stage: "extraction", Engine: "extraction", Risk: "low", Name: "malformed"}}})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// count is the rows of table about message id (all messages: "").
func (h *harness) count(t testing.TB, table, id string) int {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+h.path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	col := "message_id"
	if table == "messages" || table == "audit" {
		col = "id"
	}
	q, args := "SELECT COUNT(*) FROM "+table, []any{}
	if id != "" {
		q, args = q+" WHERE "+col+" = ?", []any{id}
	}
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPurgeTakesOnlyOldFinishedMessages: finished messages older than the
// retention go with their recipients, trail, findings and spool file;
// newer ones, and old ones still in the queue or in quarantine, stay.
func TestPurgeTakesOnlyOldFinishedMessages(t *testing.T) {
	h := newHarness(t)
	old, recent := time.Now().Add(-91*24*time.Hour), time.Now().Add(-89*24*time.Hour)
	gone := map[string]string{"delivered": store.StateDelivered, "bounced": store.StateBounced, "deleted": store.StateDeleted, "monitored": store.StateMonitored}
	for id, state := range gone {
		h.add(t, id, old, state)
	}
	kept := map[string]string{"recent": store.StateDelivered, "queued": store.StateQueued, "held": store.StateQuarantined, "waiting": store.StateAnalysing}
	for id, state := range kept {
		at := old
		if id == "recent" {
			at = recent
		}
		h.add(t, id, at, state)
	}
	if n := h.p.Run(); n != len(gone) {
		t.Fatalf("purged %d, want %d", n, len(gone))
	}
	for id := range gone {
		for _, table := range []string{"messages", "recipients", "trail", "findings"} {
			if n := h.count(t, table, id); n != 0 {
				t.Errorf("%s: %d rows left in %s", id, n, table)
			}
		}
		if _, err := os.Stat(h.p.Spool.Path(id)); !os.IsNotExist(err) {
			t.Errorf("%s: spool file: %v", id, err)
		}
	}
	for id := range kept {
		for _, table := range []string{"messages", "recipients", "trail", "findings"} {
			if n := h.count(t, table, id); n != 1 {
				t.Errorf("%s: %d rows in %s, want 1", id, n, table)
			}
		}
		if _, err := os.Stat(h.p.Spool.Path(id)); err != nil {
			t.Errorf("%s: spool file: %v", id, err)
		}
	}
	if n := h.p.Run(); n != 0 {
		t.Errorf("a second run purged %d", n)
	}
}

// TestPurgeGoesBatchByBatch: more than one batch is purged in one run.
func TestPurgeGoesBatchByBatch(t *testing.T) {
	h := newHarness(t)
	old := time.Now().Add(-100 * 24 * time.Hour)
	for i := 0; i < Batch+7; i++ {
		h.add(t, store.NewID(old.Add(time.Duration(i)*time.Second)), old.Add(time.Duration(i)*time.Second), store.StateDelivered)
	}
	if n := h.p.Run(); n != Batch+7 || h.count(t, "messages", "") != 0 {
		t.Fatalf("purged %d, %d left", n, h.count(t, "messages", ""))
	}
}

// BenchmarkPurge is the purge's rate: one op is one finished message (with
// a recipient, a trail entry and a finding) purged; history is written
// before the timer starts.
func BenchmarkPurge(b *testing.B) {
	h := newHarness(b)
	old := time.Now().Add(-400 * 24 * time.Hour)
	for i := 0; i < b.N; i++ {
		at := old.Add(time.Duration(i) * time.Second)
		h.add(b, store.NewID(at), at, store.StateDelivered)
	}
	b.ResetTimer()
	if n := h.p.Run(); n != b.N {
		b.Fatalf("purged %d of %d", n, b.N)
	}
}

// TestPurgeTakesOldAuditEntries: entries older than KeepAudit go; younger
// ones stay.
func TestPurgeTakesOldAuditEntries(t *testing.T) {
	h := newHarness(t)
	h.p.KeepAudit = 400 * 24 * time.Hour
	for _, age := range []time.Duration{800, 500, 300, 1} {
		at := time.Now().Add(-age * 24 * time.Hour)
		if err := h.p.DB.Write(context.Background(), func(tx *store.Tx) error {
			return store.AddAudit(tx, &store.AuditEntry{At: at, Who: "admin", Kind: "queue", Command: "queue flush", OK: true})
		}); err != nil {
			t.Fatal(err)
		}
	}
	h.p.Run()
	if n := h.count(t, "audit", ""); n != 2 {
		t.Fatalf("%d audit entries left, want the 2 younger than 400 days", n)
	}
}
