// Package retention deletes what the appliance no longer needs to keep:
// finished messages (delivered, bounced, deleted, monitored) older than
// retention.messages, with their recipients, trail and findings, and their
// spool files. Quarantined messages are not its business: the quarantine's
// expiry deletes them (internal/quarantine), and retention purges them
// once they are old enough.
package retention

import (
	"context"
	"log/slog"
	"time"

	"mailinspector/internal/spool"
	"mailinspector/internal/store"
)

// Batch is how many messages one write transaction purges: small, so that
// the mail path's writes never wait long behind a purge.
const Batch = 500

// Purger purges on a schedule (retention.schedule).
type Purger struct {
	DB    *store.DB
	Spool *spool.Spool
	Keep  time.Duration // retention.messages
	// KeepAudit is retention.audit: audit entries older go (never less
	// than a year: the table refuses younger deletes).
	KeepAudit time.Duration
	Log       *slog.Logger
	// Ctx ends when the appliance stops: a purge in progress stops
	// between batches.
	Ctx context.Context
}

// Run purges every finished message received more than Keep ago, batch
// after batch, and returns how many it purged.
func (p *Purger) Run() int {
	ctx := p.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	before := time.Now().Add(-p.Keep)
	start, n := time.Now(), 0
	for ctx.Err() == nil {
		ids, err := p.DB.FinishedBefore(ctx, before, Batch)
		if err != nil {
			p.Log.Error("retention: list finished messages", "err", err)
			break
		}
		if len(ids) == 0 {
			break
		}
		err = p.DB.Write(ctx, func(tx *store.Tx) error {
			for _, id := range ids {
				if err := store.PurgeMessage(tx, id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			p.Log.Error("retention: purge", "err", err)
			break
		}
		for _, id := range ids {
			// Finished messages' files went when they finished; one that
			// a crash left is removed here (and by the sweep at start).
			p.Spool.Remove(id)
		}
		n += len(ids)
		if len(ids) < Batch {
			break
		}
	}
	if p.KeepAudit > 0 {
		p.purgeAudit(ctx)
	}
	p.purgeClicks(ctx, before)
	if n > 0 {
		// What went leaves the file too, a thousand pages a transaction.
		if pages, err := p.DB.Reclaim(ctx, 1000); err != nil {
			p.Log.Error("retention: give free pages back to the disk", "err", err)
		} else if pages > 0 {
			p.Log.Info("retention: database file shrunk", "pages", pages)
		}
	}
	if n > 0 {
		p.Log.Info("retention: purged finished messages", "messages", n, "older_than", p.Keep.String(), "took", time.Since(start).Round(time.Millisecond).String())
	}
	return n
}

// purgeAudit deletes audit entries older than KeepAudit, batch by batch.
func (p *Purger) purgeAudit(ctx context.Context) {
	before, total := time.Now().Add(-p.KeepAudit), int64(0)
	for ctx.Err() == nil {
		var n int64
		err := p.DB.Write(ctx, func(tx *store.Tx) (err error) {
			n, err = store.PurgeAudit(tx, before, Batch)
			return err
		})
		if err != nil {
			p.Log.Error("retention: purge the audit log", "err", err)
			return
		}
		total += n
		if n < Batch {
			break
		}
	}
	if total > 0 {
		p.Log.Info("retention: purged audit entries", "entries", total, "older_than", p.KeepAudit.String())
	}
}

// purgeClicks deletes the wrapped links past their lifetime (a click on
// one then finds an unknown link) and the clicks as old as the messages
// retention purges, in batches.
func (p *Purger) purgeClicks(ctx context.Context, before time.Time) {
	var total int64
	for _, purge := range []func(*store.Tx) (int64, error){
		func(tx *store.Tx) (int64, error) { return store.PurgeClickLinks(tx, time.Now(), Batch) },
		func(tx *store.Tx) (int64, error) { return store.PurgeClicks(tx, before, Batch) },
	} {
		for ctx.Err() == nil {
			var n int64
			err := p.DB.Write(ctx, func(tx *store.Tx) (err error) {
				n, err = purge(tx)
				return err
			})
			if err != nil {
				p.Log.Error("retention: purge time-of-click links and clicks", "err", err)
				return
			}
			total += n
			if n < Batch {
				break
			}
		}
	}
	if total > 0 {
		p.Log.Info("retention: purged expired wrapped links and old clicks", "rows", total)
	}
}
