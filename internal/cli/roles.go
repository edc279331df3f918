package cli

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Roles, as the accounts have them (internal/accounts), from least to most
// allowed: an Operator reads but never a message's bytes, an Investigator
// reads everything, an Administrator also changes things. The command
// layer, not a front end, refuses what a role may not do.
const (
	RoleOperator      = "operator"
	RoleInvestigator  = "investigator"
	RoleAdministrator = "administrator"
)

func roleLevel(role string) int {
	switch role {
	case RoleAdministrator:
		return 2
	case RoleInvestigator:
		return 1
	case RoleOperator:
		return 0
	}
	return -1 // unknown: nothing
}

// ErrForbidden: the caller's role may not run the command.
var ErrForbidden = errors.New("forbidden")

// need is the least role a command asks: a command that changes something
// is for Administrators; one that shows a message's bytes for
// Investigators; the rest for every role.
func (c command) need() string {
	switch {
	case c.kind != "" || c.admin:
		return RoleAdministrator
	case c.body:
		return RoleInvestigator
	}
	return RoleOperator
}

func allowed(ctx context.Context, c command) error {
	caller := CallerOf(ctx)
	if roleLevel(caller.Role) >= roleLevel(c.need()) {
		return nil
	}
	return fmt.Errorf("%w: %s (role %s) may not run %q: it needs the %s role", ErrForbidden, caller.Who, caller.Role, c.synopsis(), c.need())
}

type secretKey struct{}

// WithSecret carries a secret (a new password) beside the command line,
// never in it: command lines are logged and audited.
func WithSecret(ctx context.Context, s string) context.Context {
	return context.WithValue(ctx, secretKey{}, s)
}

// SecretOf is the secret WithSecret gave, if any.
func SecretOf(ctx context.Context) string {
	s, _ := ctx.Value(secretKey{}).(string)
	return s
}

// AccountInfo is one account in show accounts.
type AccountInfo struct {
	Name        string `json:"name"`
	Role        string `json:"role"`
	Password    bool   `json:"password_set"`
	Created     string `json:"created"`
	LastLogin   string `json:"last_login,omitempty"`
	LockedUntil string `json:"locked_until,omitempty"`
}

func accountsTable(as []AccountInfo) string {
	rows := make([][]string, 0, len(as))
	for _, a := range as {
		pw := "set"
		if !a.Password {
			pw = "none yet"
		}
		locked := ""
		if a.LockedUntil != "" {
			if t, err := time.Parse(time.RFC3339, a.LockedUntil); err == nil && t.After(time.Now()) {
				locked = "until " + a.LockedUntil
			}
		}
		rows = append(rows, []string{term(a.Name), term(a.Role), pw, term(a.LastLogin), locked})
	}
	return table("no accounts", []string{"NAME", "ROLE", "PASSWORD", "LAST LOGIN", "LOCKED"}, rows)
}

type inputKey struct{}

// WithInput carries what the person gave on standard input (a whole
// policies file) beside the command line.
func WithInput(ctx context.Context, in string) context.Context {
	return context.WithValue(ctx, inputKey{}, in)
}

// InputOf is the input WithInput gave, if any.
func InputOf(ctx context.Context) string {
	s, _ := ctx.Value(inputKey{}).(string)
	return s
}
