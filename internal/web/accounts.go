package web

import (
	"errors"
	"net/http"
	"net/url"

	"mailinspector/internal/cli"
)

// accountsPage is Administration > Accounts (Administrators: the command
// layer refuses show accounts to the others).
func (s *Server) accountsPage(w http.ResponseWriter, r *http.Request, u *user) {
	s.showAccounts(w, r, u, "")
}

func (s *Server) showAccounts(w http.ResponseWriter, r *http.Request, u *user, errText string) {
	v, err := s.exec(r, u, "show", "accounts")
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	s.render(w, r, u, http.StatusOK, "accounts", "Accounts", struct {
		Accounts []cli.AccountInfo
		Roles    []string
		Error    string
	}{v.([]cli.AccountInfo), []string{cli.RoleAdministrator, cli.RoleInvestigator, cli.RoleOperator}, errText})
}

func (s *Server) accountAdd(w http.ResponseWriter, r *http.Request, u *user) {
	if _, err := s.exec(r, u, "account", "add", r.PostForm.Get("name"), r.PostForm.Get("role")); err != nil {
		s.accountError(w, r, u, err)
		return
	}
	http.Redirect(w, r, "/accounts", http.StatusSeeOther)
}

// accountAction is role, unlock, delete and password of one account; a
// password comes twice and goes to the command layer as its secret,
// never on a command line.
func (s *Server) accountAction(w http.ResponseWriter, r *http.Request, u *user) {
	name := r.PathValue("name")
	var err error
	switch r.PathValue("verb") {
	case "role":
		_, err = s.exec(r, u, "account", "role", name, r.PostForm.Get("role"))
	case "unlock":
		_, err = s.exec(r, u, "account", "unlock", name)
	case "delete":
		_, err = s.exec(r, u, "account", "delete", name)
	case "password":
		pw := r.PostForm.Get("password")
		if pw != r.PostForm.Get("password2") {
			err = errors.New("the two passwords differ; nothing changed")
			break
		}
		_, err = cli.ExecWords(cli.WithSecret(cli.WithCaller(r.Context(), u.caller), pw), s.cfg.Backend, []string{"account", "password", name})
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.accountError(w, r, u, err)
		return
	}
	http.Redirect(w, r, "/accounts?changed="+url.QueryEscape(name), http.StatusSeeOther)
}

// accountError shows the accounts again with the reason; a refusal of the
// role is the error page's.
func (s *Server) accountError(w http.ResponseWriter, r *http.Request, u *user, err error) {
	if errors.Is(err, cli.ErrForbidden) {
		s.fail(w, r, u, err)
		return
	}
	s.showAccounts(w, r, u, "Nothing changed: "+err.Error())
}
