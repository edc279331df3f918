package delivery

import (
	"context"
	"errors"
	"fmt"

	"mailinspector/internal/store"
)

// The administrator's queue operations (queue flush, queue retry, queue
// delete). An attempt in flight for the same message finishes and records
// what the downstream said: a recipient it delivered stays delivered.

// ErrNothingWaiting: the message has no recipient waiting for delivery.
var ErrNothingWaiting = errors.New("no recipient of this message is waiting for delivery")

// RetryNow makes every waiting recipient of message id (of every message
// with id "") due now and hands the work over; it returns how many.
func (q *Queue) RetryNow(ctx context.Context, id string) (int, error) {
	var n int64
	err := q.DB.Write(ctx, func(tx *store.Tx) (err error) {
		n, err = store.RetryNow(tx, id)
		if err == nil && id != "" {
			err = store.AddTrail(tx, id, store.TrailEntry{Stage: "delivery", Outcome: "ok", Detail: "retry now, asked by the administrator"})
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	if id != "" && n == 0 {
		return 0, fmt.Errorf("message %s: %w", id, ErrNothingWaiting)
	}
	if id != "" {
		q.Submit(id)
	} else {
		q.Kick()
	}
	return int(n), nil
}

// Reroute sends message id's waiting recipients to route (host:port)
// instead of the configured route, now and on every later attempt.
func (q *Queue) Reroute(ctx context.Context, id, route string) (int, error) {
	var n int64
	err := q.DB.Write(ctx, func(tx *store.Tx) (err error) {
		if n, err = store.RetryNow(tx, id); err != nil || n == 0 {
			return err
		}
		if err := store.SetRoute(tx, id, route); err != nil {
			return err
		}
		return store.AddTrail(tx, id, store.TrailEntry{Stage: "delivery", Outcome: "ok",
			Detail: "rerouted to " + route + " by the administrator"})
	})
	if err != nil {
		return 0, fmt.Errorf("message %s: %w", id, err)
	}
	if n == 0 {
		return 0, fmt.Errorf("message %s: %w", id, ErrNothingWaiting)
	}
	q.Submit(id)
	return int(n), nil
}

// Delete takes message id's waiting recipients out of the queue as
// bounced, with a DSN to the sender when dsn is set (queue.delete=bounce),
// and removes the message's file when nothing is left to deliver.
func (q *Queue) Delete(ctx context.Context, id string, dsn bool) (int, error) {
	meta, err := q.DB.GetMessage(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("message %s: %w", id, err)
	}
	rcpts, err := q.DB.Recipients(ctx, id)
	if err != nil {
		return 0, err
	}
	var gone []store.Recipient
	for i := range rcpts {
		r := &rcpts[i]
		if r.Status == store.RcptPending || r.Status == store.RcptDeferred {
			last := r.LastError
			r.Status, r.LastError = store.RcptBounced, "deleted from the queue by the administrator"
			if last != "" {
				r.LastError += " (last error: " + last + ")"
			}
			gone = append(gone, *r)
		}
	}
	if len(gone) == 0 {
		return 0, fmt.Errorf("message %s: %w", id, ErrNothingWaiting)
	}
	var note *store.Message
	if dsn && meta.Kind != store.KindDSN && meta.From != "" {
		if note, err = q.makeDSN(meta, gone); err != nil {
			return 0, fmt.Errorf("message %s: DSN: %w", id, err)
		}
	}
	state := messageState(rcpts)
	how := "dropped"
	if note != nil {
		how = "bounced to the sender"
	}
	err = q.DB.Write(ctx, func(tx *store.Tx) error {
		for _, r := range gone {
			if err := store.UpdateRecipient(tx, &r); err != nil {
				return err
			}
		}
		if err := store.SetState(tx, id, state); err != nil {
			return err
		}
		if err := store.AddTrail(tx, id, store.TrailEntry{Stage: "delivery", Outcome: "ok",
			Detail: fmt.Sprintf("%d recipients deleted from the queue by the administrator, %s", len(gone), how)}); err != nil {
			return err
		}
		if note != nil {
			if err := store.InsertMessage(tx, note); err != nil {
				return err
			}
			return store.QueueRecipients(tx, note.ID, note.To)
		}
		return nil
	})
	if err != nil {
		if note != nil {
			q.Spool.Remove(note.ID)
		}
		return 0, err
	}
	if state != store.StateDeferred {
		q.Spool.Remove(id)
	}
	if note != nil {
		q.Submit(note.ID)
	}
	return len(gone), nil
}
