package delivery

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"mailinspector/internal/store"
)

// The rows the analysis hands over serve one attempt, whichever comes
// first; every later attempt, and any attempt after Forget, reads the
// database.
func TestHandedRowsServeOneAttemptThenTheDatabase(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := &Queue{DB: db}
	ctx := context.Background()
	now := time.Now()
	row := &store.Message{ID: store.NewID(now), Received: now, Kind: store.KindInbound, From: "db@example.org",
		To: []string{"b@example.com"}, Size: 10, State: store.StateQueued}
	if err := db.Write(ctx, func(tx *store.Tx) error {
		if err := store.InsertMessage(tx, row); err != nil {
			return err
		}
		return store.QueueRecipients(tx, row.ID, row.To)
	}); err != nil {
		t.Fatal(err)
	}
	handed := *row
	handed.From = "handed@example.org"
	q.Expect(&handed, store.PendingRecipients(row.ID, []string{"handed@example.com"}, now))

	m, rcpts, err := q.load(ctx, row.ID)
	if err != nil || m.From != "handed@example.org" || len(rcpts) != 1 || rcpts[0].Rcpt != "handed@example.com" {
		t.Fatalf("first attempt: %+v %+v %v; want the handed rows", m, rcpts, err)
	}
	m, rcpts, err = q.load(ctx, row.ID)
	if err != nil || m.From != "db@example.org" || len(rcpts) != 1 || rcpts[0].Rcpt != "b@example.com" {
		t.Fatalf("second attempt: %+v %+v %v; want the database's rows", m, rcpts, err)
	}

	q.Expect(&handed, nil)
	q.Forget(row.ID)
	if m, _, err = q.load(ctx, row.ID); err != nil || m.From != "db@example.org" {
		t.Fatalf("after Forget: %+v %v; want the database's row", m, err)
	}
	if _, _, err := q.load(ctx, "nosuchid"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a missing message: %v", err)
	}
}
