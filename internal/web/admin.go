package web

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"

	"mailinspector/internal/cli"
	"mailinspector/internal/settings"
)

// messagesCSV is the messages page's list as CSV (the same filters, up to
// 10,000 rows).
func (s *Server) messagesCSV(w http.ResponseWriter, r *http.Request, u *user) {
	words, _ := trackingFilters(r.URL.Query())
	v, err := s.exec(r, u, append(words, "limit", "10000")...)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="messages.csv"`)
	c := csv.NewWriter(w)
	c.Write([]string{"id", "received", "from", "to", "subject", "state", "risk", "action", "reason"})
	for _, m := range v.([]cli.MessageSummary) {
		c.Write([]string{m.ID, m.Received, csvSafe(m.From), csvSafe(strings.Join(m.To, " ")), csvSafe(m.Subject), m.State, m.Risk, m.Action, m.Reason})
	}
	c.Flush()
}

// csvSafe keeps a spreadsheet from taking a sender's text for a formula
// (CSV injection): a leading = + - @ or tab gets a quote mark before it.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// queue is Logs > Message Queue: who waits, and deliver now, reroute,
// delete.
func (s *Server) queue(w http.ResponseWriter, r *http.Request, u *user) {
	v, err := s.exec(r, u, "show", "queue")
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	s.render(w, r, u, http.StatusOK, "queue", "Message queue", v.([]cli.QueueEntry))
}

func (s *Server) queueAction(w http.ResponseWriter, r *http.Request, u *user) {
	id, verb := r.PathValue("id"), r.PathValue("verb")
	words := []string{"queue", verb, id}
	switch verb {
	case "retry", "delete":
	case "reroute":
		words = append(words, strings.TrimSpace(r.PostForm.Get("host")))
	default:
		http.NotFound(w, r)
		return
	}
	if _, err := s.exec(r, u, words...); err != nil {
		s.fail(w, r, u, err)
		return
	}
	http.Redirect(w, r, "/queue?done="+url.QueryEscape(verb+" "+id), http.StatusSeeOther)
}

// logs is Logs > System: the daemon's last lines, those holding a word.
func (s *Server) logs(w http.ResponseWriter, r *http.Request, u *user) {
	words := []string{"show", "logs", "500"}
	if g := strings.TrimSpace(r.URL.Query().Get("grep")); g != "" {
		words = append(words, "grep", g)
	}
	v, err := s.exec(r, u, words...)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	s.render(w, r, u, http.StatusOK, "logs", "System log", struct {
		Grep  string
		Lines cli.Lines
	}{r.URL.Query().Get("grep"), v.(cli.Lines)})
}

// setting is one key on the settings page.
type setting struct {
	cli.SettingValue
	Doc    string
	Secret bool
}

// settingsPage is Administration > Settings: one section of keys (the
// part of their names before the first dot), each with its meaning and
// default, editable.
func (s *Server) settingsPage(w http.ResponseWriter, r *http.Request, u *user) {
	s.showSettings(w, r, u, http.StatusOK, r.URL.Query().Get("section"), "", nil)
}

func (s *Server) showSettings(w http.ResponseWriter, r *http.Request, u *user, status int, section, errText string, typed map[string]string) {
	s.showSettingsWith(w, r, u, status, section, errText, typed, "")
}

// showSettingsWith is showSettings with the link click test just made.
func (s *Server) showSettingsWith(w http.ResponseWriter, r *http.Request, u *user, status int, section, errText string, typed map[string]string, testLink string) {
	v, err := s.exec(r, u, "show", "settings")
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	all := v.([]cli.SettingValue)
	seen := map[string]bool{}
	var sections []string
	for _, sv := range all {
		sec := sectionOf(sv.Key)
		if !seen[sec] {
			seen[sec] = true
			sections = append(sections, sec)
		}
	}
	if section == "" || !seen[section] {
		section = "smtp"
	}
	var keys []setting
	for _, sv := range all {
		if sectionOf(sv.Key) != section {
			continue
		}
		k, _ := settings.Lookup(sv.Key)
		if t, ok := typed[sv.Key]; ok {
			sv.Value = t // what was typed stays in the form with the error
		}
		keys = append(keys, setting{SettingValue: sv, Doc: k.Doc, Secret: settings.Secret(sv.Key)})
	}
	data := settingsView{Section: section, Title: sectionTitle(section), Groups: groupSections(sections), Keys: keys, Error: errText}
	if section == "click" {
		// Time-of-Click Protection: its settings, a link to try, the
		// latest clicks.
		v, err := s.exec(r, u, "show", "clicks", "limit", "20")
		if err != nil {
			s.fail(w, r, u, err)
			return
		}
		data.Clicks = v.([]cli.ClickRecord)
		data.TestLink = testLink
	}
	s.render(w, r, u, status, "settings", "Settings: "+sectionTitle(section), data)
}

// settingsView is the settings page: one section's keys; for
// time-of-click also the latest clicks and a link to try.
type settingsView struct {
	Section string
	Title   string
	Groups  []settingsGroup
	Keys    []setting
	Error   string
	Clicks  []cli.ClickRecord
	// TestLink is the link click test just made (shown once).
	TestLink string
}

// clickTest is click test URL: the wrapped link is shown on the
// Time-of-Click page for the administrator to click.
func (s *Server) clickTest(w http.ResponseWriter, r *http.Request, u *user) {
	v, err := s.exec(r, u, "click", "test", strings.TrimSpace(r.PostForm.Get("url")))
	if err != nil {
		s.showSettings(w, r, u, http.StatusOK, "click", "Nothing wrapped: "+err.Error(), nil)
		return
	}
	s.showSettingsWith(w, r, u, http.StatusOK, "click", "", nil, v.(cli.Done).Message)
}

// settingsGroup is a heading of the settings' menu, as DDEI's
// Administration menu has them, with its sections.
type settingsGroup struct {
	Title    string
	Sections []sectionLink
}

type sectionLink struct{ Key, Title string }

// settingsMenu groups the sections (the keys' prefixes) under DDEI's
// Administration headings, each with a title.
var settingsMenu = []struct {
	title    string
	sections [][2]string
}{
	{"Operation mode", [][2]string{{"general", "Hostname and operation mode"}}},
	{"Mail settings", [][2]string{{"smtp", "SMTP listener, connections, TLS, accepted domains"}, {"delivery", "Delivery routes and smarthosts"},
		{"limits", "Limits"}, {"queue", "Queue"}, {"dns", "DNS resolver"}}},
	{"Sender filtering", [][2]string{{"senders", "Approved and blocked senders"}, {"ers", "Email Reputation"}, {"exceptions", "Exceptions"}}},
	{"Scanning and analysis", [][2]string{{"engine", "Pattern engine (clamd)"}, {"archive", "Archives and file passwords"},
		{"analysis", "Analysis"}, {"lists", "Local lists"}, {"hub", "Hub"}, {"services", "Cloud services and Smart Feedback"}, {"feedback", "Smart Feedback: what is shared, the outbox"},
		{"sandbox", "Virtual analyzer"}, {"click", "Time-of-Click Protection"}}},
	{"Policies and quarantine", [][2]string{{"policy", "Default policy and notifications"}, {"quarantine", "Quarantine"}, {"retention", "Retention"}}},
	{"Logs", [][2]string{{"siem", "Syslog servers (SIEM)"}}},
	{"System", [][2]string{{"web", "Web console"}, {"updates", "Pattern updates"}, {"licence", "License"}, {"schedules", "Schedules"}, {"metrics", "Metrics"}, {"runtime", "Runtime"},
		{"user", "Service user"}, {"debug", "Debugging"}}},
}

// sectionTitle is a section's title in the menu.
func sectionTitle(key string) string {
	for _, g := range settingsMenu {
		for _, sec := range g.sections {
			if sec[0] == key {
				return sec[1]
			}
		}
	}
	return key
}

// groupSections puts the sections the settings have under the menu's
// headings; one the menu does not know goes under "Other".
func groupSections(have []string) []settingsGroup {
	left := map[string]bool{}
	for _, s := range have {
		left[s] = true
	}
	var out []settingsGroup
	for _, g := range settingsMenu {
		sg := settingsGroup{Title: g.title}
		for _, sec := range g.sections {
			if left[sec[0]] {
				sg.Sections = append(sg.Sections, sectionLink{sec[0], sec[1]})
				delete(left, sec[0])
			}
		}
		if len(sg.Sections) > 0 {
			out = append(out, sg)
		}
	}
	if len(left) > 0 {
		other := settingsGroup{Title: "Other"}
		for _, s := range have {
			if left[s] {
				other.Sections = append(other.Sections, sectionLink{s, s})
			}
		}
		out = append(out, other)
	}
	return out
}

// sectionOf is a key's section: hostname and mode are "general".
func sectionOf(key string) string {
	if i := strings.IndexByte(key, '.'); i > 0 {
		return key[:i]
	}
	return "general"
}

// settingsCommit commits the keys whose value the form changed, as one
// settings commit (validated with the rest; nothing changes on an error).
// A hidden secret left as shown is not a change.
func (s *Server) settingsCommit(w http.ResponseWriter, r *http.Request, u *user) {
	section := r.PostForm.Get("section")
	v, err := s.exec(r, u, "show", "settings")
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	words := []string{"settings", "commit"}
	typed := map[string]string{}
	for _, sv := range v.([]cli.SettingValue) {
		nv, ok := r.PostForm["key:"+sv.Key]
		if !ok || len(nv) != 1 {
			continue
		}
		typed[sv.Key] = nv[0]
		if nv[0] != sv.Value {
			words = append(words, sv.Key, nv[0])
		}
	}
	if len(words) == 2 {
		s.showSettings(w, r, u, http.StatusOK, section, "Nothing changed.", nil)
		return
	}
	out, err := s.exec(r, u, words...)
	if err != nil {
		// The form again with the reason, as a page (200): the browser
		// shows it, and logs no error for it.
		s.showSettings(w, r, u, http.StatusOK, section, "Nothing changed: "+err.Error(), typed)
		return
	}
	// The daemon reloads now: the next page is the new one's, so this
	// one says so instead of redirecting into the reload.
	s.render(w, r, u, http.StatusOK, "committed", "Settings committed", struct {
		Message string
		Back    string
	}{out.(cli.Done).Message, "/settings?section=" + url.QueryEscape(section)})
}
