package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTrailOfAnyLengthInOrder: a trail of 0 to 40 entries, appended in two
// writes, reads back whole and in order, and the multi-row inserts behind
// it prepare at most five statements.
func TestTrailOfAnyLengthInOrder(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	for n := 0; n <= 40; n++ {
		id := NewID(time.Now())
		entries := make([]TrailEntry, n)
		for i := range entries {
			entries[i] = TrailEntry{Stage: fmt.Sprintf("s%d", i), Outcome: "ok", Detail: strings.Repeat("d", i)}
		}
		err := db.Write(ctx, func(tx *Tx) error {
			if err := InsertMessage(tx, &Message{ID: id, Received: time.Now(), From: "a@example.org", To: []string{"b@example.com"}, State: StateReceived}); err != nil {
				return err
			}
			if err := AddTrail(tx, id, entries[:n/2]...); err != nil {
				return err
			}
			return AddTrail(tx, id, entries[n/2:]...)
		})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := db.Trail(ctx, id)
		if err != nil || len(tr) != n {
			t.Fatalf("%d entries: read %d (%v)", n, len(tr), err)
		}
		for i, e := range tr {
			if e.Stage != fmt.Sprintf("s%d", i) || len(e.Detail) != i {
				t.Fatalf("%d entries: entry %d is %+v", n, i, e)
			}
		}
	}
	prepared := 0
	for q := range db.stmts {
		if strings.HasPrefix(q, "INSERT INTO trail ") {
			prepared++
		}
	}
	if prepared > 5 {
		t.Errorf("%d trail insert statements prepared, want at most 5", prepared)
	}
}

// testDB opens a database in a throw-away directory, closed when the test ends.
func testDB(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(filepath.Join(tb.TempDir(), "db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}
