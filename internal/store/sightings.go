package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Sightings is what this appliance has seen of an object (a finding's
// SHA-256, URL, domain or IP): the messages whose findings name it, when,
// and the findings' names.
type Sightings struct {
	Messages    int
	First, Last time.Time
	Names       []string // "engine: name (risk)", the most frequent first
	Newest      []string // the newest messages' ids
}

// ObjectSightings counts the findings about object.
func (db *DB) ObjectSightings(ctx context.Context, object string) (Sightings, error) {
	var s Sightings
	var first, last sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(DISTINCT f.message_id), MIN(m.received), MAX(m.received)
		FROM findings f JOIN messages m ON m.id = f.message_id WHERE f.object = ? AND f.object != ''`, object).Scan(&s.Messages, &first, &last)
	if err != nil || s.Messages == 0 {
		return s, err
	}
	s.First, s.Last = fromNS(first.Int64), fromNS(last.Int64)
	rows, err := db.r.QueryContext(ctx, `SELECT engine || ': ' || CASE WHEN name != '' THEN name ELSE threat END || ' (' || risk || ')', COUNT(*)
		FROM findings WHERE object = ? AND object != '' GROUP BY 1 ORDER BY 2 DESC LIMIT 10`, object)
	if err != nil {
		return s, err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			return s, err
		}
		s.Names = append(s.Names, fmt.Sprintf("%s × %d", name, n))
	}
	if err := rows.Err(); err != nil {
		return s, err
	}
	ids, err := db.r.QueryContext(ctx, `SELECT DISTINCT f.message_id, m.received FROM findings f JOIN messages m ON m.id = f.message_id
		WHERE f.object = ? AND f.object != '' ORDER BY m.received DESC LIMIT 10`, object)
	if err != nil {
		return s, err
	}
	defer ids.Close()
	for ids.Next() {
		var id string
		var at int64
		if err := ids.Scan(&id, &at); err != nil {
			return s, err
		}
		s.Newest = append(s.Newest, id)
	}
	return s, ids.Err()
}
