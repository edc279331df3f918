package dispatch

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// An id that a scan finds due while it is still being worked on (its
// retry came due before the attempt that set it had ended) runs again
// once that attempt ends, not at the next unrelated scan a minute later.
func TestDueWhileBusyRunsAgain(t *testing.T) {
	var mu sync.Mutex
	due := false
	release := make(chan struct{})
	scanned := make(chan struct{}, 8) // a scan returned "a"
	runs := make(chan int, 4)
	n := 0
	d := &Dispatcher{Name: "test", Workers: 2, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Scan: func(ctx context.Context, now time.Time, limit int) ([]string, time.Time, error) {
			mu.Lock()
			defer mu.Unlock()
			if due {
				scanned <- struct{}{}
				return []string{"a"}, time.Time{}, nil
			}
			return nil, time.Time{}, nil
		},
		Work: func(ctx context.Context, id string) {
			mu.Lock()
			n++
			k := n
			due = false
			mu.Unlock()
			runs <- k
			if k == 1 {
				<-release
			}
		}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx)
	d.Submit("a")
	if k := <-runs; k != 1 {
		t.Fatalf("run %d", k)
	}
	// While run 1 is busy, a scan finds "a" due (and nothing else later).
	mu.Lock()
	due = true
	mu.Unlock()
	d.Kick()
	<-scanned // and found it busy: run 1 has not been released
	close(release)
	select {
	case k := <-runs:
		if k != 2 {
			t.Fatalf("run %d", k)
		}
	case <-time.After(10 * time.Second): // the scan after an idle one is a minute away
		t.Fatal("the id found due while busy did not run again")
	}
}
