package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// ClickLink is a link the time-of-click rewriter wrapped (migration 0013).
type ClickLink struct {
	Token, MessageID, Rcpt string
	URL, Raw               string
	Risk                   string // at delivery
	Created, Expires       time.Time
}

// Click is one click on a wrapped link.
type Click struct {
	Seq                    int64
	At                     time.Time
	Token, MessageID, Rcpt string
	URL                    string
	RiskThen, RiskNow      string
	Action, Evaluation     string
	ClientIP, UserAgent    string
	Scanner                string
}

// ErrNoLink: no wrapped link has that token (never made, or expired and
// purged).
var ErrNoLink = errors.New("no such link")

var clickLinkCols = []string{"token", "message_id", "rcpt", "url", "raw", "risk", "created", "expires"}

// InsertClickLinks stores wrapped links (with the verdict that wraps them).
func InsertClickLinks(tx *Tx, links []ClickLink) error {
	rows := make([][]any, len(links))
	for i, l := range links {
		rows[i] = []any{l.Token, l.MessageID, l.Rcpt, l.URL, l.Raw, l.Risk, ns(l.Created), ns(l.Expires)}
	}
	return insertRows(tx, "click_links", clickLinkCols, rows)
}

// ClickLinkByToken reads a wrapped link.
func (db *DB) ClickLinkByToken(ctx context.Context, token string) (*ClickLink, error) {
	var l ClickLink
	var created, expires int64
	err := db.r.QueryRowContext(ctx, `SELECT token, message_id, rcpt, url, raw, risk, created, expires FROM click_links WHERE token = ?`, token).
		Scan(&l.Token, &l.MessageID, &l.Rcpt, &l.URL, &l.Raw, &l.Risk, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoLink
	}
	if err != nil {
		return nil, err
	}
	l.Created, l.Expires = fromNS(created), fromNS(expires)
	return &l, nil
}

// RecordClick logs a click.
func RecordClick(tx *Tx, c *Click) error {
	_, err := tx.Exec(`INSERT INTO clicks (at, token, message_id, rcpt, url, risk_then, risk_now, action, evaluation, client_ip, user_agent, scanner)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ns(c.At), c.Token, c.MessageID, c.Rcpt, c.URL, c.RiskThen, c.RiskNow, c.Action,
		c.Evaluation, c.ClientIP, c.UserAgent, c.Scanner)
	return err
}

// ClickQuery selects clicks: every field set must match (URL: a part of).
type ClickQuery struct {
	MessageID, Rcpt, URL, Action string
	Since                        time.Time
	Limit                        int
}

// Clicks reads clicks, newest first.
func (db *DB) Clicks(ctx context.Context, q ClickQuery) ([]Click, error) {
	where, args := "1", []any{}
	for _, f := range []struct{ col, v string }{{"message_id", q.MessageID}, {"rcpt", q.Rcpt}, {"action", q.Action}} {
		if f.v != "" {
			where += " AND " + f.col + " = ?"
			args = append(args, f.v)
		}
	}
	if q.URL != "" {
		where += " AND instr(url, ?) > 0"
		args = append(args, q.URL)
	}
	if !q.Since.IsZero() {
		where += " AND at >= ?"
		args = append(args, ns(q.Since))
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	args = append(args, q.Limit)
	rows, err := db.r.QueryContext(ctx, `SELECT seq, at, token, message_id, rcpt, url, risk_then, risk_now, action, evaluation, client_ip, user_agent, scanner
		FROM clicks WHERE `+where+` ORDER BY seq DESC LIMIT ?`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Click
	for rows.Next() {
		var c Click
		var at int64
		if err := rows.Scan(&c.Seq, &at, &c.Token, &c.MessageID, &c.Rcpt, &c.URL, &c.RiskThen, &c.RiskNow, &c.Action, &c.Evaluation,
			&c.ClientIP, &c.UserAgent, &c.Scanner); err != nil {
			return nil, err
		}
		c.At = fromNS(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// RecentClicks counts a message's clicks on links other than token since
// t: every link of a message clicked at once is a scanner's mark.
func (db *DB) RecentClicks(ctx context.Context, messageID, token string, since time.Time) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(DISTINCT token) FROM clicks WHERE message_id = ? AND token != ? AND at >= ?`,
		messageID, token, ns(since)).Scan(&n)
	return n, err
}

// PurgeClickLinks deletes links whose lifetime ended before t, at most
// limit, and says how many went.
func PurgeClickLinks(tx *Tx, t time.Time, limit int) (int64, error) {
	res, err := tx.Exec(`DELETE FROM click_links WHERE token IN (SELECT token FROM click_links WHERE expires < ? LIMIT ?)`, ns(t), limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// PurgeClicks deletes clicks made before t, at most limit.
func PurgeClicks(tx *Tx, t time.Time, limit int) (int64, error) {
	res, err := tx.Exec(`DELETE FROM clicks WHERE seq IN (SELECT seq FROM clicks WHERE at < ? ORDER BY seq LIMIT ?)`, ns(t), limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
