// Package quarantine is what can be done to a held message: release it to
// all or some of its recipients, send it through analysis again, delete
// it, and expire what has been held too long. The command line (and the
// web console after it) calls these and nothing else.
//
// A message enters the quarantine with its verdict: the runner commits the
// state quarantined and the reason in the same transaction as the findings
// (store.Verdict), so that a crash never leaves a held message without the
// reason it is held.
package quarantine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"mailinspector/internal/spool"
	"mailinspector/internal/store"
)

// Quarantine acts on held messages.
type Quarantine struct {
	DB    *store.DB
	Spool *spool.Spool
	// NoCopies: the appliance keeps no message bytes (BCC mode), so there
	// is nothing to release.
	NoCopies bool
	// Deliver hands a released message to the delivery queue; Analyse
	// hands a resumed one to analysis.
	Deliver func(id string)
	Analyse func(id string)
	// ExpireAfter is how long a message stays held before Expire deletes
	// it (quarantine.expire_after).
	ExpireAfter time.Duration
	Log         *slog.Logger
	// Dropped, when set, is told of a message deleted or expired here.
	Dropped func(id, state, why string)
}

// Release delivers a quarantined original to all its recipients or to the
// ones named (which must be among them).
func (q *Quarantine) Release(ctx context.Context, id string, rcpts []string) error {
	if q.NoCopies {
		return errors.New("bcc mode keeps no copies to release")
	}
	m, err := q.DB.GetMessage(ctx, id)
	if err != nil {
		return fmt.Errorf("message %s: %w", id, err)
	}
	if m.State != store.StateQuarantined {
		return fmt.Errorf("message %s is %s, not quarantined", id, m.State)
	}
	to := m.To
	if len(rcpts) > 0 {
		to = nil
		for _, r := range rcpts {
			found := false
			for _, o := range m.To {
				if strings.EqualFold(r, o) {
					to, found = append(to, o), true
				}
			}
			if !found {
				return fmt.Errorf("%s is not a recipient of message %s", r, id)
			}
		}
	}
	err = q.DB.Write(ctx, func(tx *store.Tx) error {
		if err := store.ExpectState(tx, id, store.StateQuarantined); err != nil {
			return err
		}
		if err := store.QueueRecipients(tx, id, to); err != nil {
			return err
		}
		return store.AddTrail(tx, id, store.TrailEntry{Stage: "quarantine", Outcome: "ok",
			Detail: "released by the administrator to " + strings.Join(to, ", ")})
	})
	if err != nil {
		return err
	}
	q.Deliver(id)
	return nil
}

// Delete removes a quarantined message: its row stays as a record, its
// bytes go.
func (q *Quarantine) Delete(ctx context.Context, id string) error {
	return q.drop(ctx, id, "deleted by the administrator")
}

func (q *Quarantine) drop(ctx context.Context, id, why string) error {
	err := q.DB.Write(ctx, func(tx *store.Tx) error {
		if err := store.ExpectState(tx, id, store.StateQuarantined); err != nil {
			return err
		}
		if err := store.SetState(tx, id, store.StateDeleted); err != nil {
			return err
		}
		return store.AddTrail(tx, id, store.TrailEntry{Stage: "quarantine", Outcome: "ok", Detail: why})
	})
	if err != nil {
		return fmt.Errorf("message %s: %w", id, err)
	}
	if q.Dropped != nil {
		q.Dropped(id, store.StateDeleted, why)
	}
	return q.Spool.Remove(id)
}

// Resume sends a quarantined message through analysis again (after new
// signatures or changed lists, say); the new verdict decides.
func (q *Quarantine) Resume(ctx context.Context, id string) error {
	err := q.DB.Write(ctx, func(tx *store.Tx) error {
		if err := store.ExpectState(tx, id, store.StateQuarantined); err != nil {
			return err
		}
		if err := store.SetState(tx, id, store.StateReceived); err != nil {
			return err
		}
		return store.AddTrail(tx, id, store.TrailEntry{Stage: "quarantine", Outcome: "ok", Detail: "resumed by the administrator: analysed again"})
	})
	if err != nil {
		return fmt.Errorf("message %s: %w", id, err)
	}
	q.Analyse(id)
	return nil
}

// Expire deletes quarantined messages held longer than ExpireAfter (run by
// the schedule quarantine.expire_schedule).
func (q *Quarantine) Expire() {
	ctx := context.Background()
	before := time.Now().Add(-q.ExpireAfter)
	for {
		ids, err := q.DB.QuarantinedBefore(ctx, before, 500)
		if err != nil {
			q.Log.Error("quarantine expiry", "err", err)
			return
		}
		for _, id := range ids {
			if err := q.drop(ctx, id, "expired after "+q.ExpireAfter.String()); err != nil {
				q.Log.Error("quarantine expiry", "id", id, "err", err)
				return
			}
			q.Log.Info("quarantine expired", "id", id)
		}
		if len(ids) < 500 {
			return
		}
	}
}
