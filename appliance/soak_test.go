package appliance

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
)

// fileSize is a file's size, 0 when it is missing.
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// TestRetentionSoakTwoYears: two years of synthetic history (by default
// 40,000 finished messages, each with two recipients, ten trail entries
// and two findings; a few spool files a crash left behind), then the
// purge of everything past retention.messages (90 days) while clients
// keep sending. Every message sent during the purge is accepted and
// delivered, the old history is gone, the recent history stays, and the
// database file and the spool shrink. MAILINSPECTOR_SOAK_MESSAGES sets the
// size (docs/performance.md reports a run of 200,000).
func TestRetentionSoakTwoYears(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: generates two years of history")
	}
	total := 40000
	if n, err := strconv.Atoi(os.Getenv("MAILINSPECTOR_SOAK_MESSAGES")); err == nil && n > 0 {
		total = n
	}
	sink := testutil.NewSink(t)
	dir := t.TempDir()
	a := startApp(t, dir, map[string]string{"delivery.relay": sink.Addr, "policy.unrated": "deliver",
		"retention.messages": "2160h", "retention.schedule": "@yearly"})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(19, 2026))
	now := time.Now()
	keep := now.Add(-2160 * time.Hour)
	states := []string{store.StateDelivered, store.StateDelivered, store.StateDelivered, store.StateBounced, store.StateDeleted, store.StateMonitored}
	detail := strings.Repeat("the downstream said 250 2.0.0 Ok: queued as ABCDEF; ", 2)
	recent, orphans := 0, 0
	var orphanIDs []string
	genStart := time.Now()
	for done := 0; done < total; {
		n := min(1000, total-done)
		must(t, a.db.Write(ctx, func(tx *store.Tx) error {
			for i := 0; i < n; i++ {
				at := now.Add(-time.Duration(rng.Int64N(int64(730 * 24 * time.Hour))))
				id := store.NewID(at)
				if at.After(keep) {
					recent++
				}
				m := &store.Message{ID: id, Received: at, From: fmt.Sprintf("sender%d@example.org", rng.IntN(5000)),
					To: []string{"alice@example.com", "bob@example.com"}, ClientIP: "192.0.2.7", Subject: "history " + id,
					Size: 20000 + rng.Int64N(80000), State: states[rng.IntN(len(states))], Risk: "none", Action: "deliver"}
				if err := store.InsertMessage(tx, m); err != nil {
					return err
				}
				for _, r := range m.To {
					if _, err := tx.Exec(`INSERT INTO recipients (message_id, rcpt, status, attempts, updated) VALUES (?, ?, 'delivered', 1, ?)`,
						id, r, at.UnixNano()); err != nil {
						return err
					}
				}
				for s := 1; s <= 10; s++ {
					if _, err := tx.Exec(`INSERT INTO trail (message_id, seq, at, stage, outcome, detail) VALUES (?, ?, ?, 'delivery', 'ok', ?)`,
						id, s, at.UnixNano(), detail); err != nil {
						return err
					}
				}
				for s := 1; s <= 2; s++ {
					if _, err := tx.Exec(`INSERT INTO findings (message_id, seq, stage, engine, threat, risk, name) VALUES (?, ?, 'pattern', 'clamd', '', 'none', 'clean')`,
						id, s); err != nil {
						return err
					}
				}
				if rng.IntN(50) == 0 { // a file a crash left behind
					orphanIDs = append(orphanIDs, id)
				}
			}
			return nil
		}))
		done += n
	}
	for _, id := range orphanIDs {
		must(t, a.spool.Put(id, bytes.NewReader(bytes.Repeat([]byte("x"), 20000))))
		orphans++
	}
	dbPath := filepath.Join(dir, "mailinspector.db")
	dbBefore, walBefore, spoolBefore := fileSize(dbPath), fileSize(dbPath+"-wal"), a.spool.Bytes()
	t.Logf("generated %d messages over two years (%d within 90 days) and %d orphan spool files in %s: database %d MiB (WAL %d MiB), spool %d KiB",
		total, recent, orphans, time.Since(genStart).Round(time.Millisecond), dbBefore>>20, walBefore>>20, spoolBefore>>10)

	// Clients keep sending while the purge runs.
	var sent, failed atomic.Int64
	var worst atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < 2; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				began := time.Now()
				if err := sendMail(a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, testMessage(fmt.Sprintf("during-%d-%d", c, i), "")); err != nil {
					failed.Add(1)
					t.Errorf("a message sent during the purge: %v", err)
				} else {
					sent.Add(1)
				}
				if d := int64(time.Since(began)); d > worst.Load() {
					worst.Store(d)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond) // the clients are sending
	purgeStart := time.Now()
	purged := a.retention.Run()
	took := time.Since(purgeStart)
	close(stop)
	wg.Wait()

	if purged != total-recent {
		t.Errorf("purged %d, want the %d older than 90 days", purged, total-recent)
	}
	left, err := a.db.FinishedBefore(ctx, keep, 10)
	must(t, err)
	if len(left) != 0 {
		t.Errorf("finished messages older than 90 days left: %v", left)
	}
	counts, err := a.db.CountByState(ctx)
	must(t, err)
	kept := 0
	for _, n := range counts {
		kept += n
	}
	if kept != recent+int(sent.Load()) {
		t.Errorf("%d messages kept, want %d recent and %d sent during the purge", kept, recent, sent.Load())
	}
	for _, id := range orphanIDs {
		if _, err := a.db.GetMessage(ctx, id); err == nil {
			continue // a recent one: its file may stay until the sweep
		}
		if _, err := a.spool.Open(id); err == nil {
			t.Errorf("the spool file of purged message %s is still there", id)
		}
	}
	sink.WaitFor(t, int(sent.Load()), 60*time.Second)
	// Let the WAL be checkpointed into the (now smaller) file.
	time.Sleep(2 * time.Second)
	dbAfter, walAfter, spoolAfter := fileSize(dbPath), fileSize(dbPath+"-wal"), a.spool.Bytes()
	if dbAfter >= dbBefore/2 || spoolAfter >= spoolBefore {
		t.Errorf("after the purge: database %d -> %d bytes, spool %d -> %d bytes: not smaller", dbBefore, dbAfter, spoolBefore, spoolAfter)
	}
	if sent.Load() == 0 || failed.Load() != 0 {
		t.Errorf("during the purge %d messages were accepted and %d refused", sent.Load(), failed.Load())
	}
	t.Logf("purged %d messages in %s (%.0f a second); %d messages accepted during it (slowest transaction %s), all delivered; "+
		"database %d -> %d MiB (WAL %d -> %d MiB), spool %d -> %d KiB",
		purged, took.Round(time.Millisecond), float64(purged)/took.Seconds(), sent.Load(), time.Duration(worst.Load()).Round(time.Millisecond),
		dbBefore>>20, dbAfter>>20, walBefore>>20, walAfter>>20, spoolBefore>>10, spoolAfter>>10)
}
