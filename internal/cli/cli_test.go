package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSplitKeepsArgumentsAsData(t *testing.T) {
	cases := map[string][]string{
		`show message abc`:                     {"show", "message", "abc"},
		`  quarantine   release  x "a b@c.d" `: {"quarantine", "release", "x", "a b@c.d"},
		`show message 'x; rm -rf /'`:           {"show", "message", "x; rm -rf /"},
		`a""b`:                                 {"ab"},
		`""`:                                   {""},
	}
	for in, want := range cases {
		got, err := Split(in)
		if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("Split(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Split(`show "open`); !errors.Is(err, ErrUsage) {
		t.Errorf("unclosed quote: %v", err)
	}
}

type fakeBackend struct {
	Backend
	released []string
	query    MessageQuery
	audited  []AuditRecord
}

func (f *fakeBackend) RecordAudit(ctx context.Context, r AuditRecord) error {
	f.audited = append(f.audited, r)
	return nil
}

func (f *fakeBackend) Release(ctx context.Context, id string, rcpts []string) error {
	f.released = append([]string{id}, rcpts...)
	return nil
}

func (f *fakeBackend) SearchMessages(ctx context.Context, q MessageQuery) ([]MessageSummary, error) {
	f.query = q
	return []MessageSummary{{ID: "m1", From: "a@example.org", To: []string{"b@example.com"}, State: "delivered", Risk: "none", Action: "deliver"}}, nil
}

func TestExecGrammar(t *testing.T) {
	b := &fakeBackend{}
	ctx := context.Background()
	if _, err := Exec(ctx, b, "QUARANTINE Release m1 x@example.com y@example.com"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(b.released, " ") != "m1 x@example.com y@example.com" {
		t.Fatalf("released %v", b.released)
	}
	for _, bad := range []string{"", "show", "show message", "show message a b", "show messages 0", "show messages x", "frob"} {
		if _, err := Exec(ctx, b, bad); !errors.Is(err, ErrUsage) && !strings.Contains(fmtErr(err), "LIMIT") {
			t.Errorf("%q: %v, want a usage error", bad, err)
		}
	}
	v, err := Exec(ctx, b, "show messages 5")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := Render(v, false)
	if !strings.HasPrefix(text, "ID") || !strings.Contains(text, "m1") || !strings.Contains(text, "delivered") {
		t.Fatalf("text table:\n%s", text)
	}
	js, _ := Render(v, true)
	if !strings.Contains(js, `"id": "m1"`) || !strings.Contains(js, `"to": [`) {
		t.Fatalf("json:\n%s", js)
	}
	h, _ := Exec(ctx, b, "help")
	if ht, _ := Render(h, false); !strings.Contains(ht, "quarantine release ID [RCPT…]") {
		t.Fatalf("help:\n%s", ht)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// show analysis names a link as a link, a file by its hash and name.
func TestAnalysisText(t *testing.T) {
	link := analysisText(&Analysis{SHA256: "ab12", Name: "https://login.example/x", Image: "linux", State: "done", Risk: "medium"})
	file := analysisText(&Analysis{SHA256: "cd34", Name: "invoice.sh", Image: "linux", State: "error", Error: "va-error: x"})
	if !strings.HasPrefix(link, "Link https://login.example/x (key ab12), image linux") || !strings.Contains(link, "risk      medium") {
		t.Errorf("link:\n%s", link)
	}
	if !strings.HasPrefix(file, "Sample cd34 (invoice.sh), image linux") || !strings.Contains(file, "error     va-error: x") {
		t.Errorf("file:\n%s", file)
	}
}

// TestTextIsSafeForTheTerminal: what came with a message (subject, sender,
// HELO, file names in findings, a downstream's reply) is printed with its
// control characters, C1 controls and bidirectional overrides escaped:
// an escape sequence could rewrite the administrator's screen, a newline
// forge a line of the output. JSON keeps the data as it is, escaped by
// JSON itself.
func TestTextIsSafeForTheTerminal(t *testing.T) {
	evil := "hi\x1b]0;owned\x07\x1b[2J\r\nverdict   state delivered\u202egpj.exe\x9b"
	d := &MessageDetail{MessageSummary: MessageSummary{ID: "m1", From: evil, To: []string{evil}, Subject: evil, State: "quarantined"},
		Helo: evil, HeaderFrom: evil, MessageID: evil,
		Trail:      []TrailEntry{{Stage: "extraction", Outcome: "ok", Detail: evil}},
		Findings:   []Finding{{Risk: "high", Engine: "clamd", Name: evil, Location: evil, Detail: evil}},
		Recipients: []RecipientStatus{{Rcpt: evil, Status: "deferred", LastError: evil}}}
	for _, v := range []any{d, []MessageSummary{d.MessageSummary}, []QueueEntry{{ID: "m1", From: evil, Rcpt: evil, LastError: evil}}} {
		out, err := Render(v, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"\x1b", "\x07", "\r", "\u202e", "\x9b", "\nverdict   state delivered"} {
			if strings.Contains(out, bad) {
				t.Errorf("%T: output holds %q:\n%s", v, bad, out)
			}
		}
		if !strings.Contains(out, `\x1b]0;owned`) {
			t.Errorf("%T: the escape is not shown as one:\n%s", v, out)
		}
	}
}

// TestShowMessagesFilters: keyword–value filters in any order reach the
// backend as one query; a lone number is still the limit; what is wrong
// is a usage error saying what is allowed.
func TestShowMessagesFilters(t *testing.T) {
	b := &fakeBackend{}
	ctx := context.Background()
	before := time.Now()
	if _, err := Exec(ctx, b, `show messages risk HIGH from alice@ since 24h subject "quarterly report" limit 20 page 2 client-ip ::ffff:192.0.2.1`); err != nil {
		t.Fatal(err)
	}
	q := b.query
	if q.From != "alice@" || q.Risk != "high" || q.Subject != "quarterly report" || q.Limit != 20 || q.Page != 2 || q.ClientIP != "192.0.2.1" {
		t.Fatalf("query %+v", q)
	}
	if d := before.Sub(q.Since); d > 24*time.Hour || d < 24*time.Hour-time.Minute {
		t.Errorf("since 24h gave %s", q.Since)
	}
	if _, err := Exec(ctx, b, "show messages until 2026-12-01 since 7d state quarantined threat malware policy Finance action quarantine to bob message-id <x@y>"); err != nil {
		t.Fatal(err)
	}
	q = b.query
	if !q.Until.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) || q.State != "quarantined" || q.Threat != "malware" || q.Policy != "Finance" ||
		q.Action != "quarantine" || q.To != "bob" || q.MessageID != "<x@y>" || q.Limit != 100 || q.Page != 1 {
		t.Fatalf("query %+v", q)
	}
	if _, err := Exec(ctx, b, "show messages 7"); err != nil || b.query.Limit != 7 || b.query.From != "" {
		t.Fatalf("a lone number: %+v, %v", b.query, err)
	}
	for bad, says := range map[string]string{
		"show messages risk severe":      "risk is one of high, medium, unrated, low, none",
		"show messages state gone":       "state is one of",
		"show messages from":             "each filter is a keyword and a value",
		"show messages colour red":       `unknown filter "colour"`,
		"show messages limit 0":          "limit must be a number from 1 to 100000",
		"show messages since yesterday":  "is not an age",
		"show messages client-ip 1.2.3":  "not an IP address",
		"show messages page -1":          "page must be a number",
		"show messages since 24h from x": "",
	} {
		_, err := Exec(ctx, b, bad)
		if says == "" {
			if err != nil {
				t.Errorf("%q: %v", bad, err)
			}
			continue
		}
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), says) {
			t.Errorf("%q: %v, want a usage error saying %q", bad, err, says)
		}
	}
}

// TestChangesAreAudited: a command that changes something is recorded with
// who ran it, from where, and how it went (a failure too); a command that
// only shows is not.
func TestChangesAreAudited(t *testing.T) {
	b := &fakeBackend{}
	ctx := WithCaller(context.Background(), Caller{Who: "admin", Via: "control socket, uid 0 (root); ssh from 192.0.2.9", Role: RoleAdministrator})
	if _, err := Exec(ctx, b, "quarantine release m1 x@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := Exec(ctx, b, "show messages 3"); err != nil {
		t.Fatal(err)
	}
	if len(b.audited) != 1 {
		t.Fatalf("audited %+v", b.audited)
	}
	r := b.audited[0]
	if r.Who != "admin" || !strings.Contains(r.Via, "192.0.2.9") || r.Kind != "quarantine" || r.Command != "quarantine release m1 x@example.com" ||
		!r.OK || r.Detail != "released m1" {
		t.Errorf("record %+v", r)
	}
	// A failure is recorded too; without a caller, as the appliance's own.
	if _, err := Exec(context.Background(), b, "queue delete m9"); err == nil {
		t.Fatal("queue delete of an unknown message worked")
	}
	if len(b.audited) != 2 || b.audited[1].OK || b.audited[1].Who != "system" || b.audited[1].Detail != "message m9: no such message" {
		t.Errorf("failure record %+v", b.audited)
	}
}

func (f *fakeBackend) QueueDelete(ctx context.Context, id string) (int, error) {
	return 0, errors.New("message " + id + ": no such message")
}

func (f *fakeBackend) RawMessage(ctx context.Context, id string, full bool) (string, error) {
	return "Subject: hi\r\n\r\nbody \x1b[2J\r\n", nil
}

// TestRolesAreEnforcedByTheCommandLayer: an Operator reads but never a
// message's bytes and changes nothing; an Investigator reads bytes too;
// an Administrator does everything. A refused change is audited.
func TestRolesAreEnforcedByTheCommandLayer(t *testing.T) {
	b := &fakeBackend{}
	as := func(role string) context.Context {
		return WithCaller(context.Background(), Caller{Who: "someone", Via: "web", Role: role})
	}
	if _, err := Exec(as(RoleOperator), b, "show messages"); err != nil {
		t.Errorf("operator show messages: %v", err)
	}
	for _, line := range []string{"show raw m1", "quarantine release m1", "show accounts", "account add x operator"} {
		if _, err := Exec(as(RoleOperator), b, line); !errors.Is(err, ErrForbidden) {
			t.Errorf("operator %q: %v, want forbidden", line, err)
		}
	}
	v, err := Exec(as(RoleInvestigator), b, "show raw m1")
	if err != nil {
		t.Fatalf("investigator show raw: %v", err)
	}
	if text, _ := Render(v, false); !strings.Contains(text, "Subject: hi\n\nbody \\x1b[2J") || strings.Contains(text, "\x1b") {
		t.Errorf("raw text:\n%q", text)
	}
	if _, err := Exec(as(RoleInvestigator), b, "quarantine release m1"); !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "needs the administrator role") {
		t.Errorf("investigator release: %v", err)
	}
	if _, err := Exec(as("intruder"), b, "show messages"); !errors.Is(err, ErrForbidden) {
		t.Errorf("an unknown role read: %v", err)
	}
	refused, reads := 0, 0
	for _, r := range b.audited {
		if !r.OK && strings.Contains(r.Detail, "forbidden") {
			refused++
			if r.Kind == "access" {
				reads++
			}
		}
	}
	// Three changes (two by the operator, one by the investigator) and
	// three reads (show raw and show accounts by the operator, show
	// messages by a role nobody has).
	if refused != 6 || reads != 3 {
		t.Errorf("%d refusals audited, %d of them reads; want 6 and 3: %+v", refused, reads, b.audited)
	}
	if _, err := Exec(as(RoleAdministrator), b, "quarantine release m1"); err != nil {
		t.Errorf("administrator release: %v", err)
	}
}

func TestRedactHidesSecretSettings(t *testing.T) {
	for in, want := range map[string]string{
		"settings commit hub.key mih_abc smtp.max_recipients 5": "settings commit hub.key (secret) smtp.max_recipients 5",
		"settings commit confirmed 5 archive.passwords 'a b,c'": "settings commit confirmed 5 archive.passwords (secret)",
		"settings commit smtp.accepted_domains example.com":     "settings commit smtp.accepted_domains example.com",
		"quarantine release m1":                                 "quarantine release m1",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
