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

	_ "github.com/mattn/go-sqlite3"
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
	lazy bool // the writer connection is at synchronous=NORMAL; only the writer goroutine uses it
}

type writeReq struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	res  chan error
	lazy bool
}

// maxBatch bounds how many writes share one commit.
const maxBatch = 128

// Open opens (creating if needed) the database file and migrates it.
// synchronous=FULL: a commit is on disk when it returns, because the SMTP
// 250 depends on it.
func Open(path string) (*DB, error) {
	dsn := "file:" + filepath.ToSlash(path) + "?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000&_foreign_keys=on&_txlock=immediate"
	w, err := sql.Open("sqlite3", dsn)
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
	db := &DB{r: r, w: w, reqs: make(chan writeReq, maxBatch), done: make(chan struct{})}
	if err := db.migrate(); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	go db.writer()
	return db, nil
}

// Close stops the writer and closes the database.
func (db *DB) Close() error {
	close(db.reqs)
	<-db.done
	return errors.Join(db.w.Close(), db.r.Close())
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

// Write runs fn in a write transaction and returns once it is committed
// durably (or failed). Concurrent calls share one commit: each runs inside
// its own savepoint, so one caller's error rolls back only its own work.
func (db *DB) Write(ctx context.Context, fn func(*sql.Tx) error) error {
	return db.write(ctx, fn, false)
}

// WriteLazy is Write for changes that may be lost in a power failure
// because they are made again on their own: an analysis verdict (the
// message is analysed again) or a delivery attempt's record (the message is
// delivered again). Its commit is not fsynced by itself (synchronous=NORMAL
// for that batch); the next durable commit fsyncs the WAL with it. A crash
// of the process alone loses nothing either way.
func (db *DB) WriteLazy(ctx context.Context, fn func(*sql.Tx) error) error {
	return db.write(ctx, fn, true)
}

func (db *DB) write(ctx context.Context, fn func(*sql.Tx) error, lazy bool) error {
	req := writeReq{ctx: ctx, fn: fn, res: make(chan error, 1), lazy: lazy}
	select {
	case db.reqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	// The request may already be part of a batch: wait for its result even
	// if ctx ends, so the caller never believes a committed write failed.
	return <-req.res
}

func (db *DB) writer() {
	defer close(db.done)
	for first := range db.reqs {
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

func (db *DB) commit(batch []writeReq) {
	lazy := true
	for _, r := range batch {
		lazy = lazy && r.lazy
	}
	if lazy != db.lazy {
		mode := "FULL"
		if lazy {
			mode = "NORMAL"
		}
		if _, err := db.w.Exec(`PRAGMA synchronous = ` + mode); err != nil {
			for _, r := range batch {
				r.res <- fmt.Errorf("store: set synchronous: %w", err)
			}
			return
		}
		db.lazy = lazy
	}
	tx, err := db.w.Begin()
	if err != nil {
		for _, r := range batch {
			r.res <- fmt.Errorf("store begin: %w", err)
		}
		return
	}
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
	if err := tx.Commit(); err != nil {
		for _, r := range batch {
			r.res <- fmt.Errorf("store commit: %w", err)
		}
		return
	}
	for i, r := range batch {
		r.res <- errs[i]
	}
}

// Read gives read-only access for queries.
func (db *DB) Read() *sql.DB { return db.r }
