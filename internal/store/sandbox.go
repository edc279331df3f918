package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Sandbox analysis states.
const (
	SandboxPending = "pending"
	SandboxDone    = "done"
	SandboxError   = "error"
	SandboxTimeout = "timeout"
)

// SandboxAnalysis is one sample in the virtual analyzer.
type SandboxAnalysis struct {
	SHA256    string
	Name      string
	Image     string
	State     string
	Risk      string // high, medium, low, none; "" when failed
	Summary   string
	Error     string
	Report    []byte // JSON
	HTML      []byte
	Submitted time.Time
	Finished  time.Time
}

// ErrNoAnalysis: the sample was never submitted.
var ErrNoAnalysis = errors.New("no such analysis")

// SandboxAnalysis reads one sample's row, its report and page included.
func (db *DB) SandboxAnalysis(ctx context.Context, sha string) (*SandboxAnalysis, error) {
	return db.sandboxRow(ctx, sha, "report, html")
}

// SandboxVerdict reads one sample's row without its report and page (a
// page carries its screenshot): what a message waiting for the sandbox
// looks at on each pass.
func (db *DB) SandboxVerdict(ctx context.Context, sha string) (*SandboxAnalysis, error) {
	return db.sandboxRow(ctx, sha, "'', ''")
}

func (db *DB) sandboxRow(ctx context.Context, sha, blobs string) (*SandboxAnalysis, error) {
	var a SandboxAnalysis
	var report, html string
	var sub, fin int64
	err := db.r.QueryRowContext(ctx, `SELECT sha256, name, image, state, risk, summary, error, `+blobs+`, submitted, finished
		FROM sandbox_analyses WHERE sha256 = ?`, sha).Scan(&a.SHA256, &a.Name, &a.Image, &a.State, &a.Risk, &a.Summary, &a.Error,
		&report, &html, &sub, &fin)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoAnalysis
	}
	if err != nil {
		return nil, err
	}
	a.Report, a.HTML, a.Submitted = []byte(report), []byte(html), fromNS(sub)
	if fin != 0 {
		a.Finished = fromNS(fin)
	}
	return &a, nil
}

// ClaimSandbox makes this caller the one to submit a sample: it inserts a
// pending row when there is none (was ""), or takes over a row still in
// the state the caller read (a failed one a later message may try again, a
// pending one whose run was lost in a restart). It says whether the claim
// was won; a concurrent claimer loses.
func ClaimSandbox(tx *Tx, sha, name, image string, now time.Time, was string) (bool, error) {
	var res sql.Result
	var err error
	if was == "" {
		res, err = tx.Exec(`INSERT INTO sandbox_analyses (sha256, name, image, state, submitted) VALUES (?,?,?,?,?)
			ON CONFLICT (sha256) DO NOTHING`, sha, name, image, SandboxPending, ns(now))
	} else {
		res, err = tx.Exec(`UPDATE sandbox_analyses SET state = ?, submitted = ?, error = '', finished = 0, name = ?, image = ?
			WHERE sha256 = ? AND state = ?`, SandboxPending, ns(now), name, image, sha, was)
	}
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// FinishSandbox records a sample's outcome.
func FinishSandbox(tx *Tx, a *SandboxAnalysis) error {
	_, err := tx.Exec(`UPDATE sandbox_analyses SET state = ?, risk = ?, summary = ?, error = ?, report = ?, html = ?, finished = ?
		WHERE sha256 = ?`, a.State, a.Risk, a.Summary, a.Error, string(a.Report), string(a.HTML), ns(a.Finished), a.SHA256)
	return err
}
