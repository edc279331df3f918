package delivery

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"mailinspector/internal/dispatch"
	"mailinspector/internal/spool"
	"mailinspector/internal/store"
)

// Queue attempts deliveries of queued recipients. All its state is in the
// database, so a restart resumes every waiting message.
type Queue struct {
	DB        *store.DB
	Spool     *spool.Spool
	Transport Transport
	Workers   int
	Retry     []time.Duration // waits after the 1st, 2nd, … failure; the last repeats
	Lifetime  time.Duration   // after this long in the queue a failure bounces
	Hostname  string
	Log       *slog.Logger
	Timeout   time.Duration // bound on one delivery attempt
	// OnAttempt learns the outcome of each attempt: nil when the
	// downstream answered (delivered, or refused for good), the error when
	// it could not be used. For the status of the downstream.
	OnAttempt func(err error)
	// Finished, when set, is told when a message is delivered or bounced
	// for good (after the record is stored), with the last of its trace.
	Finished func(m *store.Message, state, detail string)

	d dispatch.Dispatcher
	// expected holds the rows of messages the analysis is about to
	// queue, as it writes them: the first attempt takes them from here
	// instead of reading them back (5-6% of the relay path's CPU).
	expected dispatch.Handover[handed]

	Delivered atomic.Int64
	Deferred  atomic.Int64
	Bounced   atomic.Int64
	Attempts  atomic.Int64
}

// Submit hands over a message whose recipients are due now.
func (q *Queue) Submit(id string) { q.d.Submit(id) }

type handed struct {
	meta  *store.Message
	rcpts []store.Recipient
}

// Expect is given a message's row and its recipients' rows before the
// commit that queues them (dispatch.Handover says why before); Submit
// follows the commit.
func (q *Queue) Expect(m *store.Message, rcpts []store.Recipient) {
	q.expected.Put(m.ID, handed{m, rcpts})
}

// Forget drops what Expect was given: the commit failed.
func (q *Queue) Forget(id string) { q.expected.Drop(id) }

// load is the message's row and its recipients' rows: those Expect was
// given, or the database's.
func (q *Queue) load(ctx context.Context, id string) (*store.Message, []store.Recipient, error) {
	if h, ok := q.expected.Take(id); ok {
		return h.meta, h.rcpts, nil
	}
	meta, err := q.DB.GetMessage(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("read message: %w", err)
	}
	rcpts, err := q.DB.Recipients(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("read recipients: %w", err)
	}
	return meta, rcpts, nil
}

// Kick makes the queue look in the database for what is due.
func (q *Queue) Kick() { q.d.Kick() }

// Run delivers until ctx ends, then waits for attempts in progress.
func (q *Queue) Run(ctx context.Context) {
	q.d.Name, q.d.Workers, q.d.Log, q.d.Work = "delivery", q.Workers, q.Log, q.attempt
	q.d.Scan = dispatch.Scanner(q.DB.DueMessages, q.DB.NextDelivery)
	q.d.Run(ctx)
	if c, ok := q.Transport.(interface{ Close() }); ok {
		c.Close()
	}
}

// nextWait is the wait after the n-th failed attempt (n ≥ 1), with up to
// 5% jitter so that retries of many messages spread out.
func (q *Queue) nextWait(n int) time.Duration {
	d := q.Retry[min(n-1, len(q.Retry)-1)]
	return d + time.Duration(rand.Int64N(int64(d)/20+1))
}

func (q *Queue) attempt(ctx context.Context, id string) {
	log := q.Log.With("id", id)
	meta, rcpts, err := q.load(ctx, id)
	if err != nil {
		log.Error("delivery: load", "err", err)
		return
	}
	now := time.Now()
	var due []int
	for i, r := range rcpts {
		if (r.Status == store.RcptPending || r.Status == store.RcptDeferred) && !r.NextAttempt.After(now) {
			due = append(due, i)
		}
	}
	if len(due) == 0 {
		return
	}
	var trace []string
	env := &Envelope{ID: id, From: meta.From, Size: meta.Size,
		Open: func() (io.ReadCloser, error) {
			f, err := q.Spool.Open(id)
			if err != nil || meta.Rewrite.Empty() {
				return f, err
			}
			return rewriteHeader(f, meta.Rewrite), nil
		},
		Trace: func(d string) { trace = append(trace, d) }, Route: meta.Route}
	for _, i := range due {
		env.To = append(env.To, rcpts[i].Rcpt)
	}
	env.UTF8 = !isASCII(env.From) || !isASCII(strings.Join(env.To, ""))
	actx, cancel := context.WithTimeout(ctx, q.Timeout)
	results := q.Transport.Deliver(actx, env)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: nothing recorded, the attempt is made again after restart
	}
	q.Attempts.Add(1)
	if q.OnAttempt != nil {
		var failed error
		for _, r := range results {
			if r.Err == nil || r.Permanent {
				failed = nil
				break
			}
			failed = r.Err
		}
		q.OnAttempt(failed)
	}

	var entries []store.TrailEntry
	var bounced []store.Recipient
	for j, i := range due {
		r := &rcpts[i]
		r.Attempts++
		res := results[j]
		switch {
		case res.Err == nil:
			r.Status, r.LastError = store.RcptDelivered, ""
			q.Delivered.Add(1)
			entries = append(entries, store.TrailEntry{Stage: "delivery", Service: "downstream", Outcome: "ok", Detail: "delivered to " + r.Rcpt + lastOf(trace)})
		case res.Permanent || now.Sub(meta.Received) >= q.Lifetime:
			r.Status, r.LastError = store.RcptBounced, res.Err.Error()
			if !res.Permanent {
				r.LastError = "queue lifetime exceeded (" + q.Lifetime.String() + "), last error: " + r.LastError
			}
			q.Bounced.Add(1)
			bounced = append(bounced, *r)
			entries = append(entries, store.TrailEntry{Stage: "delivery", Service: "downstream", Outcome: "error", Detail: "bounced " + r.Rcpt + ": " + r.LastError})
		default:
			r.Status, r.LastError = store.RcptDeferred, res.Err.Error()
			r.NextAttempt = now.Add(q.nextWait(r.Attempts))
			q.Deferred.Add(1)
			entries = append(entries, store.TrailEntry{Stage: "delivery", Service: "downstream", Outcome: "error",
				Detail: fmt.Sprintf("deferred %s until %s: %s", r.Rcpt, r.NextAttempt.UTC().Format(time.RFC3339), r.LastError)})
		}
	}
	state := messageState(rcpts)

	// A DSN for recipients that failed for good: its file goes to the spool
	// before its row is committed, in the same transaction as the bounce.
	var dsn *store.Message
	if len(bounced) > 0 && meta.Kind != store.KindDSN && meta.From != "" {
		dsn, err = q.makeDSN(meta, bounced)
		if err != nil {
			log.Error("delivery: make DSN", "err", err)
			dsn = nil
		}
	}
	// The record of an attempt may be lost in a power failure: the attempt
	// is made again (a delivery may repeat, none is lost). The spool file of
	// a finished message goes only once its record is durable.
	var removeFile func()
	if state == store.StateDelivered || state == store.StateBounced {
		removeFile = func() {
			if err := q.Spool.Remove(id); err != nil {
				log.Warn("delivery: remove spool file", "err", err)
			}
		}
	}
	err = q.DB.WriteLazy(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		for _, i := range due {
			if err := store.UpdateRecipient(tx, &rcpts[i]); err != nil {
				return err
			}
		}
		if err := store.SetState(tx, id, state); err != nil {
			return err
		}
		if err := store.AddTrail(tx, id, entries...); err != nil {
			return err
		}
		if dsn != nil {
			if err := store.InsertMessage(tx, dsn); err != nil {
				return err
			}
			return store.QueueRecipients(tx, dsn.ID, dsn.To)
		}
		return nil
	}, removeFile)
	if err != nil {
		log.Error("delivery: record attempt", "err", err)
		if dsn != nil {
			q.Spool.Remove(dsn.ID)
		}
		return
	}
	log.Info("delivery attempt", "state", state, "rcpts", len(due), "detail", strings.Join(trace, "; "))
	if q.Finished != nil && (state == store.StateDelivered || state == store.StateBounced) {
		q.Finished(meta, state, lastOf(trace))
	}
	if state == store.StateDeferred {
		q.Kick() // the dispatcher learns the retry time
	}
	if dsn != nil {
		q.Submit(dsn.ID)
	}
}

func lastOf(trace []string) string {
	if len(trace) == 0 {
		return ""
	}
	return " (" + trace[len(trace)-1] + ")"
}

// messageState sums up the recipients: waiting ones make it deferred;
// otherwise delivered if any recipient got it, else bounced.
func messageState(rcpts []store.Recipient) string {
	delivered, waiting := false, false
	for _, r := range rcpts {
		switch r.Status {
		case store.RcptDelivered:
			delivered = true
		case store.RcptPending, store.RcptDeferred:
			waiting = true
		}
	}
	switch {
	case waiting:
		return store.StateDeferred
	case delivered:
		return store.StateDelivered
	}
	return store.StateBounced
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Busy is how many deliveries are in progress or waiting in memory.
func (q *Queue) Busy() int { return q.d.Busy() }
