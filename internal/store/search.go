package store

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// MessageFilter is a message search (message tracking): every field set
// must match. From, To and Subject match a substring, case-insensitively;
// the others match exactly.
type MessageFilter struct {
	From, To, Subject string
	Risk, Threat      string
	State, Action     string
	MessageID         string // the Message-ID header field
	ClientIP          string
	Policy            string // the policy that decided (its name, before the rule's)
	Since, Until      time.Time
	Limit             int // at most this many, newest first (0: 100)
	Page              int // from 1: skip (Page-1)*Limit
}

// likeEscape makes s match itself inside a LIKE pattern (ESCAPE '\').
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// commonRows is where a filter's value stops being rare: past it, walking
// the messages newest first finds a page sooner than sorting every match.
const commonRows = 5000

// common says whether query (rows of one value, through its index) has
// commonRows rows or more; it stops counting there.
func (db *DB) common(ctx context.Context, query string, arg any) bool {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+query+` LIMIT `+strconv.Itoa(commonRows)+`)`, arg).Scan(&n)
	return err == nil && n >= commonRows
}

// SearchMessages lists the messages that match f, newest first.
func (db *DB) SearchMessages(ctx context.Context, f MessageFilter) ([]*Message, error) {
	var where []string
	var args []any
	like := func(col, v string) {
		if v != "" {
			where = append(where, col+` LIKE ? ESCAPE '\'`)
			args = append(args, "%"+likeEscape(strings.ToLower(v))+"%")
		}
	}
	exact := func(col, v string) {
		if v != "" {
			where = append(where, col+` = ?`)
			args = append(args, v)
		}
	}
	// LIKE is case-insensitive for ASCII in SQLite; lower() makes it so
	// for the pattern as well.
	like("mail_from", f.From)
	like("rcpt_to", f.To)
	like("subject", f.Subject)
	exact("risk", f.Risk)
	if f.State != "" {
		// A common state (delivered, and quarantined in a year of mail)
		// is found fastest by walking the time index newest first; a rare
		// one by its index, then sorted (docs/performance.md).
		if db.common(ctx, `SELECT 1 FROM messages WHERE state = ?`, f.State) {
			where = append(where, `+state = ?`)
		} else {
			where = append(where, `state = ?`)
		}
		args = append(args, f.State)
	}
	exact("action", f.Action)
	exact("message_id", f.MessageID)
	exact("client_ip", f.ClientIP)
	if f.Threat != "" {
		// Likewise: a common threat by the newest messages, each asked for
		// it; a rare one by the findings' threat index.
		if db.common(ctx, `SELECT 1 FROM findings WHERE threat = ?`, f.Threat) {
			where = append(where, `EXISTS (SELECT 1 FROM findings f WHERE f.message_id = messages.id AND f.threat = ?)`)
		} else {
			where = append(where, `id IN (SELECT message_id FROM findings WHERE threat = ?)`)
		}
		args = append(args, f.Threat)
	}
	if f.Policy != "" {
		// The runner's policy entry is "POLICY: RULE -> ACTIONS" or
		// "POLICY -> ACTIONS".
		where = append(where, `id IN (SELECT message_id FROM trail WHERE stage = 'policy' AND (detail LIKE ? ESCAPE '\' OR detail LIKE ? ESCAPE '\'))`)
		args = append(args, likeEscape(f.Policy)+": %", likeEscape(f.Policy)+" -> %")
	}
	if !f.Since.IsZero() {
		where = append(where, `received >= ?`)
		args = append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		where = append(where, `received < ?`)
		args = append(args, f.Until.UnixNano())
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT ` + messageCols + ` FROM messages`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY received DESC, id DESC LIMIT ? OFFSET ?`
	args = append(args, limit, max(f.Page-1, 0)*limit)
	return db.queryMessages(ctx, q, args...)
}
