// Package storetest makes databases for the benchmarks of the packages
// that read the store: message tracking's and the web console's.
package storetest

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"mailinspector/internal/store"
)

// Million is a database of a million messages: a year of mail,
// one message in a thousand from alice, one in fifty with a threat, one in
// a hundred high risk and quarantined; the source of each is its client.
func Million(b testing.TB, dir string) *store.DB {
	b.Helper()
	path := MillionFile(b, dir)
	db, err := store.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// MillionFile writes Million's database as dir's mailinspector.db (where
// an appliance on dir finds it) and returns its path.
func MillionFile(b testing.TB, dir string) string {
	b.Helper()
	const n = 1_000_000
	path := filepath.Join(dir, "mailinspector.db")
	db, err := store.Open(path) // the schema, as the appliance has it
	if err != nil {
		b.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=OFF")
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	tx, err := raw.Begin()
	if err != nil {
		b.Fatal(err)
	}
	msg, err := tx.Prepare(`INSERT INTO messages (id, received, kind, mail_from, rcpt_to, client_ip, subject, message_id, size, state, risk, action, updated, source)
		VALUES (?, ?, 'inbound', ?, ?, ?, ?, ?, 1000, ?, ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	fnd, err := tx.Prepare(`INSERT INTO findings (message_id, seq, stage, engine, threat, risk) VALUES (?, 0, 'pattern-engine', 'clamd', ?, 'high')`)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now().Add(-365 * 24 * time.Hour)
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(i) * 31 * time.Second)
		id := fmt.Sprintf("m%07d", i)
		from := fmt.Sprintf("user%d@sender%d.example", i%997, i%101)
		if i%1000 == 0 {
			from = "alice@example.org"
		}
		risk, state, action := "none", "delivered", "deliver"
		if i%100 == 0 {
			risk, state, action = "high", "quarantined", "quarantine"
		}
		ip := fmt.Sprintf("198.51.%d.%d", i%200, i%250)
		if _, err := msg.Exec(id, at.UnixNano(), from, `["rcpt`+fmt.Sprint(i%5000)+`@example.com"]`, ip,
			fmt.Sprintf("subject %d", i), fmt.Sprintf("<%d@mail>", i), state, risk, action, at.UnixNano(), ip); err != nil {
			b.Fatal(err)
		}
		if i%50 == 0 {
			if _, err := fnd.Exec(id, "malware"); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return path
}
