package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// UpdateKind is the state of one kind of update bundle.
type UpdateKind struct {
	Kind      string
	Channel   string
	HighWater uint64 // the highest version verified: anything lower or equal is refused
	Live      uint64 // 0: none
	KeyID     string // the key that signed the live version
	Since     time.Time
}

// UpdateEvent is one line of the update history.
type UpdateEvent struct {
	Seq     int64
	At      time.Time
	Kind    string
	Version uint64
	Source  string
	Outcome string
	Detail  string
}

// UpdateKindOf reads one kind's state; ok false when the kind was never
// installed.
func (db *DB) UpdateKindOf(ctx context.Context, kind string) (k UpdateKind, ok bool, err error) {
	var since int64
	err = db.r.QueryRowContext(ctx, `SELECT kind, channel, highwater, live, key_id, since FROM update_kinds WHERE kind = ?`, kind).
		Scan(&k.Kind, &k.Channel, &k.HighWater, &k.Live, &k.KeyID, &since)
	if errors.Is(err, sql.ErrNoRows) {
		return UpdateKind{}, false, nil
	}
	k.Since = fromNS(since)
	return k, err == nil, err
}

// UpdateKinds reads every kind's state, by name.
func (db *DB) UpdateKinds(ctx context.Context) ([]UpdateKind, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT kind, channel, highwater, live, key_id, since FROM update_kinds ORDER BY kind`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UpdateKind
	for rows.Next() {
		var k UpdateKind
		var since int64
		if err := rows.Scan(&k.Kind, &k.Channel, &k.HighWater, &k.Live, &k.KeyID, &since); err != nil {
			return nil, err
		}
		k.Since = fromNS(since)
		out = append(out, k)
	}
	return out, rows.Err()
}

// RaiseHighWater records that version of kind verified; the mark only
// grows.
func RaiseHighWater(tx *Tx, kind, channel string, version uint64) error {
	_, err := tx.Exec(`INSERT INTO update_kinds (kind, channel, highwater, live, since) VALUES (?, ?, ?, 0, 0)
		ON CONFLICT (kind) DO UPDATE SET highwater = MAX(highwater, excluded.highwater), channel = excluded.channel`,
		kind, channel, version)
	return err
}

// SetLive records the version of kind live now (RaiseHighWater came first).
func SetLive(tx *Tx, kind string, version uint64, keyID string, at time.Time) error {
	_, err := tx.Exec(`UPDATE update_kinds SET live = ?, key_id = ?, since = ? WHERE kind = ?`, version, keyID, ns(at), kind)
	return err
}

// AddUpdateEvent appends to the update history.
func AddUpdateEvent(tx *Tx, e UpdateEvent) error {
	_, err := tx.Exec(`INSERT INTO update_history (at, kind, version, source, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)`,
		ns(e.At), e.Kind, e.Version, e.Source, e.Outcome, e.Detail)
	return err
}

// UpdateHistory reads the newest n events, newest first.
func (db *DB) UpdateHistory(ctx context.Context, n int) ([]UpdateEvent, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT seq, at, kind, version, source, outcome, detail FROM update_history ORDER BY seq DESC LIMIT ?`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UpdateEvent
	for rows.Next() {
		var e UpdateEvent
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.Kind, &e.Version, &e.Source, &e.Outcome, &e.Detail); err != nil {
			return nil, err
		}
		e.At = fromNS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// TrimUpdateHistory keeps the newest keep events.
func TrimUpdateHistory(tx *Tx, keep int) error {
	_, err := tx.Exec(`DELETE FROM update_history WHERE seq <= (SELECT MAX(seq) FROM update_history) - ?`, keep)
	return err
}
