// Package dispatch feeds work items (message ids) to a bounded pool of
// workers. Ids normally arrive from memory (Submit), which costs nothing
// per message; the database is scanned only for what memory does not hold:
// at start (a restart resumes everything), after the in-memory queue
// overflowed, and when a delayed item (a retry, a held message) is due.
package dispatch

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Dispatcher runs Work for ids, at most Workers at a time, never the same
// id twice at once.
type Dispatcher struct {
	Name    string
	Workers int
	// Scan returns due ids (at most limit) and when the next not-yet-due
	// item becomes due (zero: none).
	Scan func(ctx context.Context, now time.Time, limit int) (ids []string, next time.Time, err error)
	Work func(ctx context.Context, id string)
	Log  *slog.Logger

	once     sync.Once
	pushed   chan string
	kick     chan struct{}
	mu       sync.Mutex
	inflight map[string]bool // id → asked for again while busy
}

func (d *Dispatcher) init() {
	d.once.Do(func() {
		d.pushed = make(chan string, 4096)
		d.kick = make(chan struct{}, 1)
		d.inflight = map[string]bool{}
	})
}

// Submit hands over an id that is due now. If the in-memory queue is full
// the id is left to the next database scan.
func (d *Dispatcher) Submit(id string) {
	d.init()
	select {
	case d.pushed <- id:
	default:
		d.Kick()
	}
}

// Busy is how many ids are being worked on or wait in memory (the
// watchdog's "is there work that should progress").
func (d *Dispatcher) Busy() int {
	d.init()
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.inflight) + len(d.pushed)
}

// Kick asks for a database scan.
func (d *Dispatcher) Kick() {
	d.init()
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run dispatches until ctx ends, then waits for the work in progress.
func (d *Dispatcher) Run(ctx context.Context) {
	d.init()
	work := make(chan string)
	var wg sync.WaitGroup
	for i := 0; i < d.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				d.Work(ctx, id)
				d.mu.Lock()
				again := d.inflight[id]
				delete(d.inflight, id)
				d.mu.Unlock()
				if again {
					// A scan found it due while it was busy (its retry
					// came due before this run ended): scan again now,
					// or it would wait for the next unrelated scan.
					d.Kick()
				}
			}
		}()
	}
	defer func() {
		close(work)
		wg.Wait()
	}()
	send := func(id string) bool {
		d.mu.Lock()
		_, busy := d.inflight[id]
		d.inflight[id] = busy
		d.mu.Unlock()
		if busy {
			return true
		}
		select {
		case work <- id:
			return true
		case <-ctx.Done():
			return false
		}
	}
	limit := 4 * d.Workers
	timer := time.NewTimer(0) // scan at start
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-d.pushed:
			if !send(id) {
				return
			}
			continue
		case <-d.kick:
		case <-timer.C:
		}
		now := time.Now()
		ids, next, err := d.Scan(ctx, now, limit)
		if err != nil && ctx.Err() == nil {
			d.Log.Error(d.Name+": scan", "err", err)
		}
		for _, id := range ids {
			if !send(id) {
				return
			}
		}
		wait := time.Minute
		switch {
		case err != nil:
			wait = time.Second
		case len(ids) == limit:
			wait = 10 * time.Millisecond // more may be due
		case !next.IsZero():
			wait = min(wait, max(time.Until(next), time.Millisecond))
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// Scanner makes a Scan from a query for due ids and one for when the next
// not-yet-due item becomes due.
func Scanner(due func(ctx context.Context, now time.Time, limit int) ([]string, error),
	next func(ctx context.Context, now time.Time) (time.Time, error)) func(context.Context, time.Time, int) ([]string, time.Time, error) {
	return func(ctx context.Context, now time.Time, limit int) ([]string, time.Time, error) {
		ids, err := due(ctx, now, limit)
		if err != nil {
			return nil, time.Time{}, err
		}
		n, err := next(ctx, now)
		return ids, n, err
	}
}
