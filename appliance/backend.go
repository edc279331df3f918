package appliance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"mailinspector/internal/cli"
	"mailinspector/internal/store"
)

// The appliance is the backend of the command layer (cli.Backend).

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func summary(m *store.Message) cli.MessageSummary {
	to := m.To
	if to == nil {
		to = []string{}
	}
	return cli.MessageSummary{ID: m.ID, Received: timeText(m.Received), From: m.From, To: to, Subject: m.Subject,
		State: m.State, Risk: m.Risk, Action: m.Action, Reason: m.Reason}
}

func (a *Appliance) Version() cli.Version {
	return cli.Version{Version: Version, Go: goVersion(), Mode: a.Settings.Mode, Started: timeText(a.started)}
}

func (a *Appliance) Messages(ctx context.Context, limit int) ([]cli.MessageSummary, error) {
	return a.list(ctx, limit)
}

func (a *Appliance) list(ctx context.Context, limit int, states ...string) ([]cli.MessageSummary, error) {
	ms, err := a.db.ListMessages(ctx, limit, states...)
	if err != nil {
		return nil, err
	}
	out := make([]cli.MessageSummary, 0, len(ms))
	for _, m := range ms {
		out = append(out, summary(m))
	}
	return out, nil
}

func (a *Appliance) Message(ctx context.Context, id string) (*cli.MessageDetail, error) {
	m, err := a.db.GetMessage(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", id, err)
	}
	d := &cli.MessageDetail{MessageSummary: summary(m), ClientIP: m.ClientIP, Helo: m.Helo, TLS: m.TLS, Size: m.Size,
		HeaderFrom: m.HeaderFrom, MessageID: m.MessageID, Trail: []cli.TrailEntry{}, Findings: []cli.Finding{}, Recipients: []cli.RecipientStatus{}}
	trail, err := a.db.Trail(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, t := range trail {
		d.Trail = append(d.Trail, cli.TrailEntry{At: timeText(t.At), Stage: t.Stage, Service: t.Service, Outcome: t.Outcome, Detail: t.Detail,
			MS: t.Elapsed.Milliseconds()})
	}
	fs, err := a.db.Findings(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		d.Findings = append(d.Findings, cli.Finding(f))
	}
	rs, err := a.db.Recipients(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		d.Recipients = append(d.Recipients, cli.RecipientStatus{Rcpt: r.Rcpt, Status: r.Status, Attempts: r.Attempts,
			NextAttempt: timeText(r.NextAttempt), LastError: r.LastError})
	}
	return d, nil
}

func (a *Appliance) Queue(ctx context.Context) ([]cli.QueueEntry, error) {
	rs, err := a.db.QueuedRecipients(ctx, 10000)
	if err != nil {
		return nil, err
	}
	out := make([]cli.QueueEntry, 0, len(rs))
	senders := map[string]string{} // one read per message, not per recipient
	for _, r := range rs {
		from, ok := senders[r.MessageID]
		if !ok {
			if m, err := a.db.GetMessage(ctx, r.MessageID); err == nil {
				from = m.From
			}
			senders[r.MessageID] = from
		}
		out = append(out, cli.QueueEntry{ID: r.MessageID, From: from, Rcpt: r.Rcpt, Status: r.Status, Attempts: r.Attempts,
			NextAttempt: timeText(r.NextAttempt), LastError: r.LastError})
	}
	return out, nil
}

func (a *Appliance) Quarantine(ctx context.Context) ([]cli.MessageSummary, error) {
	return a.list(ctx, 10000, store.StateQuarantined)
}

// Release delivers a quarantined original to all its recipients or to the
// ones named (which must be among them).
func (a *Appliance) Release(ctx context.Context, id string, rcpts []string) error {
	if a.Settings.Mode == "bcc" {
		return errors.New("bcc mode keeps no copies to release")
	}
	m, err := a.db.GetMessage(ctx, id)
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
	err = a.db.Write(ctx, func(tx *store.Tx) error {
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
	a.queue.Submit(id)
	return nil
}

// Delete removes a quarantined message: its row stays as a record, its
// bytes go.
func (a *Appliance) Delete(ctx context.Context, id string) error {
	return a.dropQuarantined(ctx, id, "deleted by the administrator")
}

func (a *Appliance) dropQuarantined(ctx context.Context, id, why string) error {
	err := a.db.Write(ctx, func(tx *store.Tx) error {
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
	return a.spool.Remove(id)
}

// Resume sends a quarantined message through analysis again (after new
// signatures or changed lists, say); the new verdict decides.
func (a *Appliance) Resume(ctx context.Context, id string) error {
	err := a.db.Write(ctx, func(tx *store.Tx) error {
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
	a.runner.Submit(id)
	return nil
}

// expireQuarantine deletes quarantined messages past quarantine.expire_after
// (run by the schedule).
func (a *Appliance) expireQuarantine() {
	ctx := context.Background()
	before := time.Now().Add(-a.Settings.Quarantine.ExpireAfter)
	for {
		ids, err := a.db.QuarantinedBefore(ctx, before, 500)
		if err != nil {
			a.Log.Error("quarantine expiry", "err", err)
			return
		}
		for _, id := range ids {
			if err := a.dropQuarantined(ctx, id, "expired after "+a.Settings.Quarantine.ExpireAfter.String()); err != nil {
				a.Log.Error("quarantine expiry", "id", id, "err", err)
				return
			}
			a.Log.Info("quarantine expired", "id", id)
		}
		if len(ids) < 500 {
			return
		}
	}
}
