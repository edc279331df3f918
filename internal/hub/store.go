// Package hub is the reference intelligence hub (`mailinspector hub`): the
// cloud services of the appliance as a self-hostable HTTP server with its own
// SQLite store, filled from public feeds and from the Smart Feedback of the
// appliances it serves. docs/hub-api.md documents the API.
package hub

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"mailinspector/internal/durable"
)

//go:embed schema.sql
var schema string

// Store is the hub's database.
type Store struct {
	db      *sql.DB
	index   indexCache
	keys    sync.Map // key hash -> knownKey
	censusQ *sql.Stmt
}

// OpenStore opens (creating) hub.db in dir.
func OpenStore(dir string) (*Store, error) {
	if err := durable.PrivateDir(dir); err != nil {
		return nil, err
	}
	if err := durable.PrivateFile(filepath.Join(dir, "hub.db")); err != nil {
		return nil, err
	}
	dsn := "file:" + filepath.ToSlash(filepath.Join(dir, "hub.db")) + "?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000&_txlock=immediate"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, err
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("hub schema: %w", err)
	}
	census, err := db.Prepare(`SELECT COUNT(DISTINCT appliance), COUNT(*), COALESCE(MIN(at), 0) FROM sightings WHERE kind = ? AND object = ?`)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, censusQ: census}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.censusQ.Close()
	return s.db.Close()
}

// AddKey creates an API key for an appliance and returns it; only its hash
// is kept.
func (s *Store) AddKey(ctx context.Context, name string) (string, error) {
	if name == "" {
		return "", errors.New("a key needs a name")
	}
	var b [24]byte
	rand.Read(b[:])
	key := "mih_" + hex.EncodeToString(b[:])
	_, err := s.db.ExecContext(ctx, `INSERT INTO keys (name, key_hash, created) VALUES (?, ?, ?)`, name, hashKey(key), time.Now().Unix())
	if err != nil {
		return "", fmt.Errorf("add key %q: %w", name, err)
	}
	return key, nil
}

// KeyName returns the appliance a key belongs to. Known keys are
// remembered for keyTTL, so that a busy appliance does not cost a query per
// request; a key removed from the database stops working within keyTTL.
func (s *Store) KeyName(ctx context.Context, key string) (name string, created time.Time, err error) {
	h := hashKey(key)
	if v, ok := s.keys.Load(h); ok {
		if k := v.(knownKey); time.Now().Before(k.until) {
			return k.name, k.created, nil
		}
	}
	var c int64
	if err = s.db.QueryRowContext(ctx, `SELECT name, created FROM keys WHERE key_hash = ?`, h).Scan(&name, &c); err != nil {
		return "", time.Time{}, err
	}
	s.keys.Store(h, knownKey{name, time.Unix(c, 0), time.Now().Add(keyTTL)})
	return name, time.Unix(c, 0), nil
}

// keyTTL is how long a known key is remembered.
const keyTTL = 30 * time.Second

type knownKey struct {
	name    string
	created time.Time
	until   time.Time
}

// Keys lists the key names.
func (s *Store) Keys(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM keys ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		out = append(out, n)
	}
	return out, rows.Err()
}

func hashKey(k string) string {
	h := sha256.Sum256([]byte(k))
	return hex.EncodeToString(h[:])
}

// Feed is the freshness of one imported feed.
type Feed struct {
	Kind       string    `json:"kind"`
	Rows       int       `json:"rows"`
	ImportedAt time.Time `json:"imported_at"`
	Source     string    `json:"source"`
	AgeSeconds int64     `json:"age_seconds"`
}

// Feeds lists the imported feeds.
func (s *Store) Feeds(ctx context.Context) ([]Feed, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, rows, imported_at, source FROM feeds ORDER BY kind`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Feed{}
	for rows.Next() {
		var f Feed
		var at int64
		if err := rows.Scan(&f.Kind, &f.Rows, &at, &f.Source); err != nil {
			return nil, err
		}
		f.ImportedAt = time.Unix(at, 0).UTC()
		f.AgeSeconds = int64(time.Since(f.ImportedAt).Seconds())
		out = append(out, f)
	}
	return out, rows.Err()
}
