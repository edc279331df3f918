// Package policy decides what happens to a message from its analysis:
// deliver, pass and tag, quarantine (and, in BCC mode, only record what
// would have happened). This is the default policy of issue 3 — quarantine
// high risk, tag medium risk, deliver the rest; ordered policies with
// scopes and the other DDEI actions build on it.
package policy

import (
	"sort"
	"strings"

	"mailinspector/internal/analysis"
	"mailinspector/internal/store"
)

// Default is the default policy.
type Default struct {
	BCC        bool   // monitoring only
	SubjectTag string // prefix for the Subject of tagged messages
}

// Decide maps a report to a decision.
func (p Default) Decide(m *store.Message, rep analysis.Report) analysis.Decision {
	var d analysis.Decision
	switch rep.Risk {
	case analysis.RiskHigh:
		d = analysis.Decision{State: store.StateQuarantined, Action: "quarantine", Reason: reason(rep)}
	case analysis.RiskMedium:
		d = analysis.Decision{State: store.StateQueued, Action: "tag", Rewrite: p.tag(rep)}
	default:
		d = analysis.Decision{State: store.StateQueued, Action: "deliver"}
	}
	if p.BCC {
		return analysis.Decision{State: store.StateMonitored, Action: "monitor: " + d.Action, Reason: d.Reason}
	}
	return d
}

// reason is the quarantine reason DDEI would give: the threat, or what made
// the message impossible to judge.
func reason(rep analysis.Report) string {
	for _, f := range rep.Findings {
		if f.Risk == analysis.RiskHigh && f.Threat != "" {
			return "threat"
		}
	}
	for _, f := range rep.Findings {
		if f.Risk == analysis.RiskHigh && (f.Name == "malformed" || f.Name == "unscannable") {
			return f.Name
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

func (p Default) tag(rep analysis.Report) *store.Rewrite {
	rw := &store.Rewrite{AddHeaders: []string{"X-MailInspector-Risk: " + rep.Risk}}
	if t := Threats(rep); len(t) > 0 {
		rw.AddHeaders = append(rw.AddHeaders, "X-MailInspector-Threats: "+strings.Join(t, ", "))
	}
	if p.SubjectTag != "" {
		rw.SubjectPrefix = p.SubjectTag + " "
	}
	return rw
}
