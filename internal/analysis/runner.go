package analysis

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/mail"
	"sync"
	"sync/atomic"
	"time"

	"mailinspector/internal/spool"
	"mailinspector/internal/store"
)

// Finding is a store finding; stages fill it in.
type Finding = store.Finding

// Decision is what policy makes of a report.
type Decision struct {
	State  string // store.StateQueued, StateQuarantined, StateDeleted, StateMonitored
	Action string
	Reason string
}

// Runner is the bounded worker pool that takes received messages from the
// database, runs the pipeline and records the verdict. It never runs inside
// an SMTP session. Work comes from the database, so a restart resumes every
// message that had not been decided.
type Runner struct {
	DB       *store.DB
	Spool    *spool.Spool
	Pipeline *Pipeline
	Decide   func(*store.Message, Report) Decision
	Workers  int
	Log      *slog.Logger
	Queued   func() // wakes delivery

	kick      chan struct{}
	mu        sync.Mutex
	inflight  map[string]bool
	Processed atomic.Int64 // messages decided; the watchdog checks it moves
	Busy      atomic.Int64
}

// Kick tells the runner that work may be waiting.
func (r *Runner) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Init must be called before Kick or Run.
func (r *Runner) Init() {
	r.kick = make(chan struct{}, 1)
	r.inflight = map[string]bool{}
}

// Run schedules work until ctx ends, then waits for messages in progress.
func (r *Runner) Run(ctx context.Context) {
	work := make(chan string)
	var wg sync.WaitGroup
	for i := 0; i < r.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				r.Busy.Add(1)
				r.process(ctx, id)
				r.Busy.Add(-1)
				r.mu.Lock()
				delete(r.inflight, id)
				r.mu.Unlock()
			}
		}()
	}
	defer func() {
		close(work)
		wg.Wait()
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := time.Now()
		ids, err := r.DB.ToAnalyse(ctx, now, 4*r.Workers)
		if err != nil && ctx.Err() == nil {
			r.Log.Error("analysis: list due messages", "err", err)
		}
		for _, id := range ids {
			r.mu.Lock()
			busy := r.inflight[id]
			if !busy {
				r.inflight[id] = true
			}
			r.mu.Unlock()
			if busy {
				continue
			}
			select {
			case work <- id:
			case <-ctx.Done():
				return
			}
		}
		// Wait for a kick, for the next held message, or (when the batch
		// was full) go round at once.
		wait := time.Minute
		if len(ids) == 4*r.Workers {
			wait = 50 * time.Millisecond
		} else if next, err := r.DB.NextAnalysis(ctx, now); err == nil && !next.IsZero() {
			wait = min(wait, max(time.Until(next), time.Millisecond))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		case <-timer.C:
		}
	}
}

func (r *Runner) process(ctx context.Context, id string) {
	log := r.Log.With("id", id)
	meta, err := r.DB.GetMessage(ctx, id)
	if err != nil {
		log.Error("analysis: read message", "err", err)
		return
	}
	if meta.State != store.StateReceived && meta.State != store.StateAnalysing {
		return
	}
	m := &Message{Meta: meta, Open: func() (io.ReadCloser, error) { return r.Spool.Open(id) }}
	if f, err := r.Spool.Open(id); err != nil {
		log.Error("analysis: spool file missing", "err", err)
	} else {
		if msg, err := mail.ReadMessage(bufio.NewReaderSize(f, 16*1024)); err == nil {
			m.Header = msg.Header
		}
		f.Close()
	}
	rep := r.Pipeline.Run(ctx, m)
	if ctx.Err() != nil {
		return // shutting down: the message stays received and is analysed after restart
	}
	v := &store.Verdict{Risk: rep.Risk, Trail: rep.Trail, Findings: rep.Findings}
	if m.Header != nil {
		dec := new(mime.WordDecoder)
		v.Subject = decodeHeader(dec, m.Header.Get("Subject"))
		v.HeaderFrom = decodeHeader(dec, m.Header.Get("From"))
		v.MessageID = m.Header.Get("Message-Id")
	}
	var dec Decision
	if rep.Hold > 0 {
		v.State, v.AnalyseAfter = store.StateAnalysing, time.Now().Add(rep.Hold)
	} else {
		dec = r.Decide(meta, rep)
		v.State, v.Action, v.Reason = dec.State, dec.Action, dec.Reason
	}
	// A verdict may be lost in a power failure (the message is analysed
	// again), unless the spool file goes away after it.
	write := r.DB.WriteLazy
	if v.State == store.StateMonitored || v.State == store.StateDeleted {
		write = r.DB.Write
	}
	err = write(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		if err := store.SaveVerdict(tx, id, v); err != nil {
			return err
		}
		if v.State == store.StateQueued {
			return store.QueueRecipients(tx, id, meta.To)
		}
		return nil
	})
	if err != nil {
		log.Error("analysis: save verdict", "err", err)
		return
	}
	r.Processed.Add(1)
	log.Info("analysed", "risk", rep.Risk, "state", v.State, "action", v.Action, "findings", len(rep.Findings))
	switch v.State {
	case store.StateQueued:
		if r.Queued != nil {
			r.Queued()
		}
	case store.StateMonitored, store.StateDeleted:
		if err := r.Spool.Remove(id); err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("analysis: remove spool file", "err", err)
		}
	}
}

// decodeHeader decodes RFC 2047 encoded words for display; undecodable text
// is kept as it came.
func decodeHeader(dec *mime.WordDecoder, v string) string {
	if d, err := dec.DecodeHeader(v); err == nil {
		return d
	}
	return v
}
