package web

import (
	"net/http"
	"strings"

	"mailinspector/internal/cli"
)

// policiesPage is Policies: policies.conf as it is, to edit whole (the
// rule-by-rule forms are to come); an empty file means the default policy.
func (s *Server) policiesPage(w http.ResponseWriter, r *http.Request, u *user) {
	v, err := s.exec(r, u, "show", "policies")
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	text, notice := string(v.(cli.RawText)), ""
	if strings.HasPrefix(text, "no policies file:") {
		text, notice = "", text // the default policy: an empty form
	}
	s.showPolicies(w, r, u, text, notice, "")
}

func (s *Server) showPolicies(w http.ResponseWriter, r *http.Request, u *user, text, notice, errText string) {
	s.render(w, r, u, http.StatusOK, "policies", "Policies", struct{ Text, Notice, Error string }{text, notice, errText})
}

// policiesCommit is configure policies with the form's text: validated
// whole (every error with its line), nothing half-saved, audited.
func (s *Server) policiesCommit(w http.ResponseWriter, r *http.Request, u *user) {
	text := formText(r, "policies")
	v, err := cli.ExecWords(cli.WithInput(cli.WithCaller(r.Context(), u.caller), text), s.cfg.Backend, []string{"policies", "commit"})
	if err != nil {
		s.showPolicies(w, r, u, text, "", "Nothing changed: "+err.Error())
		return
	}
	s.showPolicies(w, r, u, text, v.(cli.Done).Message, "")
}

// formText is a textarea's text with the line ends a browser sends (CRLF,
// as HTML says) made LF, as the files are.
func formText(r *http.Request, name string) string {
	return strings.ReplaceAll(r.PostForm.Get(name), "\r\n", "\n")
}
