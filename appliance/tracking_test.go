package appliance

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/cli"
	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
)

// TestMessageTracking: show messages with filters finds the one message
// among others on the running daemon, by sender, risk, state, time,
// threat, policy and client address, as text and as JSON.
func TestMessageTracking(t *testing.T) {
	sink := testutil.NewSink(t)
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "policy.unrated": "deliver", "senders.blocked": "evil.example"})
	addr := a.SMTPAddr().String()
	must(t, send(t, addr, "bob@example.org", []string{"alice@example.com"}, testMessage("quarterly report", "")))
	must(t, send(t, addr, "x@evil.example", []string{"carol@example.com"}, testMessage("you won", "")))
	must(t, send(t, addr, "bob@example.org", []string{"dave@example.com"}, testMessage("lunch", "")))
	ctx := context.Background()
	var held string
	for deadline := time.Now().Add(10 * time.Second); held == ""; time.Sleep(50 * time.Millisecond) {
		ms, err := a.SearchMessages(ctx, cli.MessageQuery{State: store.StateQuarantined, Limit: 10})
		must(t, err)
		if len(ms) == 1 {
			held = ms[0].ID
		}
		if time.Now().After(deadline) {
			t.Fatal("the blocked sender's message was not quarantined")
		}
	}
	sink.WaitFor(t, 2, 10*time.Second)
	find := func(line string) []cli.MessageSummary {
		t.Helper()
		v, err := cli.Exec(ctx, a, line)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return v.([]cli.MessageSummary)
	}
	for line, want := range map[string]int{
		"show messages": 3,
		"show messages from EVIL.example risk high": 1,
		"show messages state quarantined since 1h":  1,
		"show messages subject report to alice":     1,
		"show messages from bob@ limit 1":           1,
		"show messages from bob@ limit 1 page 2":    1,
		"show messages from bob@ limit 1 page 3":    0,
		"show messages until 1h":                    0,
		"show messages client-ip 127.0.0.1":         3,
		"show messages client-ip 192.0.2.1":         0,
	} {
		if got := find(line); len(got) != want {
			t.Errorf("%q: %d messages, want %d: %+v", line, len(got), want, got)
		}
	}
	if got := find("show messages from evil risk high"); len(got) != 1 || got[0].ID != held || got[0].Subject != "you won" {
		t.Fatalf("found %+v, want %s", got, held)
	}
	d, err := a.Message(ctx, held)
	must(t, err)
	var policy, threat string
	for _, e := range d.Trail {
		if e.Stage == "policy" {
			policy, _, _ = strings.Cut(e.Detail, ":")
		}
	}
	for _, f := range d.Findings {
		if f.Threat != "" {
			threat = f.Threat
		}
	}
	if policy == "" || threat == "" {
		t.Fatalf("the held message has no policy entry or threat: %+v", d)
	}
	if got := find(`show messages policy "` + policy + `" threat "` + threat + `"`); len(got) != 1 || got[0].ID != held {
		t.Errorf("by policy %q and threat %q: %+v", policy, threat, got)
	}
	v, err := cli.Exec(ctx, a, "show messages from evil")
	must(t, err)
	js, err := cli.Render(v, true)
	must(t, err)
	if !strings.Contains(js, `"id": "`+held+`"`) || !strings.Contains(js, `"state": "quarantined"`) {
		t.Errorf("json:\n%s", js)
	}
}

// TestDiagnostics: test smtp reaches the downstream and says what it
// offers; test dns asks dns.resolver; neither is for an Operator.
func TestDiagnostics(t *testing.T) {
	sink := testutil.NewSink(t)
	bl := testutil.StartDNSBL(t, "bl.test")
	bl.List("2.0.0.127.bl.test.", "127.0.0.2")
	a := startApp(t, t.TempDir(), map[string]string{"dns.resolver": bl.Addr})
	ctx := context.Background()
	v, err := cli.Exec(ctx, a, "test smtp "+sink.Addr)
	must(t, err)
	text, _ := cli.Render(v, false)
	if !strings.Contains(text, "greeting and EHLO mi.test: ok") || !strings.Contains(text, "STARTTLS: not offered") {
		t.Errorf("test smtp:\n%s", text)
	}
	v, err = cli.Exec(ctx, a, "test dns 2.0.0.127.bl.test")
	must(t, err)
	if text, _ = cli.Render(v, false); !strings.Contains(text, "via "+bl.Addr) || !strings.Contains(text, "127.0.0.2") {
		t.Errorf("test dns:\n%s", text)
	}
	op := cli.WithCaller(ctx, cli.Caller{Who: "olga", Role: cli.RoleOperator})
	if _, err := cli.Exec(op, a, "test smtp "+sink.Addr); !errors.Is(err, cli.ErrForbidden) {
		t.Errorf("operator test smtp: %v", err)
	}
}
