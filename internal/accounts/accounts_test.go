package accounts

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/store"
)

func TestPasswordRule(t *testing.T) {
	for pw, ok := range map[string]bool{
		"Tr0ub4dor": true, "correct horse Battery": true, "abc-DEF-ghi": true, "Sh0rt!": false,
		"alllowercase": false, "ALLUPPER123": false, "ALLUPPER-123": true, "12345678": false, strings.Repeat("aB1", 21) + "x": true,
		strings.Repeat("aB1", 22): false, "ünïcödé-ÄÖ": true,
	} {
		if err := CheckPassword(pw); (err == nil) != ok {
			t.Errorf("%q: %v, want ok %v", pw, err, ok)
		}
	}
}

func TestHashIsArgon2idAndVerifies(t *testing.T) {
	h, err := Hash("Tr0ub4dor&3")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("hash %s", h)
	}
	h2, _ := Hash("Tr0ub4dor&3")
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	if !Verify(h, "Tr0ub4dor&3") || Verify(h, "Tr0ub4dor&4") || Verify("$argon2id$garbage", "x") || Verify("", "") {
		t.Error("verify")
	}
}

// TestAccountsLifecycle: the built-in admin exists, cannot be deleted or
// demoted; an account gets a role and a password under the rule; five
// failed logins lock it for ten minutes, an unlock (or the time) lifts it;
// a successful login records itself.
func TestAccountsLifecycle(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "mi.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	a := &Accounts{DB: db, Now: func() time.Time { return now }}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.EnsureBuiltin(ctx))
	must(a.EnsureBuiltin(ctx))
	if err := a.Delete(ctx, Builtin); err == nil {
		t.Error("deleted admin")
	}
	if err := a.SetRole(ctx, Builtin, Operator); err == nil {
		t.Error("demoted admin")
	}
	if _, err := a.Authenticate(ctx, Builtin, "anything"); !errors.Is(err, ErrLoginFailed) {
		t.Errorf("admin without a password logged in: %v", err)
	}
	must(a.Add(ctx, "olga", Operator))
	for _, bad := range [][2]string{{"olga", Operator}, {"Bad Name", Operator}, {"ivan", "root"}} {
		if err := a.Add(ctx, bad[0], bad[1]); err == nil {
			t.Errorf("added %v", bad)
		}
	}
	if err := a.SetPassword(ctx, "olga", "short"); err == nil {
		t.Error("a password against the rule was set")
	}
	must(a.SetPassword(ctx, "olga", "Op3rator-pass"))
	acc, err := a.Authenticate(ctx, "olga", "Op3rator-pass")
	if err != nil || acc.Role != Operator {
		t.Fatalf("login: %+v %v", acc, err)
	}
	if got, _ := db.GetAccount(ctx, "olga"); !got.LastLogin.Equal(now) {
		t.Errorf("last login %s", got.LastLogin)
	}
	for i := 0; i < MaxFailures; i++ {
		if _, err := a.Authenticate(ctx, "olga", "wrong"); !errors.Is(err, ErrLoginFailed) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if _, err := a.Authenticate(ctx, "olga", "Op3rator-pass"); !errors.Is(err, ErrLocked) {
		t.Fatalf("after %d failures: %v, want locked", MaxFailures, err)
	}
	now = now.Add(LockFor + time.Second)
	if _, err := a.Authenticate(ctx, "olga", "Op3rator-pass"); err != nil {
		t.Fatalf("after the lock ran out: %v", err)
	}
	for i := 0; i < MaxFailures; i++ {
		a.Authenticate(ctx, "olga", "wrong")
	}
	must(a.Unlock(ctx, "olga"))
	if _, err := a.Authenticate(ctx, "olga", "Op3rator-pass"); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	if _, err := a.Authenticate(ctx, "nobody", "x"); !errors.Is(err, ErrLoginFailed) {
		t.Errorf("unknown name: %v", err)
	}
	must(a.SetRole(ctx, "olga", Investigator))
	must(a.Delete(ctx, "olga"))
	if list, _ := a.List(ctx); len(list) != 1 || list[0].Name != Builtin || list[0].Role != Administrator {
		t.Errorf("accounts %+v", list)
	}
}
