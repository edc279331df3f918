package web

import (
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"mailinspector/internal/cli"
)

func subtleEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /static/{name}", s.static)
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.login)
	m.HandleFunc("POST /logout", s.action(s.logout))
	m.HandleFunc("GET /{$}", s.page(s.dashboard))
	m.HandleFunc("GET /dashboard/live", s.page(s.dashboard))
	m.HandleFunc("GET /dashboard/stats", s.page(s.dashboardStats))
	m.HandleFunc("GET /messages", s.page(s.messages))
	m.HandleFunc("GET /messages/{id}", s.page(s.message))
	m.HandleFunc("GET /messages/{id}/raw", s.page(s.raw))
	m.HandleFunc("GET /messages/{id}/eml", s.page(s.rawDownload))
	m.HandleFunc("GET /analyses/{sha}", s.page(s.analysisPage))
	m.HandleFunc("POST /messages/{id}/{verb}", s.action(s.quarantineAction))
	m.HandleFunc("POST /quarantine/bulk", s.action(s.quarantineBulk))
	m.HandleFunc("GET /audit", s.page(s.audit))
	m.HandleFunc("GET /indicators/{kind}", s.page(s.indicator))
	m.HandleFunc("GET /messages.csv", s.page(s.messagesCSV))
	m.HandleFunc("GET /queue", s.page(s.queue))
	m.HandleFunc("POST /queue/{id}/{verb}", s.action(s.queueAction))
	m.HandleFunc("GET /logs", s.page(s.logs))
	m.HandleFunc("GET /accounts", s.page(s.accountsPage))
	m.HandleFunc("POST /accounts", s.action(s.accountAdd))
	m.HandleFunc("POST /accounts/{name}/{verb}", s.action(s.accountAction))
	m.HandleFunc("GET /policies", s.page(s.policiesPage))
	m.HandleFunc("POST /policies", s.action(s.policiesCommit))
	m.HandleFunc("GET /policies/edit", s.page(s.policyEdit))
	m.HandleFunc("POST /policies/edit", s.action(s.policySave))
	m.HandleFunc("POST /policies/{verb}", s.action(s.policyAction))
	m.HandleFunc("GET /lists", s.page(s.listsPage))
	m.HandleFunc("GET /lists/export", s.page(s.listExport))
	m.HandleFunc("POST /lists/import", s.upload(s.listImport))
	m.HandleFunc("POST /lists/{verb}", s.action(s.listEdit))
	m.HandleFunc("GET /certificates", s.page(s.certificatesPage))
	m.HandleFunc("POST /certificates", s.action(s.certificatesPut))
	m.HandleFunc("GET /system", s.page(s.systemPage))
	m.HandleFunc("POST /system/{verb}", s.action(s.systemAction))
	m.HandleFunc("GET /system/export", s.page(s.configExport))
	m.HandleFunc("POST /system/import", s.upload(s.configImport))
	m.HandleFunc("GET /licence", s.page(s.licencePage))
	m.HandleFunc("POST /licence/{verb}", s.action(s.licenceAction))
	m.HandleFunc("GET /updates", s.page(s.updatesPage))
	m.HandleFunc("POST /updates/import", s.bigUpload(s.updateImport))
	m.HandleFunc("POST /updates/{verb}", s.action(s.updatesAction))
	m.HandleFunc("GET /settings", s.page(s.settingsPage))
	m.HandleFunc("POST /settings", s.action(s.settingsCommit))
	m.HandleFunc("POST /clicks/test", s.action(s.clickTest))
	s.mux = m
}

func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	data, ok := s.assets[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(r.PathValue("name"), ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(r.PathValue("name"), ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(r.PathValue("name"), ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(data)
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.current(r) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, r, nil, http.StatusOK, "login", "Log in", nil)
}

// login checks the name and password with the accounts' rules (five
// failures lock the account for ten minutes) and starts a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "refused: the request does not come from this console", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	name, pw := r.PostFormValue("name"), r.PostFormValue("password")
	hash, err := s.cfg.Login(r.Context(), name, pw)
	if err != nil {
		s.cfg.Log.Warn("web: login failed", "account", name, "client", clientIP(r), "err", err)
		// 200, the form again with the reason: a browser logs any 4xx
		// page as an error, and this is none.
		s.render(w, r, nil, http.StatusOK, "login", "Log in", err.Error())
		return
	}
	ss := s.sessions.start(name, hash)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: ss.token, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	s.cfg.Log.Info("web: login", "account", name, "client", clientIP(r))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, u *user) {
	s.sessions.end(u.sess.token)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// messageFilters are the tracking filters the messages page takes, the
// command line's keywords.
var messageFilters = []string{"from", "to", "subject", "risk", "threat", "state", "action", "since", "until", "message-id", "client-ip", "policy"}

// trackingFilters reads the filters set in a query: as show messages'
// words, and as the query that asks for them again.
func trackingFilters(q url.Values) (words []string, again url.Values) {
	words, again = []string{"show", "messages"}, url.Values{}
	for _, k := range messageFilters {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			words = append(words, k, v)
			again.Set(k, q.Get(k))
		}
	}
	return words, again
}

// messages is Detections and Message Tracking: show messages with the
// filters filled in the form.
func (s *Server) messages(w http.ResponseWriter, r *http.Request, u *user) {
	q := r.URL.Query()
	words, again := trackingFilters(q)
	page := 1
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 {
		page = n
	}
	words = append(words, "page", strconv.Itoa(page), "limit", "50")
	v, err := s.exec(r, u, words...)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	ms := v.([]cli.MessageSummary)
	data := &messagesView{Filters: map[string]string{}, Messages: ms, Page: page, CSV: "/messages.csv?" + again.Encode()}
	switch risk := q.Get("risk"); {
	case q.Get("state") == "quarantined":
		data.view, data.Title = "quarantine", "Quarantine"
	case risk == "high" || risk == "medium" || risk == "low" || q.Get("threat") != "":
		data.view, data.Title = "detections", "Detected messages"
	default:
		data.view, data.Title = "tracking", "Message tracking"
	}
	for _, k := range messageFilters {
		data.Filters[k] = q.Get(k)
	}
	if len(ms) == 50 {
		again.Set("page", strconv.Itoa(page+1))
		data.Next = "/messages?" + again.Encode()
	}
	s.render(w, r, u, http.StatusOK, "messages", data.Title, data)
}

// messagesView is the messages page: Detections, Quarantine or Message
// tracking, by its filters (the menu marks that one).
type messagesView struct {
	Title    string
	Filters  map[string]string
	Messages []cli.MessageSummary
	Page     int
	Next     string
	CSV      string
	view     string
}

func (m *messagesView) navName() string { return m.view }

func (s *Server) message(w http.ResponseWriter, r *http.Request, u *user) {
	v, err := s.exec(r, u, "show", "message", r.PathValue("id"))
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	d := v.(*cli.MessageDetail)
	decided := ""
	for _, t := range d.Trail {
		if t.Stage == "policy" {
			decided = t.Detail // the last policy step: the decision that stands
		}
	}
	bodies := u.caller.Role != cli.RoleOperator // the command layer decides; this only spares a refusal
	var preview *cli.Preview
	if bodies && d.HeadersGone == "" {
		if v, err := s.exec(r, u, "show", "preview", d.ID); err == nil {
			preview = v.(*cli.Preview)
		}
	}
	s.render(w, r, u, http.StatusOK, "message", "Message "+d.ID, struct {
		M        *cli.MessageDetail
		Decided  string
		Bodies   bool
		Preview  *cli.Preview
		Releases bool
	}{d, decided, bodies, preview, d.State == "quarantined" && u.caller.Role == cli.RoleAdministrator})
}

// raw is the message's bytes: the command layer refuses Operators, even
// when they type the address.
func (s *Server) raw(w http.ResponseWriter, r *http.Request, u *user) {
	v, err := s.exec(r, u, "show", "raw", r.PathValue("id"))
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	s.render(w, r, u, http.StatusOK, "raw", "Message "+r.PathValue("id")+" as received", struct{ ID, Text string }{r.PathValue("id"), string(v.(cli.RawText))})
}

// rawDownload is the message as received, all of it, as a file
// (show raw ID full: Operators are refused).
func (s *Server) rawDownload(w http.ResponseWriter, r *http.Request, u *user) {
	id := r.PathValue("id")
	v, err := s.exec(r, u, "show", "raw", id, "full")
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	w.Header().Set("Content-Type", "message/rfc822")
	// show raw found the message: its id is letters and digits.
	w.Header().Set("Content-Disposition", `attachment; filename="`+url.PathEscape(id)+`.eml"`)
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, string(v.(cli.RawText)))
}

// analysisPage is the virtual analyzer's report of a sample, as the
// sandbox wrote it (show report: Operators are refused, it shows content).
// The page is the sandbox's own HTML with its inline style: it is served
// in a CSP sandbox (no script, no form, no navigation of this console, an
// origin of its own), its pictures data: URLs only.
func (s *Server) analysisPage(w http.ResponseWriter, r *http.Request, u *user) {
	v, err := s.exec(r, u, "show", "report", r.PathValue("sha"))
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	w.Header().Set("Content-Security-Policy", "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, string(v.(cli.RawText)))
}

// quarantineAction is release, delete and resume of a quarantined
// message; release to some recipients names them in rcpt fields.
func (s *Server) quarantineAction(w http.ResponseWriter, r *http.Request, u *user) {
	id, verb := r.PathValue("id"), r.PathValue("verb")
	switch verb {
	case "release", "delete", "resume":
	default:
		http.NotFound(w, r)
		return
	}
	words := []string{"quarantine", verb, id}
	if verb == "release" {
		if r.PostForm.Get("some") != "" && len(r.PostForm["rcpt"]) == 0 {
			// No recipient named would release to all of them.
			s.render(w, r, u, http.StatusOK, "error", "Nothing released", "Tick the recipients to release to: nothing was released.")
			return
		}
		words = append(words, r.PostForm["rcpt"]...)
	}
	if _, err := s.exec(r, u, words...); err != nil {
		s.fail(w, r, u, err)
		return
	}
	http.Redirect(w, r, "/messages/"+url.PathEscape(id)+"?done="+url.QueryEscape(verb+"d"), http.StatusSeeOther)
}

// quarantineBulk is release, delete or resume of the messages ticked in
// the list, one command each (each audited); it says how many went and
// why any did not.
func (s *Server) quarantineBulk(w http.ResponseWriter, r *http.Request, u *user) {
	verb := r.PostForm.Get("verb")
	switch verb {
	case "release", "delete", "resume":
	default:
		http.Error(w, "release, delete or resume", http.StatusBadRequest)
		return
	}
	ids := r.PostForm["id"]
	var failed []string
	for _, id := range ids {
		if _, err := s.exec(r, u, "quarantine", verb, id); err != nil {
			if errors.Is(err, cli.ErrForbidden) {
				s.fail(w, r, u, err)
				return
			}
			failed = append(failed, err.Error())
		}
	}
	s.render(w, r, u, http.StatusOK, "bulk", "Quarantine", struct {
		Verb   string
		Done   int
		Failed []string
	}{verb, len(ids) - len(failed), failed})
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request, u *user) {
	words := []string{"show", "audit"}
	for _, k := range []string{"who", "kind", "since"} {
		if v := strings.TrimSpace(r.URL.Query().Get(k)); v != "" {
			words = append(words, k, v)
		}
	}
	v, err := s.exec(r, u, words...)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	s.render(w, r, u, http.StatusOK, "audit", "Audit log", v.([]cli.AuditRecord))
}
