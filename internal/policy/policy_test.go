package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailinspector/internal/analysis"
	"mailinspector/internal/store"
)

const sample = `# comment
policy "Executives"
  direction inbound
  recipients ceo@example.com, .board.example.com
  high delete notify soc@example.com
  threat content violation quarantine   # two-word threat
policy "Everyone"
  high quarantine notify soc@example.com, sec@example.com
  medium change-recipient review@example.com
  none deliver bcc archive@example.com
`

func TestParsePolicies(t *testing.T) {
	ps, err := Parse("p", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Name != "Executives" || ps[0].Direction != "inbound" || len(ps[0].Recipients) != 2 || len(ps[0].Rules) != 2 {
		t.Fatalf("%+v", ps)
	}
	if r := ps[0].Rules[1]; r.Match != "threat content violation" || r.Actions[0].Kind != "quarantine" {
		t.Fatalf("threat rule %+v", r)
	}
	if a := ps[1].Rules[0].Actions[1]; a.Kind != "notify" || strings.Join(a.Args, " ") != "soc@example.com sec@example.com" {
		t.Fatalf("notify %+v", a)
	}
}

func TestParseListsEveryError(t *testing.T) {
	bad := "high quarantine\npolicy Unquoted\n  direction sideways\n  high explode\n  medium notify\n  threat gremlins delete\n  bcc x@example.com\n  low bcc not-an-address\n"
	_, err := Parse("p", []byte(bad))
	if err == nil {
		t.Fatal("bad policies parsed")
	}
	for _, want := range []string{"p:1: \"high\" before the first policy", `p:2: want policy "NAME"`, "p:3: direction must be",
		`p:4: unknown action "explode"`, "p:5: notify needs at least one address", `p:6: unknown threat type "gremlins"`,
		`p:7: unknown word "bcc"`, `p:8: bcc: "not-an-address" is not an address`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
}

func TestDecide(t *testing.T) {
	ps, _ := Parse("p", []byte(sample))
	e := Engine{Policies: ps, SubjectTag: "[Suspicious]", AcceptedDomains: []string{"example.com", ".board.example.com"}, Hostname: "mi.test"}
	msg := func(to ...string) *store.Message {
		return &store.Message{ID: "m1", From: "x@evil.example", To: to}
	}
	high := analysis.Report{Risk: "high", Subject: "Invoice", Attachments: []string{"a.zip"},
		Findings: []store.Finding{{Threat: "malware", Risk: "high", Name: "sig"}}}
	blocked := analysis.Report{Risk: "high", Findings: []store.Finding{{Threat: "content violation", Risk: "high"}}}
	cases := []struct {
		name  string
		m     *store.Message
		rep   analysis.Report
		state string
		check func(d Decision) bool
	}{
		{"executive high: delete and notify", msg("ceo@example.com"), high, store.StateDeleted, func(d Decision) bool {
			return len(d.Extra) == 1 && strings.Contains(string(d.Extra[0].Body), "Attachments: a.zip") &&
				strings.Contains(string(d.Extra[0].Body), "Threats:     malware") && d.Extra[0].To[0] == "soc@example.com"
		}},
		{"executive, threat rule wins", msg("x@team.board.example.com"), blocked, store.StateQuarantined, func(d Decision) bool {
			return d.Rule == "Executives: threat content violation" && len(d.Extra) == 0
		}},
		{"everyone high", msg("alice@example.com"), high, store.StateQuarantined, func(d Decision) bool {
			return len(d.Extra) == 1 && len(d.Extra[0].To) == 2 && d.Reason == "threat"
		}},
		{"medium: change recipient", msg("alice@example.com"), analysis.Report{Risk: "medium"}, store.StateQueued, func(d Decision) bool {
			return strings.Join(d.Recipients, ",") == "review@example.com"
		}},
		{"none: deliver and bcc", msg("alice@example.com"), analysis.Report{Risk: "none"}, store.StateQueued, func(d Decision) bool {
			return strings.Join(d.Bcc, ",") == "archive@example.com" && d.Action == "deliver, bcc archive@example.com"
		}},
		{"low: no rule, delivered", msg("alice@example.com"), analysis.Report{Risk: "low"}, store.StateQueued, func(d Decision) bool {
			return d.Action == "deliver" && d.Rule == "Everyone"
		}},
	}
	for _, c := range cases {
		d := e.Decide(c.m, c.rep)
		if d.State != c.state || !c.check(d) {
			t.Errorf("%s: %+v", c.name, d)
		}
	}
	// BCC mode records only.
	e.BCC = true
	if d := e.Decide(msg("ceo@example.com"), high); d.State != store.StateMonitored || d.Action != "monitor: delete, notify soc@example.com" || len(d.Extra) != 0 {
		t.Errorf("bcc mode: %+v", d)
	}
	// Without policies: the default.
	d := Engine{SubjectTag: "[S]"}.Decide(msg("a@example.com"), analysis.Report{Risk: "medium", Findings: []store.Finding{{Threat: "suspicious file"}}})
	if d.Action != "tag" || d.Rewrite.SubjectPrefix != "[S] " || d.Rewrite.AddHeaders[1] != "X-MailInspector-Threats: suspicious file" {
		t.Errorf("default: %+v %+v", d, d.Rewrite)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := Parse("f", data)
		if err == nil {
			for _, p := range ps {
				for _, r := range p.Rules {
					if len(r.Actions) == 0 {
						t.Fatalf("rule without actions accepted: %+v", r)
					}
				}
			}
		}
	})
}

func TestMessageExceptionsAreDelivered(t *testing.T) {
	e := Engine{ExceptSenders: []string{".partner.example"}, ExceptRecipients: []string{"abuse@example.com"}}
	high := analysis.Report{Risk: "high", Findings: []store.Finding{{Threat: "malware", Risk: "high"}}}
	for _, m := range []*store.Message{
		{From: "x@mail.partner.example", To: []string{"a@example.com", "b@example.com"}},
		{From: "x@evil.example", To: []string{"Abuse@Example.com"}},
	} {
		g := e.DecideEach(m, high)
		if len(g) != 1 || g[0].Decision.State != store.StateQueued || !strings.HasPrefix(g[0].Decision.Rule, "message exception") {
			t.Errorf("%v: %+v", m, g)
		}
	}
	if d := e.Decide(&store.Message{From: "x@evil.example", To: []string{"a@example.com"}}, high); d.State != store.StateQuarantined {
		t.Errorf("no exception: %+v", d)
	}
}

// TestRecipientsSplitPerDecision: an exempted co-recipient never exempts
// the others, and a policy scoped to some recipients decides for those
// alone: each group of recipients gets its own decision, in the order of
// its first recipient.
func TestRecipientsSplitPerDecision(t *testing.T) {
	pols, err := Parse("p", []byte("policy \"Executives\"\n  recipients ceo@example.com\n  high delete\npolicy \"Everyone\"\n  high quarantine\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := Engine{Policies: pols, ExceptRecipients: []string{"abuse@example.com"}, AcceptedDomains: []string{"example.com"}}
	high := analysis.Report{Risk: "high", Findings: []store.Finding{{Threat: "malware", Risk: "high"}}}
	m := &store.Message{From: "x@evil.example", To: []string{"abuse@example.com", "ceo@example.com", "bob@example.com", "alice@example.com"}}
	var got []string
	for _, g := range e.DecideEach(m, high) {
		got = append(got, strings.Join(g.Rcpts, "+")+": "+g.Decision.State+" by "+g.Decision.Rule)
	}
	want := []string{"abuse@example.com: queued by message exception: recipient abuse@example.com",
		"ceo@example.com: deleted by Executives: high", "bob@example.com+alice@example.com: quarantined by Everyone: high"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("groups\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// One decision for all: one group.
	if g := e.DecideEach(&store.Message{From: "x@evil.example", To: []string{"bob@example.com", "alice@example.com"}}, high); len(g) != 1 {
		t.Fatalf("%+v", g)
	}
}

// Mail the virtual analyzer could not judge: sandbox.on_timeout and
// sandbox.on_error quarantine it with the reason, unless set to deliver; a
// decision that already holds the message back stays as it is.
func TestUnanalysedMail(t *testing.T) {
	m := &store.Message{ID: "m1", From: "bob@example.org", To: []string{"alice@example.com"}}
	rep := func(names ...string) analysis.Report {
		r := analysis.Report{Risk: analysis.RiskUnrated}
		for _, n := range names {
			r.Findings = append(r.Findings, store.Finding{Engine: "virtual-analyzer", Name: n, Risk: analysis.RiskUnrated})
		}
		return r
	}
	for _, tc := range []struct {
		e      Engine
		rep    analysis.Report
		state  string
		reason string
	}{
		{Engine{}, rep(analysis.VATimeout), store.StateQuarantined, analysis.VATimeout},
		{Engine{}, rep(analysis.VAError), store.StateQuarantined, analysis.VAError},
		{Engine{OnVATimeout: "deliver"}, rep(analysis.VATimeout), store.StateQueued, ""},
		{Engine{OnVATimeout: "deliver"}, rep(analysis.VATimeout, analysis.VAError), store.StateQuarantined, analysis.VAError},
		{Engine{OnVAError: "deliver", OnVATimeout: "deliver"}, rep(analysis.VAError), store.StateQueued, ""},
		{Engine{}, rep(), store.StateQueued, ""},
		{Engine{BCC: true}, rep(analysis.VAError), store.StateMonitored, analysis.VAError},
	} {
		d := tc.e.Decide(m, tc.rep)
		if d.State != tc.state || d.Reason != tc.reason {
			t.Errorf("%+v with %d findings: %s/%q, want %s/%q (action %q)", tc.e, len(tc.rep.Findings), d.State, d.Reason, tc.state, tc.reason, d.Action)
		}
	}
	// High risk from another engine is quarantined for the threat.
	r := rep(analysis.VAError)
	r.Risk = analysis.RiskHigh
	r.Findings = append(r.Findings, store.Finding{Engine: "clamd", Threat: "malware", Risk: analysis.RiskHigh, Name: "Eicar"})
	if d := (Engine{}).Decide(m, r); d.State != store.StateQuarantined || d.Reason != "threat" {
		t.Errorf("high risk: %+v", d)
	}
}

// TestWhatCouldNotBeJudgedIsHeld: the default policy holds unscannable
// content (reason unscannable) below high risk, whatever its other risk;
// an unrated message with nothing unscannable is delivered tagged unrated,
// never as clean; high risk is still a threat. Each of the default's rules
// is a setting.
func TestWhatCouldNotBeJudgedIsHeld(t *testing.T) {
	unscannable := analysis.Finding{Engine: "extraction", Risk: analysis.RiskUnrated, Name: analysis.Unscannable, Location: "part 2"}
	notScanned := analysis.Finding{Engine: "pattern-engine", Risk: analysis.RiskUnrated, Name: analysis.NotScanned}
	medium := analysis.Finding{Engine: "extraction", Risk: analysis.RiskMedium, Threat: "suspicious file", Name: "disguised-executable"}
	high := analysis.Finding{Engine: "clamd", Risk: analysis.RiskHigh, Threat: "malware", Name: "Eicar"}
	m := &store.Message{ID: "m1", From: "bob@example.org", To: []string{"alice@example.com"}}
	cases := []struct {
		name     string
		findings []analysis.Finding
		defaults Defaults
		state    string
		reason   string
		rule     string
		header   string // the risk header a delivered message carries, if any
	}{
		{"unscannable", []analysis.Finding{unscannable}, BuiltIn, store.StateQuarantined, "unscannable", "Default: unscannable", ""},
		{"unscannable beats medium", []analysis.Finding{medium, unscannable}, BuiltIn, store.StateQuarantined, "unscannable", "Default: unscannable", ""},
		{"high beats unscannable", []analysis.Finding{unscannable, high}, BuiltIn, store.StateQuarantined, "threat", "Default: high", ""},
		{"not scanned text", []analysis.Finding{notScanned}, BuiltIn, store.StateQueued, "", "Default: unrated", "X-MailInspector-Risk: unrated"},
		{"the setting", []analysis.Finding{unscannable}, Defaults{High: "quarantine", Unscannable: "tag", Medium: "tag", Unrated: "deliver"},
			store.StateQueued, "", "Default: unscannable", "X-MailInspector-Risk: unrated"},
		{"unrated let through unmarked", []analysis.Finding{notScanned}, Defaults{High: "quarantine", Unscannable: "quarantine", Medium: "tag", Unrated: "deliver"},
			store.StateQueued, "", "Default: unrated", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pols, err := Default(c.defaults)
			if err != nil {
				t.Fatal(err)
			}
			rep := analysis.Report{Findings: c.findings, Risk: analysis.RiskNone}
			for _, f := range c.findings {
				if analysis.Rank(f.Risk) > analysis.Rank(rep.Risk) {
					rep.Risk = f.Risk
				}
			}
			d := Engine{Policies: pols}.Decide(m, rep)
			if d.State != c.state || d.Reason != c.reason || d.Rule != c.rule {
				t.Fatalf("decision %+v, want %s %q by %q", d, c.state, c.reason, c.rule)
			}
			var headers []string
			if d.Rewrite != nil {
				headers = d.Rewrite.AddHeaders
			}
			if got := strings.Join(headers, "\n"); !strings.Contains(got, c.header) || c.header == "" && got != "" {
				t.Fatalf("headers %q, want %q", got, c.header)
			}
		})
	}
	if _, err := Default(Defaults{High: "explode", Unscannable: "", Medium: "tag", Unrated: "deliver"}); err == nil ||
		!strings.Contains(err.Error(), `policy.high: unknown action "explode"`) || !strings.Contains(err.Error(), "policy.unscannable: no action") {
		t.Fatalf("bad defaults: %v", err)
	}
}

// TestPoliciesWithoutAnUnscannableRuleHoldIt: a policies file whose policy
// has no unscannable rule gets the default's, so content nothing judged
// is held unless the administrator wrote otherwise.
func TestPoliciesWithoutAnUnscannableRuleHoldIt(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, FileName), []byte("policy \"A\"\n  high delete\npolicy \"B\"\n  unscannable deliver\n"), 0o600))
	pols, err := LoadOrDefault(dir, BuiltIn)
	must(err)
	if !hasRule(&pols[0], UnscannableRule) || pols[0].Rules[len(pols[0].Rules)-1].Actions[0].Kind != "quarantine" {
		t.Fatalf("policy A: %+v", pols[0].Rules)
	}
	if len(pols[1].Rules) != 1 || pols[1].Rules[0].Actions[0].Kind != "deliver" {
		t.Fatalf("policy B keeps its own: %+v", pols[1].Rules)
	}
}

// TestClamdOnError: engine.clamd_on_error quarantine (and defer, once its
// wait is over) holds a message the pattern engine could not scan,
// whatever the policy says; pass leaves it to the policy.
func TestClamdOnError(t *testing.T) {
	notScanned := analysis.Finding{Engine: "pattern-engine", Risk: analysis.RiskUnrated, Name: analysis.NotScanned}
	m := &store.Message{ID: "m1", From: "bob@example.org", To: []string{"alice@example.com"}}
	rep := analysis.Report{Findings: []analysis.Finding{notScanned}, Risk: analysis.RiskUnrated}
	for mode, want := range map[string]string{analysis.ClamdPass: store.StateQueued, analysis.ClamdQuarantine: store.StateQuarantined,
		analysis.ClamdDefer: store.StateQuarantined} {
		d := Engine{Policies: DefaultPolicies(), OnClamdError: mode}.Decide(m, rep)
		if d.State != want || want == store.StateQuarantined && (d.Reason != "unscannable" || d.Rule != "Default: unrated") {
			t.Errorf("%s: %+v", mode, d)
		}
	}
}
