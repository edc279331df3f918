package quarantine

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/spool"
	"mailinspector/internal/store"
)

type harness struct {
	q                  *Quarantine
	delivered, analyse []string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "mi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sp, err := spool.Open(filepath.Join(dir, "spool"))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{}
	h.q = &Quarantine{DB: db, Spool: sp, ExpireAfter: time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Deliver: func(id string) { h.delivered = append(h.delivered, id) },
		Analyse: func(id string) { h.analyse = append(h.analyse, id) }}
	return h
}

// hold records a message held since received, with its bytes spooled.
func (h *harness) hold(t *testing.T, id string, received time.Time, to ...string) {
	t.Helper()
	if err := h.q.Spool.Put(id, strings.NewReader("Subject: x\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	err := h.q.DB.Write(context.Background(), func(tx *store.Tx) error {
		return store.InsertMessage(tx, &store.Message{ID: id, Received: received, From: "a@example.org", To: to,
			State: store.StateQuarantined, Risk: "high", Reason: "threat"})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (h *harness) state(t *testing.T, id string) string {
	t.Helper()
	m, err := h.q.DB.GetMessage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m.State
}

func TestReleaseToNamedRecipientsOnly(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.hold(t, "m1", time.Now(), "alice@example.com", "bob@example.com")
	if err := h.q.Release(ctx, "m1", []string{"eve@example.com"}); err == nil || !strings.Contains(err.Error(), "not a recipient") {
		t.Fatalf("release to a stranger: %v", err)
	}
	if len(h.delivered) != 0 || h.state(t, "m1") != store.StateQuarantined {
		t.Fatalf("a refused release changed something: delivered %v, state %s", h.delivered, h.state(t, "m1"))
	}
	if err := h.q.Release(ctx, "m1", []string{"BOB@example.com"}); err != nil {
		t.Fatal(err)
	}
	rs, err := h.q.DB.Recipients(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Rcpt != "bob@example.com" || len(h.delivered) != 1 || h.delivered[0] != "m1" {
		t.Fatalf("queued %+v, handed to delivery %v", rs, h.delivered)
	}
	if err := h.q.Release(ctx, "m1", nil); err == nil || !strings.Contains(err.Error(), "not quarantined") {
		t.Fatalf("second release: %v", err)
	}
}

func TestNoCopiesNoRelease(t *testing.T) {
	h := newHarness(t)
	h.q.NoCopies = true
	h.hold(t, "m1", time.Now(), "alice@example.com")
	if err := h.q.Release(context.Background(), "m1", nil); err == nil || !strings.Contains(err.Error(), "bcc") {
		t.Fatalf("release in BCC mode: %v", err)
	}
}

func TestResumeAnalysesAgainAndDeleteDropsTheBytes(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.hold(t, "m1", time.Now(), "alice@example.com")
	h.hold(t, "m2", time.Now(), "alice@example.com")
	if err := h.q.Resume(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	if h.state(t, "m1") != store.StateReceived || len(h.analyse) != 1 || h.analyse[0] != "m1" {
		t.Fatalf("resumed: state %s, handed to analysis %v", h.state(t, "m1"), h.analyse)
	}
	if err := h.q.Delete(ctx, "m1"); err == nil {
		t.Fatal("deleted a message that is no longer quarantined")
	}
	if err := h.q.Delete(ctx, "m2"); err != nil {
		t.Fatal(err)
	}
	if h.state(t, "m2") != store.StateDeleted {
		t.Fatalf("deleted message is %s", h.state(t, "m2"))
	}
	if _, err := os.Stat(h.q.Spool.Path("m2")); !os.IsNotExist(err) {
		t.Fatalf("the bytes of a deleted message: %v", err)
	}
	trail, err := h.q.DB.Trail(ctx, "m2")
	if err != nil || len(trail) != 1 || trail[0].Detail != "deleted by the administrator" {
		t.Fatalf("trail %+v, %v", trail, err)
	}
}

func TestExpireDeletesOnlyWhatIsOlder(t *testing.T) {
	h := newHarness(t)
	h.hold(t, "old", time.Now().Add(-2*time.Hour), "alice@example.com")
	h.hold(t, "new", time.Now().Add(-time.Minute), "alice@example.com")
	h.q.Expire()
	if h.state(t, "old") != store.StateDeleted || h.state(t, "new") != store.StateQuarantined {
		t.Fatalf("after expiry: old %s, new %s", h.state(t, "old"), h.state(t, "new"))
	}
}
