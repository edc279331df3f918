package web

import (
	"io"
	"net/http"
	"net/url"
	"time"

	"mailinspector/internal/cli"
)

// Lists: the list settings (approved and blocked senders, the message
// exceptions, the hash, URL and domain lists), each with its entries,
// an entry added or removed (list add/remove) and the whole list out and
// in as CSV in DDEI's form (list export/import).

func (s *Server) listsPage(w http.ResponseWriter, r *http.Request, u *user) {
	s.showLists(w, r, u, "", "")
}

func (s *Server) showLists(w http.ResponseWriter, r *http.Request, u *user, notice, errText string) {
	v, err := s.exec(r, u, "show", "lists")
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	s.render(w, r, u, http.StatusOK, "lists", "Lists", struct {
		Lists         []cli.ListInfo
		Notice, Error string
	}{v.([]cli.ListInfo), notice, errText})
}

// listEdit is list add or remove of one entry.
func (s *Server) listEdit(w http.ResponseWriter, r *http.Request, u *user) {
	verb := r.PathValue("verb")
	if verb != "add" && verb != "remove" {
		http.NotFound(w, r)
		return
	}
	v, err := s.exec(r, u, "list", verb, r.PostForm.Get("key"), r.PostForm.Get("entry"))
	if err != nil {
		s.showLists(w, r, u, "", "Nothing changed: "+err.Error())
		return
	}
	s.showLists(w, r, u, v.(cli.Done).Message, "")
}

// listExport is list export KEY as a CSV file.
func (s *Server) listExport(w http.ResponseWriter, r *http.Request, u *user) {
	key := r.URL.Query().Get("key")
	v, err := s.exec(r, u, "list", "export", key)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	// The key is one of the lists (list export refused any other): a
	// name of letters, dots and underscores.
	w.Header().Set("Content-Disposition", `attachment; filename="`+url.PathEscape(key)+"-"+time.Now().UTC().Format("20060102")+`.csv"`)
	io.WriteString(w, string(v.(cli.RawText)))
}

// listImport is list import KEY [replace] of the uploaded CSV: every line
// checked, then one commit, or nothing with every bad line named.
func (s *Server) listImport(w http.ResponseWriter, r *http.Request, u *user) {
	f, _, err := r.FormFile("csv")
	if err != nil {
		s.showLists(w, r, u, "", "Choose a CSV file: <type>,<object>,[source],[notes] a line.")
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUpload+1))
	if err != nil || len(data) > maxUpload {
		s.showLists(w, r, u, "", "The file is over 960 KiB: nothing was imported.")
		return
	}
	words := []string{"list", "import", r.PostForm.Get("key")}
	if r.PostForm.Get("replace") == "on" {
		words = append(words, "replace")
	}
	v, err := cli.ExecWords(cli.WithInput(cli.WithCaller(r.Context(), u.caller), string(data)), s.cfg.Backend, words)
	if err != nil {
		s.showLists(w, r, u, "", err.Error())
		return
	}
	s.showLists(w, r, u, v.(cli.Done).Message, "")
}
