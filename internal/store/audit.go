package store

import (
	"context"
	"strings"
	"time"
)

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	Seq           int64
	At            time.Time
	Who, Via      string
	Kind, Command string
	OK            bool
	Detail        string
	Before, After string
}

// AddAudit appends an entry; the table takes no updates.
func AddAudit(tx *Tx, e *AuditEntry) error {
	at := e.At
	if at.IsZero() {
		at = time.Now()
	}
	_, err := tx.Exec(`INSERT INTO audit (at, who, via, kind, command, ok, detail, before, after) VALUES (?,?,?,?,?,?,?,?,?)`,
		at.UnixNano(), e.Who, e.Via, e.Kind, e.Command, e.OK, e.Detail, e.Before, e.After)
	return err
}

// AuditFilter selects audit entries: every field set must match (Who and
// Kind exactly).
type AuditFilter struct {
	Who, Kind    string
	Since, Until time.Time
	Limit        int // newest first; 0: 100
}

// Audit lists entries newest first.
func (db *DB) Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	var where []string
	var args []any
	if f.Who != "" {
		where, args = append(where, `who = ?`), append(args, f.Who)
	}
	if f.Kind != "" {
		where, args = append(where, `kind = ?`), append(args, f.Kind)
	}
	if !f.Since.IsZero() {
		where, args = append(where, `at >= ?`), append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		where, args = append(where, `at < ?`), append(args, f.Until.UnixNano())
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT seq, at, who, via, kind, command, ok, detail, before, after FROM audit`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	rows, err := db.r.QueryContext(ctx, q+` ORDER BY seq DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.Who, &e.Via, &e.Kind, &e.Command, &e.OK, &e.Detail, &e.Before, &e.After); err != nil {
			return nil, err
		}
		e.At = fromNS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// PurgeAudit deletes up to limit audit entries older than t (the table
// refuses any younger than a year), and says how many went.
func PurgeAudit(tx *Tx, t time.Time, limit int) (int64, error) {
	res, err := tx.Exec(`DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE at < ? ORDER BY seq LIMIT ?)`, t.UnixNano(), limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
