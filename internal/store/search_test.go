package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tracked is a message for the search tests, with what it was found and
// decided by.
type tracked struct {
	id, from, to, subject, risk, state, action, msgid, ip, threat, policy string
	at                                                                    time.Time
}

func searchDB(t testing.TB, ms []tracked) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "mi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.Write(context.Background(), func(tx *Tx) error {
		for _, m := range ms {
			if err := InsertMessage(tx, &Message{ID: m.id, Received: m.at, From: m.from, To: []string{m.to}, ClientIP: m.ip,
				Subject: m.subject, MessageID: m.msgid, Size: 1, State: StateReceived}); err != nil {
				return err
			}
			v := &Verdict{State: m.state, Risk: m.risk, Action: m.action, Subject: m.subject, MessageID: m.msgid,
				Trail: []TrailEntry{{At: m.at, Stage: "policy", Outcome: "ok", Detail: m.policy + " -> " + m.action}}}
			if m.threat != "" {
				v.Findings = []Finding{{Stage: "pattern-engine", Engine: "clamd", Threat: m.threat, Risk: m.risk, Name: "Eicar"}}
			}
			if err := SaveVerdict(tx, m.id, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func ids(ms []*Message) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return strings.Join(out, " ")
}

// TestSearchMessages: each filter alone and together; substrings on
// addresses and subject (whatever the case; % and _ are themselves),
// exact values on the rest; newest first, paged.
func TestSearchMessages(t *testing.T) {
	now := time.Now()
	day := 24 * time.Hour
	db := searchDB(t, []tracked{
		{"m1", "alice@example.org", "bob@example.com", "Invoice 100% due", "high", StateQuarantined, "quarantine", "<a@x>", "192.0.2.1", "malware", "Default: high", now.Add(-3 * day)},
		{"m2", "carol@example.net", "Bob@Example.com", "lunch", "none", StateDelivered, "deliver", "<b@x>", "192.0.2.2", "", "Default", now.Add(-2 * day)},
		{"m3", "ALICE@example.org", "dave@example.com", "invoice_x", "medium", StateDelivered, "pass and tag", "<c@x>", "192.0.2.1", "suspicious file", "Finance: medium", now.Add(-time.Hour)},
		{"m4", "eve@evil.test", "bob@example.com", "win", "high", StateQuarantined, "quarantine", "<d@x>", "198.51.100.9", "phishing", "Finance: phishing", now.Add(-time.Minute)},
	})
	ctx := context.Background()
	cases := []struct {
		name string
		f    MessageFilter
		want string
	}{
		{"all, newest first", MessageFilter{}, "m4 m3 m2 m1"},
		{"from, any case", MessageFilter{From: "alice@"}, "m3 m1"},
		{"to, any case", MessageFilter{To: "bob@example.COM"}, "m4 m2 m1"},
		{"subject part", MessageFilter{Subject: "INVOICE"}, "m3 m1"},
		{"a percent sign is itself", MessageFilter{Subject: "100%"}, "m1"},
		{"an underscore is itself", MessageFilter{Subject: "e_x"}, "m3"},
		{"risk", MessageFilter{Risk: "high"}, "m4 m1"},
		{"state", MessageFilter{State: StateDelivered}, "m3 m2"},
		{"action, exact", MessageFilter{Action: "pass and tag"}, "m3"},
		{"action is not a substring", MessageFilter{Action: "tag"}, ""},
		{"threat", MessageFilter{Threat: "malware"}, "m1"},
		{"message-id", MessageFilter{MessageID: "<b@x>"}, "m2"},
		{"client ip", MessageFilter{ClientIP: "192.0.2.1"}, "m3 m1"},
		{"policy with a rule", MessageFilter{Policy: "Finance"}, "m4 m3"},
		{"policy without one", MessageFilter{Policy: "Default"}, "m2 m1"},
		{"policy is not a prefix", MessageFilter{Policy: "Def"}, ""},
		{"since", MessageFilter{Since: now.Add(-day)}, "m4 m3"},
		{"until", MessageFilter{Until: now.Add(-day)}, "m2 m1"},
		{"together", MessageFilter{From: "alice", Risk: "medium", Since: now.Add(-day), ClientIP: "192.0.2.1"}, "m3"},
		{"limit", MessageFilter{Limit: 3}, "m4 m3 m2"},
		{"page 2", MessageFilter{Limit: 3, Page: 2}, "m1"},
		{"page past the end", MessageFilter{Limit: 3, Page: 3}, ""},
	}
	for _, c := range cases {
		ms, err := db.SearchMessages(ctx, c.f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := ids(ms); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestSearchCommonAndRareValues: a state or a threat past commonRows is
// found by walking the newest messages, a rare one by its index; both
// give the same messages, newest first, paged.
func TestSearchCommonAndRareValues(t *testing.T) {
	var ms []tracked
	start := time.Now().Add(-time.Hour)
	for i := 0; i < 2*commonRows+500; i++ {
		m := tracked{id: fmt.Sprintf("c%05d", i), from: "a@example.org", to: "b@example.com", risk: "none", state: "delivered", action: "deliver",
			at: start.Add(time.Duration(i) * time.Millisecond)}
		switch {
		case i%2 == 0:
			m.state, m.threat, m.risk, m.action = "quarantined", "malware", "high", "quarantine"
		case i%997 == 1:
			m.state, m.threat, m.risk = "bounced", "phish", "high"
		}
		ms = append(ms, m)
	}
	db := searchDB(t, ms)
	want := func(keep func(tracked) bool, page, limit int) string {
		var out []string
		for i := len(ms) - 1; i >= 0; i-- {
			if keep(ms[i]) {
				out = append(out, ms[i].id)
			}
		}
		lo := min((page-1)*limit, len(out))
		return strings.Join(out[lo:min(lo+limit, len(out))], " ")
	}
	for _, c := range []struct {
		name string
		f    MessageFilter
		keep func(tracked) bool
	}{
		{"common state", MessageFilter{State: "quarantined", Limit: 7, Page: 3}, func(m tracked) bool { return m.state == "quarantined" }},
		{"rare state", MessageFilter{State: "bounced", Limit: 3}, func(m tracked) bool { return m.state == "bounced" }},
		{"common threat", MessageFilter{Threat: "malware", Limit: 7, Page: 2}, func(m tracked) bool { return m.threat == "malware" }},
		{"rare threat", MessageFilter{Threat: "phish", Limit: 50}, func(m tracked) bool { return m.threat == "phish" }},
	} {
		got, err := db.SearchMessages(context.Background(), c.f)
		if err != nil {
			t.Fatal(err)
		}
		if ids(got) != want(c.keep, max(c.f.Page, 1), c.f.Limit) {
			t.Errorf("%s: %s, want %s", c.name, ids(got), want(c.keep, max(c.f.Page, 1), c.f.Limit))
		}
	}
	if !db.common(context.Background(), `SELECT 1 FROM messages WHERE state = ?`, "quarantined") ||
		db.common(context.Background(), `SELECT 1 FROM findings WHERE threat = ?`, "phish") {
		t.Error("the test does not cover both forms")
	}
}
