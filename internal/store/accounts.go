package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Account is one row of accounts.
type Account struct {
	Name        string
	Role        string
	Hash        string
	Created     time.Time
	LastLogin   time.Time
	Failures    int
	LockedUntil time.Time
}

// ErrNoAccount: no account of that name.
var ErrNoAccount = errors.New("no such account")

// PutAccount inserts or replaces an account.
func PutAccount(tx *Tx, a *Account) error {
	_, err := tx.Exec(`INSERT INTO accounts (name, role, hash, created, last_login, failures, locked_until) VALUES (?,?,?,?,?,?,?)
		ON CONFLICT(name) DO UPDATE SET role = excluded.role, hash = excluded.hash, last_login = excluded.last_login,
		failures = excluded.failures, locked_until = excluded.locked_until`,
		a.Name, a.Role, a.Hash, ns(a.Created), ns(a.LastLogin), a.Failures, ns(a.LockedUntil))
	return err
}

// DeleteAccount removes an account.
func DeleteAccount(tx *Tx, name string) error {
	res, err := tx.Exec(`DELETE FROM accounts WHERE name = ?`, name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNoAccount
	}
	return nil
}

// GetAccount reads one account.
func (db *DB) GetAccount(ctx context.Context, name string) (*Account, error) {
	var a Account
	var created, last, locked int64
	err := db.r.QueryRowContext(ctx, `SELECT name, role, hash, created, last_login, failures, locked_until FROM accounts WHERE name = ?`, name).
		Scan(&a.Name, &a.Role, &a.Hash, &created, &last, &a.Failures, &locked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoAccount
	}
	if err != nil {
		return nil, err
	}
	a.Created, a.LastLogin, a.LockedUntil = fromNS(created), fromNS(last), fromNS(locked)
	return &a, nil
}

// Accounts lists every account by name.
func (db *DB) Accounts(ctx context.Context) ([]Account, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT name FROM accounts ORDER BY name`)
	if err != nil {
		return nil, err
	}
	names, err := scanStrings(rows)
	if err != nil {
		return nil, err
	}
	out := make([]Account, 0, len(names))
	for _, n := range names {
		a, err := db.GetAccount(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, nil
}
