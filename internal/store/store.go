// Package store is the appliance's SQLite database (WAL mode): embedded,
// numbered migrations, one writer goroutine that commits concurrent writes
// together (group commit), and typed queries.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"mailinspector/internal/durable"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the database. Reads go through a pool of connections; every write
// goes through the single writer so that SQLite never sees two writers.
type DB struct {
	r    *sql.DB
	w    *sql.DB
	reqs chan writeReq
	done chan struct{}
	// Only the writer goroutine uses these.
	wc           *sql.Conn // the writer's connection
	lazy         bool      // the writer connection is at synchronous=NORMAL
	stmts        map[string]*sql.Stmt
	afterDurable []func()

	rmu    sync.Mutex
	rstmts map[string]*sql.Stmt // hot reads, prepared once on the read pool
}

type writeReq struct {
	ctx  context.Context
	fn   func(*Tx) error
	res  chan error
	lazy bool
	then func()
}

// maxBatch bounds how many writes share one commit.
const maxBatch = 128

// Open opens (creating if needed) the database file and migrates it.
// synchronous=FULL: a commit is on disk when it returns, because the SMTP
// 250 depends on it.
func Open(path string) (*DB, error) {
	if err := durable.PrivateFile(path); err != nil {
		return nil, err
	}
	dsn := "file:" + filepath.ToSlash(path) + "?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000&_foreign_keys=on&_txlock=immediate"
	// auto_vacuum=incremental (it takes effect on a database it creates):
	// the pages the retention purge frees go back to the disk by Reclaim,
	// a little at a time, instead of staying in the file for ever.
	w, err := sql.Open("sqlite3", dsn+"&_auto_vacuum=incremental")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite3", dsn+"&mode=ro")
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(8)
	db := &DB{r: r, w: w, reqs: make(chan writeReq, maxBatch), done: make(chan struct{}), stmts: map[string]*sql.Stmt{}}
	if err := db.migrate(); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	if db.wc, err = w.Conn(context.Background()); err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	// A checkpoint that empties the WAL cuts it back to 64 MiB: a purge's
	// burst of writes does not keep its size on the disk.
	if _, err := db.wc.ExecContext(context.Background(), `PRAGMA journal_size_limit = 67108864`); err != nil {
		db.wc.Close()
		w.Close()
		r.Close()
		return nil, err
	}
	go db.writer()
	return db, nil
}

// Close stops the writer and closes the database.
func (db *DB) Close() error {
	close(db.reqs)
	<-db.done
	for _, st := range db.stmts {
		st.Close()
	}
	for _, st := range db.rstmts {
		st.Close()
	}
	return errors.Join(db.wc.Close(), db.w.Close(), db.r.Close())
}

func (db *DB) migrate() error {
	if _, err := db.w.Exec(`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	var cur int
	if err := db.w.QueryRow(`SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&cur); err != nil {
		return err
	}
	ents, err := migrations.ReadDir("migrations")
	if err != nil {
		return err
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	for _, e := range ents {
		n, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with its number", e.Name())
		}
		if n <= cur {
			continue
		}
		body, err := migrations.ReadFile("migrations/" + e.Name())
		if err != nil {
			return err
		}
		tx, err := db.w.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		if _, err := tx.Exec(`INSERT INTO schema_version (version) VALUES (?)`, n); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// readStmt prepares a hot read once: without it database/sql prepares
// (parses and plans) the query again on every call, which was most of the
// cost of reading a message row on the analysis and delivery paths.
func (db *DB) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	db.rmu.Lock()
	defer db.rmu.Unlock()
	if st, ok := db.rstmts[query]; ok {
		return st, nil
	}
	st, err := db.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if db.rstmts == nil {
		db.rstmts = map[string]*sql.Stmt{}
	}
	db.rstmts[query] = st
	return st, nil
}

// Tx is a write transaction. Its statements are prepared once per
// database and reused: on the relay hot path, preparing every statement
// again cost more than running it.
//
// The writer owns one connection (wc) and runs BEGIN/COMMIT on it itself,
// so that statements prepared on that connection serve every transaction.
type Tx struct {
	db *DB
}

func (t *Tx) stmt(query string) (*sql.Stmt, error) {
	st, ok := t.db.stmts[query] // only the writer goroutine touches stmts
	if !ok {
		var err error
		if st, err = t.db.wc.PrepareContext(context.Background(), query); err != nil {
			return nil, err
		}
		t.db.stmts[query] = st
	}
	return st, nil
}

// Exec runs a statement in the transaction.
func (t *Tx) Exec(query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.Exec(args...)
}

// QueryRow runs a query that returns at most one row.
func (t *Tx) QueryRow(query string, args ...any) *sql.Row {
	st, err := t.stmt(query)
	if err != nil {
		// database/sql gives no way to build a Row holding an error: run
		// the query unprepared, which reports the same error.
		return t.db.wc.QueryRowContext(context.Background(), query, args...)
	}
	return st.QueryRow(args...)
}

// Write runs fn in a write transaction and returns once it is committed
// durably (or failed). Concurrent calls share one commit: each runs inside
// its own savepoint, so one caller's error rolls back only its own work.
func (db *DB) Write(ctx context.Context, fn func(*Tx) error) error {
	return db.write(ctx, fn, false, nil)
}

// WriteLazy is Write for changes that may be lost in a power failure
// because they are made again on their own: an analysis verdict (the
// message is analysed again) or a delivery attempt's record (the message is
// delivered again). Its commit is not fsynced by itself (synchronous=NORMAL
// for that batch); the next durable commit fsyncs the WAL with it. A crash
// of the process alone loses nothing either way. When the change is
// durable, then (if not nil) runs: that is the moment to remove a spool
// file the change made useless.
func (db *DB) WriteLazy(ctx context.Context, fn func(*Tx) error, then func()) error {
	return db.write(ctx, fn, true, then)
}

func (db *DB) write(ctx context.Context, fn func(*Tx) error, lazy bool, then func()) error {
	req := writeReq{ctx: ctx, fn: fn, res: make(chan error, 1), lazy: lazy, then: then}
	select {
	case db.reqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	// The request may already be part of a batch: wait for its result even
	// if ctx ends, so the caller never believes a committed write failed.
	return <-req.res
}

// durableWithin bounds how long a lazy change waits for a durable commit
// to carry it when no durable write comes along.
const durableWithin = 200 * time.Millisecond

func (db *DB) writer() {
	defer close(db.done)
	idle := time.NewTimer(durableWithin)
	defer idle.Stop()
	for {
		var first writeReq
		var ok bool
		if len(db.afterDurable) > 0 {
			idle.Reset(durableWithin)
			select {
			case first, ok = <-db.reqs:
			case <-idle.C:
				db.makeDurable()
				continue
			}
		} else {
			first, ok = <-db.reqs
		}
		if !ok {
			db.makeDurable()
			return
		}
		batch := []writeReq{first}
	more:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-db.reqs:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		db.commit(batch)
	}
}

// makeDurable commits a one-row change at synchronous=FULL, which fsyncs
// the WAL and with it every lazy commit before it, then runs what waited
// for that.
func (db *DB) makeDurable() {
	if len(db.afterDurable) == 0 {
		return
	}
	err := db.setSync(false)
	if err == nil {
		_, err = db.wc.ExecContext(context.Background(), `UPDATE durable_mark SET n = n + 1`)
	}
	if err != nil {
		return // the callbacks wait for the next durable commit
	}
	db.runAfterDurable()
}

func (db *DB) runAfterDurable() {
	for _, f := range db.afterDurable {
		f()
	}
	db.afterDurable = db.afterDurable[:0]
}

func (db *DB) setSync(lazy bool) error {
	if lazy == db.lazy {
		return nil
	}
	mode := "FULL"
	if lazy {
		mode = "NORMAL"
	}
	if _, err := db.wc.ExecContext(context.Background(), `PRAGMA synchronous = `+mode); err != nil {
		return fmt.Errorf("store: set synchronous: %w", err)
	}
	db.lazy = lazy
	return nil
}

func (db *DB) commit(batch []writeReq) {
	lazy := true
	for _, r := range batch {
		lazy = lazy && r.lazy
	}
	fail := func(err error) {
		for _, r := range batch {
			r.res <- err
		}
	}
	if err := db.setSync(lazy); err != nil {
		fail(err)
		return
	}
	ctx := context.Background()
	if _, err := db.wc.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		fail(fmt.Errorf("store begin: %w", err))
		return
	}
	tx := &Tx{db: db}
	errs := make([]error, len(batch))
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if _, err := tx.Exec(`SAVEPOINT w`); err != nil {
			errs[i] = err
			continue
		}
		if err := r.fn(tx); err != nil {
			errs[i] = err
			if _, rerr := tx.Exec(`ROLLBACK TO w`); rerr != nil {
				errs[i] = errors.Join(err, rerr)
			}
		}
		if _, err := tx.Exec(`RELEASE w`); err != nil && errs[i] == nil {
			errs[i] = err
		}
	}
	if _, err := db.wc.ExecContext(ctx, `COMMIT`); err != nil {
		db.wc.ExecContext(ctx, `ROLLBACK`)
		fail(fmt.Errorf("store commit: %w", err))
		return
	}
	for i, r := range batch {
		if errs[i] == nil && r.then != nil {
			db.afterDurable = append(db.afterDurable, r.then)
		}
		r.res <- errs[i]
	}
	if !lazy {
		db.runAfterDurable()
	}
}

// Read gives read-only access for queries.
func (db *DB) Read() *sql.DB { return db.r }
