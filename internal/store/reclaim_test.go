package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReclaimShrinksTheFile: what a purge deleted goes back to the disk by
// Reclaim (the database is made with auto_vacuum=incremental), once the
// WAL is checkpointed into the file.
func TestReclaimShrinksTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	old := time.Now().Add(-time.Hour)
	subject := strings.Repeat("s", 2000)
	var ids []string
	for b := 0; b < 10; b++ {
		err := db.Write(ctx, func(tx *Tx) error {
			for i := 0; i < 500; i++ {
				id := NewID(old)
				ids = append(ids, id)
				if err := InsertMessage(tx, &Message{ID: id, Received: old, From: "a@example.org", To: []string{"b@example.com"},
					Subject: subject, State: StateDelivered}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	size := func() int64 {
		db.Close()
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if db, err = Open(path); err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	full := size()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < len(ids); i += 500 {
		must(db.Write(ctx, func(tx *Tx) error {
			for _, id := range ids[i : i+500] {
				if err := PurgeMessage(tx, id); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	if kept := size(); kept < full*9/10 {
		t.Fatalf("the file shrank from %d to %d bytes before Reclaim: the test shows nothing", full, kept)
	}
	freed, err := db.Reclaim(ctx, 200)
	must(err)
	small := size()
	defer db.Close()
	if freed == 0 || small > full/4 {
		t.Fatalf("Reclaim freed %d pages; the file went from %d to %d bytes", freed, full, small)
	}
	t.Logf("5000 messages of 2 kB: %d bytes; purged: the same; reclaimed (%d pages): %d bytes", full, freed, small)
}
