// Package policy decides what happens to a message from its analysis. An
// ordered list of policies (policies.conf in the data directory, or the
// default: quarantine high risk, hold attachments that could not be judged,
// pass and tag medium and unrated, deliver the rest);
// the first whose scope matches the message decides by the first matching
// rule: a threat type found, else the message's risk. Actions as DDEI
// names them: deliver, tag, quarantine, delete, change-recipient, bcc,
// strip, notify. In BCC mode the decision is only recorded ("monitor: …").
package policy

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"mailinspector/internal/analysis"
	"mailinspector/internal/store"
)

// Defaults are the actions of the default policy, which applies without a
// policies file (settings policy.high, policy.unscannable, policy.medium,
// policy.unrated), each in the grammar of a rule's actions.
type Defaults struct {
	High, Unscannable, Medium, Unrated string
}

// BuiltIn is the default policy's out of the box: quarantine high risk,
// hold unscannable content (releasable), pass and tag medium risk and the
// rest of what is unrated (never passed as clean), deliver the rest.
var BuiltIn = Defaults{High: "quarantine", Unscannable: "quarantine", Medium: "tag", Unrated: "tag"}

// Default builds the default policy; every error is listed.
func Default(d Defaults) ([]Policy, error) {
	pol := Policy{Name: "Default", Direction: "any"}
	var errs ErrorList
	for _, r := range []struct{ match, key, actions string }{
		{"high", "policy.high", d.High}, {UnscannableRule, "policy.unscannable", d.Unscannable},
		{"medium", "policy.medium", d.Medium}, {"unrated", "policy.unrated", d.Unrated},
	} {
		acts := parseActions(r.actions, 0, func(_ int, format string, args ...any) {
			errs = append(errs, r.key+": "+fmt.Sprintf(format, args...))
		})
		pol.Rules = append(pol.Rules, Rule{Match: r.match, Actions: acts})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return []Policy{pol}, nil
}

// DefaultPolicies is the built-in default policy.
func DefaultPolicies() []Policy {
	p, err := Default(BuiltIn)
	if err != nil {
		panic(err) // the built-in actions parse
	}
	return p
}

// UnscannableRule is the rule for content that could not be judged (a
// finding named analysis.Unscannable): it wins over every risk rule but
// high's.
const UnscannableRule = "unscannable"

// DefaultTemplate is the notification text; the tokens are replaced.
const DefaultTemplate = `Mail Inspector took action on a message.

Action:      %ACTION%
Policy/rule: %RULE%
Risk:        %RISK%
Threats:     %THREATS%
Sender:      %SENDER%
Recipients:  %RECIPIENTS%
Subject:     %SUBJECT%
Attachments: %ATTACHMENTS%
Message:     %MESSAGE_ID%
`

// Engine applies the policies.
type Engine struct {
	Policies        []Policy // in order; empty: DefaultPolicies
	BCC             bool     // monitoring only
	SubjectTag      string
	AcceptedDomains []string // recipients here make a message inbound
	Hostname        string
	Template        string // notification text; empty: DefaultTemplate
	// Message-level exceptions: such mail is always delivered.
	ExceptSenders    []string
	ExceptRecipients []string
	// OnVATimeout and OnVAError ("quarantine" or "deliver"; empty:
	// quarantine) apply to mail the virtual analyzer could not judge.
	OnVATimeout string
	OnVAError   string
	// OnClamdError is engine.clamd_on_error: with quarantine or defer,
	// mail the pattern engine could not scan is quarantined (reason
	// unscannable) whatever the policies say; with pass the policies
	// decide.
	OnClamdError string
}

// DecideEach decides for each group of the message's recipients that
// falls under the same exception and the same policy: an exempted
// recipient never exempts the others, and a policy scoped to some
// recipients decides for those alone (as DDEI and Postfix-based gateways
// split a message per decision). Groups come in the order of their first
// recipient; in BCC mode nothing is delivered, and there is one group.
func (e Engine) DecideEach(m *store.Message, rep analysis.Report) []Group {
	if e.BCC || len(m.To) < 2 {
		return []Group{{Rcpts: m.To, Decision: e.Decide(m, rep)}}
	}
	var groups []Group
	index := map[string]int{}
	for _, r := range m.To {
		key := e.scopeOf(m, r)
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, Group{})
		}
		groups[i].Rcpts = append(groups[i].Rcpts, r)
	}
	for i := range groups {
		part := *m
		part.To = groups[i].Rcpts
		groups[i].Decision = e.decide(m, &part, rep)
	}
	return groups
}

// scopeOf names what decides for one recipient of m: an exception, or the
// policy that applies to it.
func (e Engine) scopeOf(m *store.Message, rcpt string) string {
	if matchAddr(m.From, e.ExceptSenders) {
		return "exception"
	}
	if matchAddr(rcpt, e.ExceptRecipients) {
		return "exception"
	}
	pols := e.Policies
	if len(pols) == 0 {
		pols = DefaultPolicies()
	}
	one := *m
	one.To = []string{rcpt}
	for i := range pols {
		if e.inScope(&pols[i], m, &one) {
			return fmt.Sprintf("policy %d", i)
		}
	}
	return "none"
}

// Decide maps a report to a decision for all of m's recipients together.
func (e Engine) Decide(m *store.Message, rep analysis.Report) Decision {
	return e.decide(m, m, rep)
}

// decide maps a report to a decision for part, m or some of its
// recipients: the exceptions and policies apply to part's recipients, the
// direction is m's.
func (e Engine) decide(whole, m *store.Message, rep analysis.Report) Decision {
	pols := e.Policies
	if len(pols) == 0 {
		pols = DefaultPolicies()
	}
	var pol *Policy
	for i := range pols {
		if e.inScope(&pols[i], whole, m) {
			pol = &pols[i]
			break
		}
	}
	d := Decision{State: store.StateQueued, Action: "deliver"}
	if why := e.exception(m); why != "" {
		d.Rule = why
		return e.monitor(d)
	}
	if pol == nil {
		return e.monitor(e.unanalysed(d, rep))
	}
	rule := pickRule(pol, rep)
	if rule == nil {
		d.Rule = pol.Name
		return e.monitor(e.unanalysed(d, rep))
	}
	d.Rule = pol.Name + ": " + rule.Match
	why := reason(rep)
	if rule.Match == UnscannableRule {
		why = analysis.Unscannable
	}
	var names []string
	var notify []string
	for _, a := range rule.Actions {
		names = append(names, strings.TrimSpace(a.Kind+" "+strings.Join(a.Args, " ")))
		switch a.Kind {
		case "quarantine":
			if d.State != store.StateDeleted {
				d.State, d.Reason = store.StateQuarantined, why
			}
		case "delete":
			d.State, d.Reason = store.StateDeleted, ""
		case "tag":
			d.Rewrite = e.tag(rep)
		case "strip":
			d.Strip = true
		case "block-links":
			d.Links = "block"
		case "warn-links":
			if d.Links == "" {
				d.Links = "warn"
			}
		case "change-recipient":
			d.Recipients = append([]string(nil), a.Args...)
		case "bcc":
			d.Bcc = append(d.Bcc, a.Args...)
		case "notify":
			notify = append(notify, a.Args...)
		}
	}
	d.Action = strings.Join(names, ", ")
	if len(notify) > 0 && !e.BCC {
		d.Extra = append(d.Extra, e.notification(m, rep, d, notify))
	}
	return e.monitor(e.unanalysed(d, rep))
}

// unanalysed applies sandbox.on_timeout, sandbox.on_error and
// engine.clamd_on_error to mail that would go on although the virtual
// analyzer or the pattern engine could not judge some of it: quarantined
// with the reason va-timeout, va-error or unscannable, unless set to
// deliver (pass). A decision that already holds the message back stays.
func (e Engine) unanalysed(d Decision, rep analysis.Report) Decision {
	if d.State != store.StateQueued {
		return d
	}
	for _, f := range rep.Findings {
		action, reason, rule := "", f.Name, ""
		switch {
		case f.Name == analysis.VATimeout:
			action, rule = e.OnVATimeout, "sandbox.on_timeout"
		case f.Name == analysis.VAError:
			action, rule = e.OnVAError, "sandbox.on_error"
		case f.Engine == "pattern-engine" && (f.Name == analysis.Unscannable || f.Name == analysis.NotScanned):
			action, reason, rule = "deliver", analysis.Unscannable, "engine.clamd_on_error"
			if e.OnClamdError == analysis.ClamdQuarantine || e.OnClamdError == analysis.ClamdDefer {
				action = "quarantine"
			}
		default:
			continue
		}
		if action == "deliver" {
			continue
		}
		d.State, d.Reason, d.Strip, d.Links = store.StateQuarantined, reason, false, ""
		d.Action = strings.TrimPrefix(d.Action+", quarantine ("+reason+")", "deliver, ")
		if d.Rule == "" {
			d.Rule = rule
		}
		return d
	}
	return d
}

// exception says why a message is a message-level exception ("" if not).
func (e Engine) exception(m *store.Message) string {
	if matchAddr(m.From, e.ExceptSenders) {
		return "message exception: sender " + m.From
	}
	for _, r := range m.To {
		if matchAddr(r, e.ExceptRecipients) {
			return "message exception: recipient " + r
		}
	}
	return ""
}

func (e Engine) monitor(d Decision) Decision {
	if !e.BCC {
		return d
	}
	return Decision{State: store.StateMonitored, Action: "monitor: " + d.Action, Reason: d.Reason, Rule: d.Rule}
}

// pickRule: a rule for a threat type found wins over the rule for the
// message's risk; below high risk, the unscannable rule wins over the risk
// rule when some of the content could not be judged.
func pickRule(p *Policy, rep analysis.Report) *Rule {
	found := map[string]bool{}
	unscannable := false
	for _, f := range rep.Findings {
		found[f.Threat] = true
		unscannable = unscannable || f.Name == analysis.Unscannable && f.Risk == analysis.RiskUnrated
	}
	for i := range p.Rules {
		if th, ok := strings.CutPrefix(p.Rules[i].Match, "threat "); ok && found[th] {
			return &p.Rules[i]
		}
	}
	if unscannable && rep.Risk != analysis.RiskHigh {
		for i := range p.Rules {
			if p.Rules[i].Match == UnscannableRule {
				return &p.Rules[i]
			}
		}
	}
	for i := range p.Rules {
		if p.Rules[i].Match == rep.Risk {
			return &p.Rules[i]
		}
	}
	return nil
}

// Inbound says whether a message to these recipients is inbound: one of
// them is in the accepted domains, or none are configured.
func Inbound(to, accepted []string) bool {
	inbound := len(accepted) == 0
	for _, r := range to {
		inbound = inbound || matchAddr(r, accepted)
	}
	return inbound
}

// inScope says whether policy p applies to the recipients of part, a
// message m or some of its recipients (the direction is m's).
func (e Engine) inScope(p *Policy, m, part *store.Message) bool {
	if p.Disabled {
		return false
	}
	inbound := Inbound(m.To, e.AcceptedDomains)
	if p.Direction == "inbound" && !inbound || p.Direction == "outbound" && inbound {
		return false
	}
	if len(p.Senders) > 0 && !matchAddr(m.From, p.Senders) {
		return false
	}
	if len(p.Recipients) == 0 {
		return true
	}
	for _, r := range part.To {
		if matchAddr(r, p.Recipients) {
			return true
		}
	}
	return false
}

// matchAddr: user@domain exactly, domain, or .domain for its subdomains.
func matchAddr(addr string, patterns []string) bool {
	addr = strings.ToLower(addr)
	_, domain, _ := strings.Cut(addr, "@")
	for _, p := range patterns {
		switch {
		case strings.Contains(p, "@"):
			if p == addr {
				return true
			}
		case strings.HasPrefix(p, "."):
			if strings.HasSuffix(domain, p) {
				return true
			}
		case domain == p:
			return true
		}
	}
	return false
}

// reason is the quarantine reason DDEI would give: the threat, or what made
// the message impossible to judge.
func reason(rep analysis.Report) string {
	for _, f := range rep.Findings {
		if (f.Risk == analysis.RiskHigh || f.Risk == rep.Risk) && f.Threat != "" && f.Name != analysis.Unscannable {
			return "threat"
		}
	}
	for _, f := range rep.Findings {
		switch f.Name {
		case "malformed", analysis.Unscannable:
			return f.Name
		case analysis.NotScanned:
			return analysis.Unscannable
		}
	}
	return "threat"
}

// Threats lists the threat types of a report's findings, sorted.
func Threats(rep analysis.Report) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range rep.Findings {
		if f.Threat != "" && !seen[f.Threat] {
			seen[f.Threat] = true
			out = append(out, f.Threat)
		}
	}
	sort.Strings(out)
	return out
}

func (e Engine) tag(rep analysis.Report) *store.Rewrite {
	rw := &store.Rewrite{AddHeaders: []string{"X-MailInspector-Risk: " + rep.Risk}}
	if t := Threats(rep); len(t) > 0 {
		rw.AddHeaders = append(rw.AddHeaders, "X-MailInspector-Threats: "+strings.Join(t, ", "))
	}
	if e.SubjectTag != "" {
		rw.SubjectPrefix = e.SubjectTag + " "
	}
	return rw
}

// notification builds the notify action's message from the template.
func (e Engine) notification(m *store.Message, rep analysis.Report, d Decision, to []string) Outgoing {
	tmpl := e.Template
	if tmpl == "" {
		tmpl = DefaultTemplate
	}
	none := func(s string) string {
		if s == "" {
			return "(none)"
		}
		return s
	}
	text := strings.NewReplacer(
		"%ACTION%", d.Action, "%RULE%", d.Rule, "%RISK%", rep.Risk,
		"%THREATS%", none(strings.Join(Threats(rep), ", ")), "%SENDER%", none(m.From),
		"%RECIPIENTS%", strings.Join(m.To, ", "), "%SUBJECT%", none(oneLine(rep.Subject)),
		"%ATTACHMENTS%", none(strings.Join(rep.Attachments, ", ")), "%MESSAGE_ID%", m.ID,
	).Replace(tmpl)
	var b strings.Builder
	fmt.Fprintf(&b, "From: Mail Inspector <postmaster@%s>\r\n", e.Hostname)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: [Mail Inspector] %s: %s\r\n", d.Action, oneLine(rep.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	b.WriteString("Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\n", "\r\n"))
	return Outgoing{From: "", To: to, Body: []byte(b.String())}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
