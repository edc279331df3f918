package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"mailinspector/internal/settings"
)

// Caller is who runs a command and from where: the account, and how it
// reached the command layer (the control socket's peer, the SSH client,
// the console's tty). The audit log names both.
type Caller struct {
	Who  string
	Via  string
	Role string // RoleAdministrator, RoleInvestigator, RoleOperator
}

type callerKey struct{}

// WithCaller is ctx carrying who runs the commands.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerOf is who runs the command: as WithCaller said, else the
// appliance itself (a test, or the daemon's own use).
func CallerOf(ctx context.Context) Caller {
	if c, ok := ctx.Value(callerKey{}).(Caller); ok {
		return c
	}
	return Caller{Who: "system", Via: "in-process", Role: RoleAdministrator}
}

// AuditRecord is one line of the audit log (show audit).
type AuditRecord struct {
	At      string `json:"at"`
	Who     string `json:"who"`
	Via     string `json:"via"`
	Kind    string `json:"kind"`
	Command string `json:"command"`
	OK      bool   `json:"ok"`
	Detail  string `json:"detail,omitempty"`
	Before  string `json:"before,omitempty"`
	After   string `json:"after,omitempty"`
}

// AuditQuery is show audit's filters.
type AuditQuery struct {
	Who, Kind    string
	Since, Until time.Time
	Limit        int
}

func parseAuditQuery(args []string, now time.Time) (AuditQuery, error) {
	q := AuditQuery{Limit: 100}
	const syn = "show audit [who ACCOUNT] [kind KIND] [since 24h|DATE] [until 24h|DATE] [limit N]"
	if len(args)%2 != 0 {
		return q, fmt.Errorf("%w: %s", ErrUsage, syn)
	}
	for i := 0; i < len(args); i += 2 {
		var err error
		switch v := args[i+1]; strings.ToLower(args[i]) {
		case "who":
			q.Who = v
		case "kind":
			q.Kind = strings.ToLower(v)
		case "since":
			q.Since, err = when(v, now)
		case "until":
			q.Until, err = when(v, now)
		case "limit":
			q.Limit, err = number("limit", v, 100000)
		default:
			err = fmt.Errorf("%w: unknown filter %q: %s", ErrUsage, args[i], syn)
		}
		if err != nil {
			return q, err
		}
	}
	return q, nil
}

func auditTable(rs []AuditRecord) string {
	rows := make([][]string, 0, len(rs))
	for _, r := range rs {
		ok := "ok"
		if !r.OK {
			ok = "FAILED"
		}
		rows = append(rows, []string{term(r.At), cut(r.Who, 24), cut(r.Via, 40), cut(r.Kind, 16), cut(r.Command, 60), ok, cut(r.Detail, 60)})
	}
	return table("no audit entries", []string{"AT", "WHO", "VIA", "KIND", "COMMAND", "RESULT", "DETAIL"}, rows)
}

// Redact is a command line as it may be logged and audited: the values of
// secret settings (settings.Secret) in a settings commit are replaced.
func Redact(line string) string {
	w, err := Split(line)
	if err != nil || len(w) < 4 || !strings.EqualFold(w[0], "settings") || !strings.EqualFold(w[1], "commit") {
		return line
	}
	rest := w[2:]
	if strings.EqualFold(rest[0], "confirmed") && len(rest) > 2 {
		rest = rest[2:]
	}
	changed := false
	for i := 0; i+1 < len(rest); i += 2 {
		if settings.Secret(rest[i]) {
			rest[i+1], changed = "(secret)", true
		}
	}
	if !changed {
		return line
	}
	return strings.Join(w, " ")
}
