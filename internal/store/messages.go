package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"
)

// Message states (see DESIGN.md, "A message's way through").
const (
	StateReceived    = "received"
	StateAnalysing   = "analysing"
	StateQueued      = "queued"
	StateDelivered   = "delivered"
	StateDeferred    = "deferred"
	StateBounced     = "bounced"
	StateQuarantined = "quarantined"
	StateDeleted     = "deleted"
	StateMonitored   = "monitored"
)

// Recipient delivery statuses.
const (
	RcptPending   = "pending"
	RcptDelivered = "delivered"
	RcptDeferred  = "deferred"
	RcptBounced   = "bounced"
)

// Message kinds: mail that came in over SMTP, and delivery status
// notifications we made ourselves (never analysed, never bounced).
const (
	KindInbound      = "inbound"
	KindDSN          = "dsn"
	KindNotification = "notification"
	KindStripped     = "stripped" // the delivered copy of a message whose attachments were stripped
	// KindSplit is a copy of a message for those of its recipients that
	// fall under another exception or policy than the first's: analysed
	// and decided on its own (DESIGN: an exempted co-recipient never
	// exempts the others).
	KindSplit = "split"
)

// ErrNotFound is returned for an unknown message id.
var ErrNotFound = errors.New("no such message")

type Message struct {
	ID           string
	Received     time.Time
	Kind         string
	From         string
	To           []string
	ClientIP     string
	Helo         string
	TLS          string
	Subject      string
	HeaderFrom   string
	MessageID    string
	Size         int64
	State        string
	Risk         string
	Action       string
	Reason       string
	AnalyseAfter time.Time
	Updated      time.Time
	Rewrite      *Rewrite
	ERS          *ERSCheck // what Email Reputation said during the SMTP session (edge); nil: not asked
	// ResumeAt is, for a held message, the stage its next analysis
	// resumes at, the findings of the stages before it standing; empty:
	// from the start.
	ResumeAt string
	// Route is the host[:port] an administrator rerouted the message's
	// waiting recipients to (queue reroute); empty: the configured route.
	Route string
}

// ERSCheck is the outcome of the Email Reputation check made while the
// client was connected, for the trail.
type ERSCheck struct {
	IP      string        `json:"ip"`
	Outcome string        `json:"outcome"` // ok, finding (listed), skipped
	Detail  string        `json:"detail"`
	Listed  []string      `json:"listed,omitempty"` // "zone: reason"
	Elapsed time.Duration `json:"elapsed"`
}

// Rewrite is what delivery changes in a message's header (the "pass and
// tag" action): a prefix for the Subject and header fields to add. Fields
// of these names that came with the message are removed, so a sender
// cannot forge them.
type Rewrite struct {
	SubjectPrefix string   `json:"subject_prefix,omitempty"`
	AddHeaders    []string `json:"add_headers,omitempty"` // "Name: value"
}

// Empty says whether the rewrite changes nothing.
func (r *Rewrite) Empty() bool { return r == nil || r.SubjectPrefix == "" && len(r.AddHeaders) == 0 }

type Recipient struct {
	MessageID   string
	Rcpt        string
	Status      string
	Attempts    int
	NextAttempt time.Time
	LastError   string
}

type TrailEntry struct {
	At      time.Time
	Stage   string
	Service string
	Outcome string
	Detail  string
	Elapsed time.Duration // how long the step took (kept in milliseconds)
}

type Finding struct {
	Stage    string
	Engine   string
	Threat   string
	Risk     string
	Name     string
	Location string
	Detail   string
	Object   string // the file's SHA-256 or the URL the finding is about, if any
}

// Object kinds.
const (
	ObjectFile = "file" // an attachment or archive member; Value is its SHA-256
	ObjectURL  = "url"  // a link; Value is the normalised URL, Name as written
	ObjectIP   = "ip"   // a public relay of a Received field, newest first
)

// Object is something a message held (migration 0012): what its page in
// the console lists, joined with the findings by Value.
type Object struct {
	Kind     string `json:"k"`
	Value    string `json:"v"`
	Name     string `json:"n,omitempty"`
	Location string `json:"l,omitempty"`
	Declared string `json:"d,omitempty"`
	TrueType string `json:"t,omitempty"`
	SHA1     string `json:"h,omitempty"`
	Size     int64  `json:"s,omitempty"`
}

func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// InsertMessage records a newly received message.
func InsertMessage(tx *Tx, m *Message) error {
	to, _ := json.Marshal(m.To)
	kind := m.Kind
	if kind == "" {
		kind = KindInbound
	}
	rw := ""
	if !m.Rewrite.Empty() {
		b, _ := json.Marshal(m.Rewrite)
		rw = string(b)
	}
	ers := ""
	if m.ERS != nil {
		b, _ := json.Marshal(m.ERS)
		ers = string(b)
	}
	_, err := tx.Exec(`INSERT INTO messages (id, received, kind, mail_from, rcpt_to, client_ip, helo, tls, subject,
		header_from, message_id, size, state, risk, action, reason, analyse_after, updated, rewrite, ers)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		m.ID, ns(m.Received), kind, m.From, string(to), m.ClientIP, m.Helo, m.TLS, m.Subject,
		m.HeaderFrom, m.MessageID, m.Size, m.State, m.Risk, m.Action, m.Reason, ns(m.AnalyseAfter), time.Now().UnixNano(), rw, ers)
	return err
}

// ExpectState fails unless the message is in state now, inside the
// transaction (so that two administrators releasing the same message do
// not both succeed).
func ExpectState(tx *Tx, id, state string) error {
	var cur string
	err := tx.QueryRow(`SELECT state FROM messages WHERE id = ?`, id).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if cur != state {
		return fmt.Errorf("message %s is %s, not %s", id, cur, state)
	}
	return nil
}

// SetState changes a message's state.
func SetState(tx *Tx, id, state string) error {
	res, err := tx.Exec(`UPDATE messages SET state = ?, updated = ? WHERE id = ?`, state, time.Now().UnixNano(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Verdict is what analysis concluded for a message.
type Verdict struct {
	State        string
	Risk         string
	Action       string
	Reason       string
	AnalyseAfter time.Time // for a held message: when to analyse again
	ResumeAt     string    // for a held message: the stage its next analysis resumes at (Message.ResumeAt)
	Subject      string
	HeaderFrom   string
	MessageID    string
	Rewrite      *Rewrite
	Trail        []TrailEntry
	Findings     []Finding
	// Size, when not 0, is the message's size after an action rewrote it
	// (links wrapped or sent to the link pages): delivery's SIZE=.
	Size int64
	// Objects replace the message's objects when not nil.
	Objects  []Object
	Feedback []FeedbackRecord // Smart Feedback to queue with the verdict
	// To, when set, narrows the message's recipients to these (the others
	// went to split copies).
	To []string
}

// SaveVerdict records a verdict: the trail grows, the findings are those of
// the latest run.
func SaveVerdict(tx *Tx, id string, v *Verdict) error {
	rw := ""
	if !v.Rewrite.Empty() {
		b, _ := json.Marshal(v.Rewrite)
		rw = string(b)
	}
	res, err := tx.Exec(`UPDATE messages SET state = ?, risk = ?, action = ?, reason = ?, analyse_after = ?,
		subject = ?, header_from = ?, message_id = ?, rewrite = ?, updated = ?, resume_at = ?, source = COALESCE(?, source),
		size = CASE WHEN ? > 0 THEN ? ELSE size END WHERE id = ?`,
		v.State, v.Risk, v.Action, v.Reason, ns(v.AnalyseAfter), v.Subject, v.HeaderFrom, v.MessageID, rw, time.Now().UnixNano(), v.ResumeAt,
		source(v.Objects), v.Size, v.Size, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	if v.To != nil {
		to, _ := json.Marshal(v.To)
		if _, err := tx.Exec(`UPDATE messages SET rcpt_to = ? WHERE id = ?`, string(to), id); err != nil {
			return err
		}
	}
	if err := AddTrail(tx, id, v.Trail...); err != nil {
		return err
	}
	if err := QueueFeedback(tx, v.Feedback); err != nil {
		return err
	}
	if _, err := tx.Exec(`DELETE FROM findings WHERE message_id = ?`, id); err != nil {
		return err
	}
	rows := make([][]any, len(v.Findings))
	for i, f := range v.Findings {
		rows[i] = []any{id, i + 1, f.Stage, f.Engine, f.Threat, f.Risk, f.Name, f.Location, f.Detail, f.Object}
	}
	if err := insertRows(tx, "findings", findingCols, rows); err != nil {
		return err
	}
	if v.Objects == nil {
		return nil
	}
	b, err := json.Marshal(v.Objects)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT OR REPLACE INTO message_objects (message_id, objects) VALUES (?, ?)`, id, string(b)); err != nil {
		return err
	}
	return nil
}

// source is the first relay of objects (nil: leave the message's as it is).
func source(objects []Object) any {
	if objects == nil {
		return nil
	}
	for _, o := range objects {
		if o.Kind == ObjectIP {
			return o.Value
		}
	}
	return ""
}

var findingCols = []string{"message_id", "seq", "stage", "engine", "threat", "risk", "name", "location", "detail", "object"}

// AddTrail appends entries to a message's trail (analysis, delivery,
// quarantine release, …).
func AddTrail(tx *Tx, id string, entries ...TrailEntry) error {
	var seq int
	if err := tx.QueryRow(`SELECT COALESCE(MAX(seq), 0) FROM trail WHERE message_id = ?`, id).Scan(&seq); err != nil {
		return err
	}
	rows := make([][]any, len(entries))
	for i, t := range entries {
		seq++
		if t.At.IsZero() {
			t.At = time.Now()
		}
		rows[i] = []any{id, seq, ns(t.At), t.Stage, t.Service, t.Outcome, t.Detail, t.Elapsed.Milliseconds()}
	}
	return insertRows(tx, "trail", trailCols, rows)
}

var trailCols = []string{"message_id", "seq", "at", "stage", "service", "outcome", "detail", "ms"}

// QueueRecipients puts recipients of a message in the delivery queue, due
// now, and marks the message queued. Recipients already there are reset.
func QueueRecipients(tx *Tx, id string, rcpts []string) error {
	return QueueRecipientRows(tx, id, PendingRecipients(id, rcpts, time.Now()))
}

// PendingRecipients are the rows QueueRecipients writes for rcpts, due at
// now, as Recipients reads them back (ordered by address, times as stored).
func PendingRecipients(id string, rcpts []string, now time.Time) []Recipient {
	out := make([]Recipient, len(rcpts))
	for i, r := range rcpts {
		out[i] = Recipient{MessageID: id, Rcpt: r, Status: RcptPending, NextAttempt: fromNS(ns(now))}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rcpt < out[j].Rcpt })
	return out
}

// QueueRecipientRows is QueueRecipients with the rows made by
// PendingRecipients.
func QueueRecipientRows(tx *Tx, id string, rows []Recipient) error {
	if _, err := tx.Exec(`DELETE FROM recipients WHERE message_id = ?`, id); err != nil {
		return err
	}
	now := time.Now().UnixNano()
	for _, r := range rows {
		if _, err := tx.Exec(`INSERT INTO recipients (message_id, rcpt, status, attempts, next_attempt, updated) VALUES (?,?,?,0,?,?)`,
			id, r.Rcpt, RcptPending, ns(r.NextAttempt), now); err != nil {
			return err
		}
	}
	return SetState(tx, id, StateQueued)
}

// Stored is a copy of m with its times as the database gives them back
// (UTC, no monotonic reading): what a reader of the row would see.
func (m *Message) Stored() *Message {
	c := *m
	c.Received, c.AnalyseAfter, c.Updated = fromNS(ns(m.Received)), fromNS(ns(m.AnalyseAfter)), fromNS(ns(m.Updated))
	return &c
}

// UpdateRecipient records the outcome of a delivery attempt.
func UpdateRecipient(tx *Tx, r *Recipient) error {
	_, err := tx.Exec(`UPDATE recipients SET status = ?, attempts = ?, next_attempt = ?, last_error = ?, updated = ? WHERE message_id = ? AND rcpt = ?`,
		r.Status, r.Attempts, ns(r.NextAttempt), r.LastError, time.Now().UnixNano(), r.MessageID, r.Rcpt)
	return err
}

const messageCols = `id, received, kind, mail_from, rcpt_to, client_ip, helo, tls, subject, header_from, message_id,
	size, state, risk, action, reason, analyse_after, updated, rewrite, ers, resume_at, route`

type scanner interface{ Scan(...any) error }

func scanMessage(s scanner) (*Message, error) {
	var m Message
	var rec, after, upd int64
	var to, rw, ers string
	if err := s.Scan(&m.ID, &rec, &m.Kind, &m.From, &to, &m.ClientIP, &m.Helo, &m.TLS, &m.Subject, &m.HeaderFrom,
		&m.MessageID, &m.Size, &m.State, &m.Risk, &m.Action, &m.Reason, &after, &upd, &rw, &ers, &m.ResumeAt, &m.Route); err != nil {
		return nil, err
	}
	if ers != "" {
		m.ERS = &ERSCheck{}
		if err := json.Unmarshal([]byte(ers), m.ERS); err != nil {
			return nil, fmt.Errorf("message %s: ers: %w", m.ID, err)
		}
	}
	if rw != "" {
		m.Rewrite = &Rewrite{}
		if err := json.Unmarshal([]byte(rw), m.Rewrite); err != nil {
			return nil, fmt.Errorf("message %s: rewrite: %w", m.ID, err)
		}
	}
	m.Received, m.AnalyseAfter, m.Updated = fromNS(rec), fromNS(after), fromNS(upd)
	if err := json.Unmarshal([]byte(to), &m.To); err != nil {
		return nil, fmt.Errorf("message %s: recipients: %w", m.ID, err)
	}
	return &m, nil
}

// GetMessage reads one message.
func (db *DB) GetMessage(ctx context.Context, id string) (*Message, error) {
	st, err := db.readStmt(ctx, `SELECT `+messageCols+` FROM messages WHERE id = ?`)
	if err != nil {
		return nil, err
	}
	m, err := scanMessage(st.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return m, err
}

// queryMessages runs a query over messageCols and reads its rows.
func (db *DB) queryMessages(ctx context.Context, q string, args ...any) ([]*Message, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ToAnalyse lists messages waiting for analysis that are due, oldest first.
func (db *DB) ToAnalyse(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id FROM messages WHERE state IN (?, ?) AND analyse_after <= ? ORDER BY received LIMIT ?`,
		StateReceived, StateAnalysing, now.UnixNano(), limit)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// NextAnalysis is when the earliest message held past now becomes due
// (zero: none).
func (db *DB) NextAnalysis(ctx context.Context, now time.Time) (time.Time, error) {
	var n sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT MIN(analyse_after) FROM messages WHERE state IN (?, ?) AND analyse_after > ?`,
		StateReceived, StateAnalysing, now.UnixNano()).Scan(&n)
	if err != nil || !n.Valid {
		return time.Time{}, err
	}
	return fromNS(n.Int64), nil
}

func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Trail reads a message's trail in order.
func (db *DB) Trail(ctx context.Context, id string) ([]TrailEntry, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT at, stage, service, outcome, detail, ms FROM trail WHERE message_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TrailEntry
	for rows.Next() {
		var t TrailEntry
		var at, ms int64
		if err := rows.Scan(&at, &t.Stage, &t.Service, &t.Outcome, &t.Detail, &ms); err != nil {
			return nil, err
		}
		t.At, t.Elapsed = fromNS(at), time.Duration(ms)*time.Millisecond
		out = append(out, t)
	}
	return out, rows.Err()
}

// Findings reads a message's findings.
func (db *DB) Findings(ctx context.Context, id string) ([]Finding, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT stage, engine, threat, risk, name, location, detail, object FROM findings WHERE message_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Finding
	for rows.Next() {
		var f Finding
		if err := rows.Scan(&f.Stage, &f.Engine, &f.Threat, &f.Risk, &f.Name, &f.Location, &f.Detail, &f.Object); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// Objects reads a message's objects in the order the verdict gave them.
func (db *DB) Objects(ctx context.Context, id string) ([]Object, error) {
	var data string
	err := db.r.QueryRowContext(ctx, `SELECT objects FROM message_objects WHERE message_id = ?`, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Object
	if err := json.Unmarshal([]byte(data), &out); err != nil {
		return nil, fmt.Errorf("message %s: its objects: %w", id, err)
	}
	return out, nil
}

// Recipients reads a message's delivery rows.
func (db *DB) Recipients(ctx context.Context, id string) ([]Recipient, error) {
	st, err := db.readStmt(ctx, `SELECT message_id, rcpt, status, attempts, next_attempt, last_error FROM recipients WHERE message_id = ? ORDER BY rcpt`)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, id)
	if err != nil {
		return nil, err
	}
	return scanRecipients(rows)
}

func scanRecipients(rows *sql.Rows) ([]Recipient, error) {
	defer rows.Close()
	var out []Recipient
	for rows.Next() {
		var r Recipient
		var next int64
		if err := rows.Scan(&r.MessageID, &r.Rcpt, &r.Status, &r.Attempts, &next, &r.LastError); err != nil {
			return nil, err
		}
		r.NextAttempt = fromNS(next)
		out = append(out, r)
	}
	return out, rows.Err()
}

// DueMessages lists messages with at least one recipient due for a
// delivery attempt, oldest first.
func (db *DB) DueMessages(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT message_id FROM recipients WHERE status IN (?, ?) AND next_attempt <= ?
		GROUP BY message_id ORDER BY MIN(next_attempt) LIMIT ?`, RcptPending, RcptDeferred, now.UnixNano(), limit)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// NextDelivery is when the earliest recipient waiting past now is due
// (zero: none).
func (db *DB) NextDelivery(ctx context.Context, now time.Time) (time.Time, error) {
	var n sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT MIN(next_attempt) FROM recipients WHERE status IN (?, ?) AND next_attempt > ?`,
		RcptPending, RcptDeferred, now.UnixNano()).Scan(&n)
	if err != nil || !n.Valid {
		return time.Time{}, err
	}
	return fromNS(n.Int64), nil
}

// QueuedRecipients lists every recipient still waiting for delivery.
func (db *DB) QueuedRecipients(ctx context.Context, limit int) ([]Recipient, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT message_id, rcpt, status, attempts, next_attempt, last_error FROM recipients
		WHERE status IN (?, ?) ORDER BY next_attempt LIMIT ?`, RcptPending, RcptDeferred, limit)
	if err != nil {
		return nil, err
	}
	return scanRecipients(rows)
}

// NewID makes a message id: the receive time in milliseconds (base 36, so
// ids sort by age) and 48 random bits. Ids are ours, never the client's, and
// safe as file names.
func NewID(now time.Time) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return strconv.FormatInt(now.UnixMilli(), 36) + hex.EncodeToString(b[:])
}

// QuarantinedBefore lists quarantined messages received before t.
func (db *DB) QuarantinedBefore(ctx context.Context, t time.Time, limit int) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id FROM messages WHERE state = ? AND received < ? ORDER BY received LIMIT ?`,
		StateQuarantined, t.UnixNano(), limit)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// finishedStates are the states a message leaves no more: retention may
// purge it.
var finishedStates = []any{StateDelivered, StateBounced, StateDeleted, StateMonitored}

// FinishedBefore lists up to limit finished messages (delivered, bounced,
// deleted, monitored: states a message never leaves) received before t,
// oldest first.
func (db *DB) FinishedBefore(ctx context.Context, t time.Time, limit int) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id FROM messages WHERE received < ? AND state IN (?, ?, ?, ?) ORDER BY received LIMIT ?`,
		append(append([]any{t.UnixNano()}, finishedStates...), limit)...)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// PurgeMessage deletes a finished message with its recipients, trail and
// findings (ON DELETE CASCADE); a message not finished stays.
func PurgeMessage(tx *Tx, id string) error {
	_, err := tx.Exec(`DELETE FROM messages WHERE id = ? AND state IN (?, ?, ?, ?)`, append([]any{id}, finishedStates...)...)
	return err
}

// CountByState counts the messages in each state (show status).
func (db *DB) CountByState(ctx context.Context) (map[string]int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT state, COUNT(*) FROM messages GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}

// SetRoute sends a message's waiting recipients to host:port from now on
// (queue reroute).
func SetRoute(tx *Tx, id, route string) error {
	res, err := tx.Exec(`UPDATE messages SET route = ?, updated = ? WHERE id = ?`, route, time.Now().UnixNano(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// RetryNow makes the waiting recipients of message id (every message's,
// with id "") due now, and returns how many.
func RetryNow(tx *Tx, id string) (int64, error) {
	q, args := `UPDATE recipients SET next_attempt = 0, updated = ? WHERE status IN (?, ?)`, []any{time.Now().UnixNano(), RcptPending, RcptDeferred}
	if id != "" {
		q, args = q+` AND message_id = ?`, append(args, id)
	}
	res, err := tx.Exec(q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Counts are the message counts the metrics give.
type Counts struct {
	ByState, ByRisk, ByThreat map[string]int
	// OldestQueued is when the oldest message still waiting for delivery
	// (queued or deferred) was received; zero: none waits.
	OldestQueued time.Time
}

// CountMessages counts messages by state, by risk and by threat found, and
// finds the oldest one waiting for delivery.
func (db *DB) CountMessages(ctx context.Context) (*Counts, error) {
	c := &Counts{ByRisk: map[string]int{}, ByThreat: map[string]int{}}
	var err error
	if c.ByState, err = db.CountByState(ctx); err != nil {
		return nil, err
	}
	for _, q := range []struct {
		sql string
		m   map[string]int
	}{
		{`SELECT risk, COUNT(*) FROM messages WHERE risk != '' GROUP BY risk`, c.ByRisk},
		{`SELECT threat, COUNT(DISTINCT message_id) FROM findings WHERE threat != '' GROUP BY threat`, c.ByThreat},
	} {
		rows, err := db.r.QueryContext(ctx, q.sql)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k string
			var n int
			if err := rows.Scan(&k, &n); err != nil {
				rows.Close()
				return nil, err
			}
			q.m[k] = n
		}
		rows.Close()
	}
	var oldest sql.NullInt64
	if err := db.r.QueryRowContext(ctx, `SELECT MIN(received) FROM messages WHERE state IN (?, ?)`, StateQueued, StateDeferred).Scan(&oldest); err != nil {
		return nil, err
	}
	if oldest.Valid {
		c.OldestQueued = fromNS(oldest.Int64)
	}
	return c, nil
}

// Reclaim gives the free pages of the database file back to the disk (a
// database made with auto_vacuum=incremental, as Open makes them), at most
// pages per write transaction so that the mail path's writes wait little;
// it says how many pages went. A database from before (auto_vacuum none)
// keeps its free pages for reuse: nothing goes.
func (db *DB) Reclaim(ctx context.Context, pages int) (int64, error) {
	var total int64
	for ctx.Err() == nil {
		var before, after int64
		err := db.Write(ctx, func(tx *Tx) error {
			if err := tx.QueryRow(`PRAGMA freelist_count`).Scan(&before); err != nil || before == 0 {
				return err
			}
			// The pragma frees a page per step: run it to its end.
			st, err := tx.stmt(fmt.Sprintf(`PRAGMA incremental_vacuum(%d)`, pages))
			if err != nil {
				return err
			}
			rows, err := st.Query()
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			if err := errors.Join(rows.Err(), rows.Close()); err != nil {
				return err
			}
			return tx.QueryRow(`PRAGMA freelist_count`).Scan(&after)
		})
		if err != nil {
			return total, err
		}
		if before == 0 || after >= before {
			return total, nil
		}
		total += before - after
	}
	return total, ctx.Err()
}
