package sandbox

import (
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strings"

	"mailinspector/internal/risk"
	"mailinspector/internal/sandbox/agent"
)

// Risks of a sandbox verdict, the words the rest of the appliance uses.
const (
	RiskHigh   = risk.High
	RiskMedium = risk.Medium
	RiskLow    = risk.Low
	RiskNone   = risk.None
)

// Rule maps behaviour to risk. Severity is the risk a match alone gives;
// Weight adds up over matched rules (several medium behaviours together
// make a high-risk sample).
type Rule struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Severity string   `json:"severity"`
	Weight   int      `json:"weight"`
	Attack   []string `json:"attack"` // MITRE ATT&CK technique ids
	match    func(r *agent.Report, ev agent.Event) string
}

// Match is one rule that matched, with what made it match.
type Match struct {
	Rule
	Evidence []string `json:"evidence"`
}

// Verdict is the virtual analyzer's conclusion about one sample.
type Verdict struct {
	// Risk is high, medium, low or none; Failed says nothing could be
	// concluded (the sample did not run): never read as clean.
	Risk    string  `json:"risk"`
	Score   int     `json:"score"`
	Failed  bool    `json:"failed"`
	Reason  string  `json:"reason,omitempty"`
	Matches []Match `json:"matches"`
}

// persistence are the places a Linux program writes to run again later.
var persistence = []struct{ prefix, what string }{
	{"/.config/autostart/", "desktop autostart entry"},
	{"/.config/systemd/user/", "systemd user unit"},
	{"/etc/systemd/system/", "systemd unit"},
	{"/lib/systemd/system/", "systemd unit"},
	{"/etc/cron", "cron table"},
	{"/var/spool/cron/", "cron table"},
	{"/etc/init.d/", "init script"},
	{"/etc/rc.local", "rc.local"},
	{"/etc/profile.d/", "login script"},
	{"/.bashrc", "shell start-up file"},
	{"/.profile", "shell start-up file"},
	{"/.bash_profile", "shell start-up file"},
	{"/etc/ld.so.preload", "library preload"},
}

func persistencePlace(p string) string {
	for _, pl := range persistence {
		if strings.Contains(p, pl.prefix) {
			return pl.what
		}
	}
	return ""
}

// written is the path an event leaves a file at.
func written(ev agent.Event) string {
	switch ev.Type {
	case agent.EvWrite:
		return ev.Path
	case agent.EvRename:
		return ev.To
	}
	return ""
}

// outside says whether a connect goes off the guest (loopback stays in).
func outside(addr string) bool {
	ap, err := netip.ParseAddrPort(addr)
	return err == nil && !ap.Addr().IsLoopback() && !ap.Addr().IsUnspecified()
}

// Rules is the behaviour rule set, strongest first.
var Rules = []Rule{
	{ID: "persistence", Name: "Installs itself to run again (autostart, cron, systemd, shell start-up)", Severity: RiskHigh, Weight: 60,
		Attack: []string{"T1547", "T1053.003", "T1543.002", "T1546.004"},
		match: func(_ *agent.Report, ev agent.Event) string {
			if p := written(ev); p != "" {
				if what := persistencePlace(p); what != "" {
					return what + ": " + p
				}
			}
			return ""
		}},
	{ID: "ssh-keys", Name: "Changes SSH authorised keys", Severity: RiskHigh, Weight: 60, Attack: []string{"T1098.004"},
		match: func(_ *agent.Report, ev agent.Event) string {
			if p := written(ev); strings.HasSuffix(p, "/.ssh/authorized_keys") || strings.HasSuffix(p, "/.ssh/authorized_keys2") {
				return p
			}
			return ""
		}},
	{ID: "drop-and-run", Name: "Writes a file and runs it", Severity: RiskHigh, Weight: 50, Attack: []string{"T1105", "T1204.002"},
		match: func(r *agent.Report, ev agent.Event) string {
			if ev.Type != agent.EvExec {
				return ""
			}
			for _, w := range r.Events {
				if w.MS <= ev.MS && written(w) == ev.Path {
					return ev.Path
				}
			}
			return ""
		}},
	{ID: "callout", Name: "Connects out of the machine", Severity: RiskMedium, Weight: 30, Attack: []string{"T1071"},
		match: func(r *agent.Report, ev agent.Event) string {
			// A link's fetch connects out by design.
			if ev.Type == agent.EvConnect && outside(ev.Addr) && r.Fetch == nil {
				return ev.Addr
			}
			return ""
		}},
	{ID: "mail-out", Name: "Sends mail (spam, exfiltration)", Severity: RiskMedium, Weight: 40, Attack: []string{"T1071.003", "T1048.003"},
		match: func(_ *agent.Report, ev agent.Event) string {
			if ev.Type == agent.EvSMTP {
				return ev.Addr + ": " + ev.Detail
			}
			return ""
		}},
	{ID: "web-request", Name: "Talks to a web server", Severity: RiskMedium, Weight: 20, Attack: []string{"T1071.001"},
		match: func(r *agent.Report, ev agent.Event) string {
			if (ev.Type == agent.EvHTTP || ev.Type == agent.EvProxy) && r.Fetch == nil {
				return ev.Addr + " " + ev.Detail
			}
			return ""
		}},
	{ID: "downloader", Name: "Runs a downloader (curl, wget)", Severity: RiskMedium, Weight: 30, Attack: []string{"T1105"},
		match: func(r *agent.Report, ev agent.Event) string {
			if ev.Type == agent.EvExec && r.How != "curl" {
				switch path.Base(ev.Path) {
				case "curl", "wget":
					return strings.Join(ev.Argv, " ")
				}
			}
			return ""
		}},
	{ID: "self-delete", Name: "Deletes itself", Severity: RiskMedium, Weight: 20, Attack: []string{"T1070.004"},
		match: func(r *agent.Report, ev agent.Event) string {
			if ev.Type == agent.EvDelete && r.Name != "" && path.Base(ev.Path) == agent.SampleName(r.Name) {
				return ev.Path
			}
			return ""
		}},
	// What a link leads to, once its redirects are followed (URL runs).
	{ID: "link-program", Name: "The link downloads a program or script", Severity: RiskMedium, Weight: 40, Attack: []string{"T1204.001", "T1105"},
		match: func(r *agent.Report, ev agent.Event) string {
			if ev.Type == agent.EvFetch && r.Fetch != nil && (r.Fetch.Kind == "program" || r.Fetch.Kind == "script") {
				return fmt.Sprintf("%s (%s, sha256 %s)", r.Fetch.Final, r.Fetch.Kind, r.Fetch.SHA256)
			}
			return ""
		}},
	{ID: "link-login", Name: "The link opens a page that asks for a password", Severity: RiskMedium, Weight: 30, Attack: []string{"T1566.002", "T1056.003"},
		match: func(r *agent.Report, ev agent.Event) string {
			if ev.Type == agent.EvFetch && r.Fetch != nil && r.Fetch.LoginForm {
				return r.Fetch.Final
			}
			return ""
		}},
	{ID: "link-file", Name: "The link downloads an archive or document", Severity: RiskLow, Weight: 10, Attack: []string{"T1204.001"},
		match: func(r *agent.Report, ev agent.Event) string {
			if ev.Type == agent.EvFetch && r.Fetch != nil && (r.Fetch.Kind == "archive" || r.Fetch.Kind == "document") {
				return fmt.Sprintf("%s (%s)", r.Fetch.Final, r.Fetch.Kind)
			}
			return ""
		}},
	{ID: "shell", Name: "Starts a shell or interpreter", Severity: RiskLow, Weight: 5, Attack: []string{"T1059.004"},
		match: func(r *agent.Report, ev agent.Event) string {
			if ev.Type != agent.EvExec || r.How == "sh" || r.How == "python3" || r.How == "perl" {
				return ""
			}
			switch path.Base(ev.Path) {
			case "sh", "bash", "dash", "python3", "perl":
				// The sample's own interpreter (#!) is its first exec, not
				// a child shell.
				if ev.PID != firstExec(r) {
					return strings.Join(ev.Argv, " ")
				}
			}
			return ""
		}},
}

// firstExec is the process of the run's first exec: the sample itself (or
// what opened it).
func firstExec(r *agent.Report) int {
	for _, e := range r.Events {
		if e.Type == agent.EvExec {
			return e.PID
		}
	}
	return 0
}

// Judge applies the rules to a report. A sample that did not run, or ran
// with no tracer watching and showed nothing, is a failed analysis.
func Judge(r *agent.Report) Verdict {
	if r == nil || !r.Ran {
		reason := "the sample did not run"
		if r != nil && r.Error != "" {
			reason += ": " + r.Error
		}
		return Verdict{Risk: "", Failed: true, Reason: reason}
	}
	v := Verdict{Risk: RiskNone}
	for _, rule := range Rules {
		var ev []string
		seen := map[string]bool{}
		for _, e := range r.Events {
			if s := rule.match(r, e); s != "" && !seen[s] && len(ev) < 10 {
				seen[s] = true
				ev = append(ev, s)
			}
		}
		if len(ev) == 0 {
			continue
		}
		v.Matches = append(v.Matches, Match{Rule: rule, Evidence: ev})
		v.Score += rule.Weight
		if risk.Rank(rule.Severity) > risk.Rank(v.Risk) {
			v.Risk = rule.Severity
		}
	}
	// Together, medium behaviours make a sample high risk.
	if v.Score >= 60 && risk.Rank(v.Risk) < risk.Rank(RiskHigh) {
		v.Risk = RiskHigh
	}
	if r.Tracer == "none" && len(v.Matches) == 0 {
		v.Failed, v.Risk, v.Reason = true, "", "no tracer watched the sample"
	}
	sort.SliceStable(v.Matches, func(a, b int) bool { return risk.Rank(v.Matches[a].Severity) > risk.Rank(v.Matches[b].Severity) })
	return v
}

// Summary is a verdict in one line, for trails.
func (v Verdict) Summary() string {
	if v.Failed {
		return "failed: " + v.Reason
	}
	var ids []string
	for _, m := range v.Matches {
		ids = append(ids, m.ID)
	}
	if len(ids) == 0 {
		return "no risk: nothing the rules look for"
	}
	return fmt.Sprintf("%s risk (score %d): %s", v.Risk, v.Score, strings.Join(ids, ", "))
}
