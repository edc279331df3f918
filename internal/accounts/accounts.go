// Package accounts is who may use the appliance and with which role, as
// DDEI has them: an Administrator does everything, an Investigator reads
// detections, message bodies, reports and logs and changes nothing, an
// Operator reads as an Investigator does but never a message's body,
// attachments or raw bytes. Passwords are argon2id hashes (RFC 9106); five
// failed logins in a row lock an account for ten minutes. The built-in
// admin account can be neither deleted nor demoted.
package accounts

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/crypto/argon2"

	"mailinspector/internal/store"
)

// Roles, from most to least allowed.
const (
	Administrator = "administrator"
	Investigator  = "investigator"
	Operator      = "operator"
)

// Roles lists them.
var Roles = []string{Administrator, Investigator, Operator}

// Builtin is the account that always exists.
const Builtin = "admin"

// Lockout: after MaxFailures failed logins in a row the account is locked
// for LockFor (an Administrator can unlock it sooner).
const (
	MaxFailures = 5
	LockFor     = 10 * time.Minute
)

var validName = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,31}$`)

// CheckPassword is the password rule: 8 to 64 characters, with at least
// three of lower case, upper case, digits and others.
func CheckPassword(pw string) error {
	n := len([]rune(pw))
	if n < 8 || n > 64 {
		return errors.New("a password has 8 to 64 characters")
	}
	var lower, upper, digit, other int
	for _, r := range pw {
		switch {
		case unicode.IsLower(r):
			lower = 1
		case unicode.IsUpper(r):
			upper = 1
		case unicode.IsDigit(r):
			digit = 1
		default:
			other = 1
		}
	}
	if lower+upper+digit+other < 3 {
		return errors.New("a password mixes three of: lower case, upper case, digits, other characters")
	}
	return nil
}

// argon2id parameters (RFC 9106's second recommended option, with two
// lanes for the appliance's cores).
const (
	argonTime    = 3
	argonMemory  = 64 * 1024 // KiB
	argonThreads = 2
	argonKeyLen  = 32
)

// Hash is the PHC string of pw's argon2id hash with a random salt.
func Hash(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify says whether pw matches the PHC string hash.
func Verify(hash, pw string) bool {
	h, ok := parseHash(hash)
	if !ok {
		return false
	}
	got := argon2.IDKey([]byte(pw), h.salt, h.t, h.m, h.p, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

type parsedHash struct {
	m, t      uint32
	p         uint8
	salt, key []byte
}

// parseHash reads $argon2id$v=19$m=…,t=…,p=…$salt$key within the bounds
// Verify accepts (a hash from outside, a bundle's, must not make it spend
// unbounded memory).
func parseHash(hash string) (parsedHash, bool) {
	var h parsedHash
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return h, false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.m, &h.t, &h.p); err != nil || h.m > 1<<20 || h.t > 16 || h.t == 0 || h.p == 0 {
		return h, false
	}
	b64 := base64.RawStdEncoding
	var err1, err2 error
	h.salt, err1 = b64.DecodeString(parts[4])
	h.key, err2 = b64.DecodeString(parts[5])
	return h, err1 == nil && err2 == nil && len(h.key) > 0
}

// IsHash says whether h is an argon2id hash Verify can check.
func IsHash(h string) bool {
	_, ok := parseHash(h)
	return ok
}

// CheckName says whether name can be an account's.
func CheckName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("an account name is 1 to 32 of a-z, 0-9, '.', '_', '-', starting with a letter")
	}
	return nil
}

// Accounts acts on the accounts table.
type Accounts struct {
	DB  *store.DB
	Now func() time.Time // nil: time.Now
}

func (a *Accounts) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// EnsureBuiltin creates the admin account (no password yet) if missing.
func (a *Accounts) EnsureBuiltin(ctx context.Context) error {
	if _, err := a.DB.GetAccount(ctx, Builtin); !errors.Is(err, store.ErrNoAccount) {
		return err
	}
	return a.DB.Write(ctx, func(tx *store.Tx) error {
		return store.PutAccount(tx, &store.Account{Name: Builtin, Role: Administrator, Created: a.now()})
	})
}

// Add creates an account without a password (account password sets it).
func (a *Accounts) Add(ctx context.Context, name, role string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if !slices.Contains(Roles, role) {
		return fmt.Errorf("a role is one of %s", strings.Join(Roles, ", "))
	}
	if _, err := a.DB.GetAccount(ctx, name); err == nil {
		return fmt.Errorf("account %s exists", name)
	}
	return a.DB.Write(ctx, func(tx *store.Tx) error {
		return store.PutAccount(tx, &store.Account{Name: name, Role: role, Created: a.now()})
	})
}

func (a *Accounts) change(ctx context.Context, name string, fn func(*store.Account) error) error {
	acc, err := a.DB.GetAccount(ctx, name)
	if err != nil {
		return fmt.Errorf("account %s: %w", name, err)
	}
	if err := fn(acc); err != nil {
		return err
	}
	return a.DB.Write(ctx, func(tx *store.Tx) error { return store.PutAccount(tx, acc) })
}

// SetPassword checks pw against the rule and sets it; the account is
// unlocked.
func (a *Accounts) SetPassword(ctx context.Context, name, pw string) error {
	if err := CheckPassword(pw); err != nil {
		return err
	}
	h, err := Hash(pw)
	if err != nil {
		return err
	}
	return a.change(ctx, name, func(acc *store.Account) error {
		acc.Hash, acc.Failures, acc.LockedUntil = h, 0, time.Time{}
		return nil
	})
}

// SetRole changes an account's role; admin stays an Administrator.
func (a *Accounts) SetRole(ctx context.Context, name, role string) error {
	if !slices.Contains(Roles, role) {
		return fmt.Errorf("a role is one of %s", strings.Join(Roles, ", "))
	}
	if name == Builtin && role != Administrator {
		return fmt.Errorf("the built-in %s account stays an administrator", Builtin)
	}
	return a.change(ctx, name, func(acc *store.Account) error { acc.Role = role; return nil })
}

// Unlock lifts a lockout.
func (a *Accounts) Unlock(ctx context.Context, name string) error {
	return a.change(ctx, name, func(acc *store.Account) error {
		acc.Failures, acc.LockedUntil = 0, time.Time{}
		return nil
	})
}

// Delete removes an account; admin cannot go.
func (a *Accounts) Delete(ctx context.Context, name string) error {
	if name == Builtin {
		return fmt.Errorf("the built-in %s account cannot be deleted", Builtin)
	}
	return a.DB.Write(ctx, func(tx *store.Tx) error { return store.DeleteAccount(tx, name) })
}

var (
	dummyOnce sync.Once
	dummyHash string
)

// ErrLoginFailed is every failed login's error: it does not say whether the
// name or the password was wrong.
var ErrLoginFailed = errors.New("login failed")

// ErrLocked: too many failures; the account waits for LockFor or an
// Administrator.
var ErrLocked = errors.New("account locked after too many failed logins")

// Authenticate checks a login. Failures are counted; the fifth in a row
// locks the account for LockFor.
func (a *Accounts) Authenticate(ctx context.Context, name, pw string) (*store.Account, error) {
	acc, err := a.DB.GetAccount(ctx, name)
	if errors.Is(err, store.ErrNoAccount) {
		dummyOnce.Do(func() { dummyHash, _ = Hash("no account has this password") })
		Verify(dummyHash, pw) // as long as a real check: the time tells no name
		return nil, ErrLoginFailed
	}
	if err != nil {
		return nil, err
	}
	now := a.now()
	if acc.LockedUntil.After(now) {
		return nil, ErrLocked
	}
	if acc.Hash == "" || !Verify(acc.Hash, pw) {
		err := a.change(ctx, name, func(x *store.Account) error {
			x.Failures++
			if x.Failures >= MaxFailures {
				x.Failures, x.LockedUntil = 0, now.Add(LockFor)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return nil, ErrLoginFailed
	}
	err = a.change(ctx, name, func(x *store.Account) error {
		x.Failures, x.LastLogin = 0, now
		return nil
	})
	return acc, err
}

// List is every account.
func (a *Accounts) List(ctx context.Context) ([]store.Account, error) { return a.DB.Accounts(ctx) }

// Import creates or updates accounts from a configuration bundle, in one
// transaction: the role and the password hash as exported; failures and
// locks start afresh; admin stays an administrator. Accounts the bundle
// does not name stay.
func (a *Accounts) Import(ctx context.Context, list []store.Account) error {
	return a.DB.Write(ctx, func(tx *store.Tx) error {
		for _, acc := range list {
			if acc.Name == Builtin {
				acc.Role = Administrator
			}
			acc.Failures, acc.LockedUntil, acc.LastLogin = 0, time.Time{}, time.Time{}
			if acc.Created.IsZero() {
				acc.Created = a.now()
			}
			if err := store.PutAccount(tx, &acc); err != nil {
				return err
			}
		}
		return nil
	})
}

// PendingHashFile is where the first-boot wizard and the console menu,
// root on a machine whose daemon may not run yet, leave admin's new
// password hash in the data directory; the daemon adopts it at its start
// and removes it.
const PendingHashFile = "admin.hash"

// AdoptPendingHash gives admin the hash in dataDir's PendingHashFile, if
// there is one, and removes the file; a file that holds no argon2id hash
// is removed and reported.
func (a *Accounts) AdoptPendingHash(ctx context.Context, dataDir string) (bool, error) {
	path := filepath.Join(dataDir, PendingHashFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer os.Remove(path)
	hash := strings.TrimSpace(string(data))
	if !IsHash(hash) {
		return false, fmt.Errorf("%s holds no password hash: ignored", path)
	}
	return true, a.change(ctx, Builtin, func(x *store.Account) error {
		x.Hash, x.Failures, x.LockedUntil = hash, 0, time.Time{}
		return nil
	})
}
