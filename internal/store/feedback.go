package store

import (
	"context"
	"time"
)

// FeedbackRecord is one Smart Feedback record: an object a message carried
// and the risk the appliance gave the message.
type FeedbackRecord struct {
	Seq     int64
	Kind    string // file, domain, ip, url
	Object  string
	Verdict string
	At      time.Time
}

// MaxOutbox bounds the outbox: past it the oldest records are dropped
// (TrimFeedback, on every flush, sent or not), so that a hub gone for
// months cannot fill the disk.
const MaxOutbox = 1_000_000

// QueueFeedback adds records to the outbox, in the caller's transaction.
func QueueFeedback(tx *Tx, recs []FeedbackRecord) error {
	rows := make([][]any, len(recs))
	for i, r := range recs {
		rows[i] = []any{r.Kind, r.Object, r.Verdict, ns(r.At)}
	}
	return insertRows(tx, "feedback_outbox", []string{"kind", "object", "verdict", "at"}, rows)
}

// FeedbackBatch reads the oldest n records of the outbox.
func (db *DB) FeedbackBatch(ctx context.Context, n int) ([]FeedbackRecord, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT seq, kind, object, verdict, at FROM feedback_outbox ORDER BY seq LIMIT ?`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []FeedbackRecord
	for rows.Next() {
		var r FeedbackRecord
		var at int64
		if err := rows.Scan(&r.Seq, &r.Kind, &r.Object, &r.Verdict, &at); err != nil {
			return nil, err
		}
		r.At = fromNS(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// FeedbackSent deletes records up to and including seq.
func FeedbackSent(tx *Tx, seq int64) error {
	_, err := tx.Exec(`DELETE FROM feedback_outbox WHERE seq <= ?`, seq)
	return err
}

// TrimFeedback drops the oldest records past max (MaxOutbox in the
// appliance) and returns how many it dropped.
func TrimFeedback(tx *Tx, max int) (int64, error) {
	res, err := tx.Exec(`DELETE FROM feedback_outbox WHERE seq <= (SELECT MAX(seq) FROM feedback_outbox) - ?`, max)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// FeedbackQueued counts the records waiting.
func (db *DB) FeedbackQueued(ctx context.Context) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM feedback_outbox`).Scan(&n)
	return n, err
}
