package web

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"mailinspector/internal/cli"
)

// maxUpload bounds an uploaded configuration bundle (the control socket
// takes requests of up to 1 MiB).
const maxUpload = 960 << 10

// systemPage is Administration > System: the version, licence and
// updates, backup and restore of the configuration, restart, reboot and
// shut down.
func (s *Server) systemPage(w http.ResponseWriter, r *http.Request, u *user) {
	s.showSystem(w, r, u, "", "")
}

// showSystem renders the page: the version, the licence and the pattern
// updates as the appliance has them now (their services' state from show
// services), then the backup and the power buttons.
func (s *Server) showSystem(w http.ResponseWriter, r *http.Request, u *user, notice, errText string) {
	data := struct {
		Notice, Error string
		Version       cli.Version
		Licence       string
		Services      []cli.ServiceStatus // updates and licence
	}{Notice: notice, Error: errText}
	v, err := s.exec(r, u, "show", "version")
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	data.Version = v.(cli.Version)
	st, err := s.status(r, u)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	data.Licence = st.Licence
	svcs, err := s.exec(r, u, "show", "services")
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	for _, sv := range svcs.([]cli.ServiceStatus) {
		if sv.Name == "updates" || sv.Name == "licence" {
			data.Services = append(data.Services, sv)
		}
	}
	s.render(w, r, u, http.StatusOK, "system", "System", data)
}

// systemAction is restart, reboot and shutdown, each only with its
// confirmation box ticked.
func (s *Server) systemAction(w http.ResponseWriter, r *http.Request, u *user) {
	verb := r.PathValue("verb")
	switch verb {
	case "restart", "reboot", "shutdown":
	default:
		http.NotFound(w, r)
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		s.showSystem(w, r, u, "", "Tick the box to confirm "+verb+": nothing was done.")
		return
	}
	v, err := s.exec(r, u, verb)
	if err != nil {
		s.showSystem(w, r, u, "", err.Error())
		return
	}
	s.showSystem(w, r, u, v.(cli.Done).Message, "")
}

// configExport downloads config export's signed file.
func (s *Server) configExport(w http.ResponseWriter, r *http.Request, u *user) {
	v, err := s.exec(r, u, "config", "export")
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="mailinspector-config-`+time.Now().UTC().Format("20060102-150405")+`.json"`)
	w.Write(v.(json.RawMessage))
}

// upload is action for a multipart form (a file): the same origin, session
// and CSRF checks, the body bounded.
func (s *Server) upload(fn func(w http.ResponseWriter, r *http.Request, u *user)) http.HandlerFunc {
	const limit = maxUpload + 64<<10
	return s.post(limit, func(r *http.Request) error { return r.ParseMultipartForm(limit) },
		"the form's token is missing or stale, or the file is over 960 KiB", fn)
}

// configImport is config import of the uploaded file: verified, validated
// whole, then applied (or nothing changes, with every reason shown).
func (s *Server) configImport(w http.ResponseWriter, r *http.Request, u *user) {
	f, _, err := r.FormFile("bundle")
	if err != nil {
		s.showSystem(w, r, u, "", "Choose the file config export made.")
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUpload+1))
	if err != nil || len(data) > maxUpload {
		s.showSystem(w, r, u, "", "The file is over 960 KiB: nothing was imported.")
		return
	}
	v, err := cli.ExecWords(cli.WithInput(cli.WithCaller(r.Context(), u.caller), string(data)), s.cfg.Backend, []string{"config", "import"})
	if err != nil {
		s.showSystem(w, r, u, "", err.Error())
		return
	}
	s.showSystem(w, r, u, v.(cli.Done).Message, "")
}
