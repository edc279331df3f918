package web

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailinspector/internal/cli"
)

// licencePage is Administration > License: what show licence says, the
// activation form and "check online now".
func (s *Server) licencePage(w http.ResponseWriter, r *http.Request, u *user) {
	s.showLicence(w, r, u, "", "")
}

func (s *Server) showLicence(w http.ResponseWriter, r *http.Request, u *user, notice, errText string) {
	v, err := s.exec(r, u, "show", "licence")
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	s.forgetLicence()
	s.render(w, r, u, http.StatusOK, "licence", "License", struct {
		Notice, Error string
		Licence       *cli.Licence
	}{notice, errText, v.(*cli.Licence)})
}

// licenceAction is licence check and licence activate CODE.
func (s *Server) licenceAction(w http.ResponseWriter, r *http.Request, u *user) {
	var words []string
	switch r.PathValue("verb") {
	case "check":
		words = []string{"licence", "check"}
	case "activate":
		code := strings.Join(strings.Fields(r.PostForm.Get("code")), "")
		if code == "" {
			s.showLicence(w, r, u, "", "Paste the activation code the hub issued for this appliance's id.")
			return
		}
		words = []string{"licence", "activate", code}
	default:
		http.NotFound(w, r)
		return
	}
	v, err := s.exec(r, u, words...)
	if err != nil {
		s.showLicence(w, r, u, "", err.Error())
		return
	}
	s.showLicence(w, r, u, v.(cli.Done).Message, "")
}

// updatesPage is Administration > Updates: show updates, update now,
// rollback and the import of a bundle file.
func (s *Server) updatesPage(w http.ResponseWriter, r *http.Request, u *user) {
	s.showUpdates(w, r, u, "", "")
}

func (s *Server) showUpdates(w http.ResponseWriter, r *http.Request, u *user, notice, errText string) {
	v, err := s.exec(r, u, "show", "updates")
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	s.render(w, r, u, http.StatusOK, "updates", "Updates", struct {
		Notice, Error string
		Updates       *cli.Updates
	}{notice, errText, v.(*cli.Updates)})
}

// updatesAction is update now and update rollback KIND.
func (s *Server) updatesAction(w http.ResponseWriter, r *http.Request, u *user) {
	var words []string
	switch r.PathValue("verb") {
	case "now":
		words = []string{"update", "now"}
	case "rollback":
		words = []string{"update", "rollback"}
		if k := r.PostForm.Get("kind"); k != "" {
			words = append(words, k)
		}
	default:
		http.NotFound(w, r)
		return
	}
	v, err := s.exec(r, u, words...)
	if err != nil {
		s.showUpdates(w, r, u, "", err.Error())
		return
	}
	s.showUpdates(w, r, u, v.(cli.Done).Message, "")
}

// maxBundle bounds an uploaded update bundle (the official ClamAV
// databases are about 200 MB together).
const maxBundle = 1 << 30

// updateImport is update import of an uploaded bundle: kept in a file of
// the data directory while the installer reads it, then removed.
func (s *Server) updateImport(w http.ResponseWriter, r *http.Request, u *user) {
	f, _, err := r.FormFile("bundle")
	if err != nil {
		s.showUpdates(w, r, u, "", "Choose a bundle file (mailinspector bundle sign makes one).")
		return
	}
	defer f.Close()
	dir := filepath.Join(s.cfg.DataDir, "updates")
	os.MkdirAll(dir, 0o700)
	tmp, err := os.CreateTemp(dir, ".upload-")
	if err != nil {
		s.showUpdates(w, r, u, "", err.Error())
		return
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, f)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.showUpdates(w, r, u, "", "The upload did not arrive whole: "+err.Error())
		return
	}
	v, err := s.exec(r, u, "update", "import", tmp.Name())
	if err != nil {
		s.showUpdates(w, r, u, "", err.Error())
		return
	}
	s.showUpdates(w, r, u, v.(cli.Done).Message, "")
}

// bigUpload is upload for a bundle: the same checks, a larger bound, the
// file spooled to disk past 32 MiB.
func (s *Server) bigUpload(fn func(w http.ResponseWriter, r *http.Request, u *user)) http.HandlerFunc {
	return s.post(maxBundle+1<<20, func(r *http.Request) error { return r.ParseMultipartForm(32 << 20) },
		"the form's token is missing or stale, or the file is over 1 GiB", fn)
}

// licenceTTL is how long the banner reuses show licence.
const licenceTTL = 10 * time.Second

// licenceWarning is what every page says of the licence ("" nothing), and
// whether loudly.
func (s *Server) licenceWarning(r *http.Request, u *user) (string, bool) {
	s.licenceMu.Lock()
	defer s.licenceMu.Unlock()
	if time.Since(s.licenceAt) < licenceTTL {
		return s.licenceV.Warning, s.licenceV.Loud
	}
	v, err := s.exec(r, u, "show", "licence")
	if err != nil {
		return "", false
	}
	s.licenceV, s.licenceAt = v.(*cli.Licence), time.Now()
	return s.licenceV.Warning, s.licenceV.Loud
}

func (s *Server) forgetLicence() {
	s.licenceMu.Lock()
	s.licenceAt = time.Time{}
	s.licenceMu.Unlock()
}
