package verdict

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"mailinspector/internal/analysis"
	"mailinspector/internal/policy"
	"mailinspector/internal/spool"
	"mailinspector/internal/store"
)

// runnerHarness is a Runner on a throw-away database and spool, with a
// one-stage pipeline, a policy that delivers, and a record of what the
// policy saw and what went to delivery.
type runnerHarness struct {
	r      *Runner
	db     *store.DB
	sp     *spool.Spool
	mu     sync.Mutex
	seen   []string // From of every message the policy decided
	queued []string
	decide policy.Decision // what the policy says
	// handed is what ExpectQueued was given, by id.
	handed map[string]handedRows
}

type handedRows struct {
	meta  *store.Message
	rcpts []store.Recipient
}

// DecideEach is the harness's policy: it records the sender and says
// h.decide for every recipient.
func (h *runnerHarness) DecideEach(m *store.Message, _ analysis.Report) []policy.Group {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen = append(h.seen, m.From)
	return []policy.Group{{Rcpts: m.To, Decision: h.decide}}
}

func newRunnerHarness(t *testing.T) *runnerHarness {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sp, err := spool.Open(filepath.Join(dir, "spool"))
	if err != nil {
		t.Fatal(err)
	}
	h := &runnerHarness{db: db, sp: sp, decide: policy.Decision{State: store.StateQueued, Action: "deliver"}, handed: map[string]handedRows{}}
	h.r = &Runner{DB: db, Spool: sp, Workers: 2, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Pipeline:   &analysis.Pipeline{Stages: []analysis.Stage{analysis.HeaderSanity{}}},
		ScratchDir: filepath.Join(dir, "scratch"), ScratchMem: 1 << 20,
		Policy: h,
		Queued: func(id string) { h.mu.Lock(); h.queued = append(h.queued, id); h.mu.Unlock() },
		ExpectQueued: func(m *store.Message, rcpts []store.Recipient) {
			h.mu.Lock()
			h.handed[m.ID] = handedRows{m, rcpts}
			h.mu.Unlock()
		}}
	return h
}

// receive does what the SMTP server does: spool file, then Expect, then
// the row (row may differ from what Expect is given, to tell them apart).
func (h *runnerHarness) receive(t *testing.T, expect, row *store.Message) {
	t.Helper()
	if err := h.sp.Put(row.ID, strings.NewReader("From: a@example.org\r\nSubject: s\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-Id: <x@example.org>\r\n\r\nhi\r\n")); err != nil {
		t.Fatal(err)
	}
	if expect != nil {
		h.r.Expect(expect)
	}
	if err := h.db.Write(context.Background(), func(tx *store.Tx) error { return store.InsertMessage(tx, row) }); err != nil {
		t.Fatal(err)
	}
}

func (h *runnerHarness) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func (h *runnerHarness) waitQueued(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		h.mu.Lock()
		got := len(h.queued)
		h.mu.Unlock()
		if got >= n {
			return
		}
	}
	t.Fatalf("fewer than %d messages queued in 10s", n)
}

func receivedRow(from string) *store.Message {
	return &store.Message{ID: store.NewID(time.Now()), Received: time.Now(), Kind: store.KindInbound, From: from,
		To: []string{"b@example.com"}, Size: 80, State: store.StateReceived}
}

// The analysis takes the row it was handed instead of reading it back,
// and takes it once: when its own scan finds the committed row before the
// SMTP server's Accepted call arrives, that call finds the message decided
// and does not analyse (nor queue) it a second time.
func TestHandedRowIsUsedOnceEvenWhenTheScanFindsTheMessageFirst(t *testing.T) {
	h := newRunnerHarness(t)
	row := receivedRow("a@example.org")
	handed := *row
	handed.From = "handed@example.org" // tells the handed copy from the row
	h.receive(t, &handed, row)
	h.run(t) // its first scan finds the received row
	h.waitQueued(t, 1)
	h.r.Submit(row.ID) // the Accepted call, late
	later := receivedRow("next@example.org")
	h.receive(t, nil, later)
	h.r.Submit(later.ID)
	h.waitQueued(t, 2)
	h.mu.Lock()
	defer h.mu.Unlock()
	if strings.Join(h.seen, " ") != "handed@example.org next@example.org" {
		t.Fatalf("the policy saw %q; want the handed row once, then the next message read from the database", h.seen)
	}
	if len(h.queued) != 2 || h.queued[0] != row.ID || h.queued[1] != later.ID {
		t.Fatalf("queued %q", h.queued)
	}
}

// A row whose commit failed is forgotten: a message later stored under
// that id is read from the database.
func TestForgottenRowIsNotUsed(t *testing.T) {
	h := newRunnerHarness(t)
	row := receivedRow("db@example.org")
	handed := *row
	handed.From = "handed@example.org"
	h.r.Expect(&handed)
	h.r.Forget(row.ID)
	h.receive(t, nil, row)
	h.run(t)
	h.waitQueued(t, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.seen) != 1 || h.seen[0] != "db@example.org" {
		t.Fatalf("the policy saw %q, want the database's row", h.seen)
	}
}

// What the analysis hands to delivery is exactly what delivery would read
// back from the database: the message row after the verdict (state, risk,
// action, subject, rewrite …) and the recipients' rows (the policy's
// recipients and Bcc, ordered by address, due now). Only the row's update
// time may differ.
func TestQueuedRowsHandedToDeliveryAreTheDatabasesRows(t *testing.T) {
	h := newRunnerHarness(t)
	h.decide = policy.Decision{State: store.StateQueued, Action: "pass and tag", Reason: "a rule",
		Rewrite:    &store.Rewrite{SubjectPrefix: "[tag] ", AddHeaders: []string{"X-MailInspector-Risk: none"}},
		Recipients: []string{"zed@example.com", "amy@example.com"}, Bcc: []string{"audit@example.com", "amy@example.com"}}
	row := receivedRow("a@example.org")
	row.ERS = &store.ERSCheck{IP: "192.0.2.1", Outcome: "ok", Detail: "not listed"}
	h.receive(t, row, row)
	h.run(t)
	h.r.Submit(row.ID)
	h.waitQueued(t, 1)
	h.mu.Lock()
	got := h.handed[row.ID]
	h.mu.Unlock()
	if got.meta == nil {
		t.Fatal("nothing handed to delivery")
	}
	ctx := context.Background()
	want, err := h.db.GetMessage(ctx, row.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantRcpts, err := h.db.Recipients(ctx, row.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.meta.Updated.IsZero() {
		t.Error("handed row has no update time")
	}
	gm, wm := *got.meta, *want
	gm.Updated, wm.Updated = time.Time{}, time.Time{}
	if !reflect.DeepEqual(gm, wm) {
		t.Errorf("handed row\n%+v\nthe database's\n%+v", gm, wm)
	}
	if !reflect.DeepEqual(got.rcpts, wantRcpts) {
		t.Errorf("handed recipients\n%+v\nthe database's\n%+v", got.rcpts, wantRcpts)
	}
	if len(wantRcpts) != 3 || wantRcpts[0].Rcpt != "amy@example.com" {
		t.Errorf("the database's recipients %+v: want amy, audit, zed", wantRcpts)
	}
}
