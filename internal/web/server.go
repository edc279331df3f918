// Package web is the web console: server-rendered pages (html/template)
// over HTTPS, every read and every change made through the command layer
// (cli.ExecWords) under the logged-in account, so the roles, the
// validation and the audit log are the command line's.
//
// Security: an opaque session token in a __Host- cookie (Secure, HttpOnly,
// SameSite=Strict) ending after web.session_idle and when the account's
// password changes; every POST carries the session's CSRF token and an
// Origin of this console; a Content-Security-Policy without inline script
// or style, frame-ancestors 'none', HSTS. Assets are embedded with a
// content hash in their names.
package web

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"mailinspector/internal/cli"
)

// Account is what the console needs of an account, read at every request
// (a role changed, a lock or a new password take effect at once).
type Account struct {
	Role   string
	Hash   string
	Locked bool
}

// Config is what the console is built from.
type Config struct {
	Backend cli.Backend
	// Login checks a name and a password (lockout included) and returns
	// the account's password hash.
	Login func(ctx context.Context, name, password string) (hash string, err error)
	// Account reads an account; an error: it is gone.
	Account     func(ctx context.Context, name string) (Account, error)
	SessionIdle time.Duration
	// DataDir names the session store: sessions outlive a reload.
	DataDir string
	Log     *slog.Logger
}

// Server serves the console.
type Server struct {
	cfg      Config
	sessions *sessions
	pages    map[string]*template.Template
	assets   map[string][]byte // by hashed name
	paths    map[string]string // static file -> its hashed path
	mux      *http.ServeMux

	// statusMu guards the dashboard's last status (status).
	statusMu sync.Mutex
	statusAt time.Time
	statusV  *cli.Status

	// licenceMu guards the licence banner's last text (licenceWarning).
	licenceMu sync.Mutex
	licenceAt time.Time
	licenceV  *cli.Licence
}

// statusTTL is how long the dashboard reuses show status: every open
// dashboard asks every five seconds, and counting a million messages by
// state costs tens of milliseconds each time (docs/performance.md).
const statusTTL = 5 * time.Second

// status is show status as the user, reused for statusTTL (the command
// was run as some logged-in account; status is the same for every role).
func (s *Server) status(r *http.Request, u *user) (*cli.Status, error) {
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	if s.statusV != nil && time.Since(s.statusAt) < statusTTL {
		return s.statusV, nil
	}
	v, err := s.exec(r, u, "show", "status")
	if err != nil {
		return nil, err
	}
	s.statusV, s.statusAt = v.(*cli.Status), time.Now()
	return s.statusV, nil
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New builds the console.
func New(cfg Config) (*Server, error) {
	s := &Server{cfg: cfg, sessions: sessionsFor(cfg.DataDir, cfg.SessionIdle), pages: map[string]*template.Template{}, assets: map[string][]byte{}, paths: map[string]string{}}
	if err := s.loadAssets(); err != nil {
		return nil, err
	}
	funcs := template.FuncMap{"join": strings.Join, "split": strings.Fields, "asset": s.asset, "indicatorLink": indicatorLink,
		"unixTime": func(u int64) string { return time.Unix(u, 0).UTC().Format("2006-01-02 15:04") },
		// dict makes a map of pairs, for a template called with more than one value.
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if n == "templates/layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		s.pages[strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")] = t
	}
	s.routes()
	return s, nil
}

// loadAssets names each static file by its content's hash: a changed file
// has a new name, so browsers may keep any of them for ever.
func (s *Server) loadAssets() error {
	return fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		base := strings.TrimPrefix(p, "static/")
		dot := strings.LastIndex(base, ".")
		name := base[:dot] + "." + hex.EncodeToString(sum[:6]) + base[dot:]
		s.assets[name] = data
		s.paths[base] = "/static/" + name
		return nil
	})
}

// asset is a static file's path, its content's hash in the name; a
// template naming a file that is not there fails to render.
func (s *Server) asset(name string) (string, error) {
	p, ok := s.paths[name]
	if !ok {
		return "", errors.New("no static file " + name)
	}
	return p, nil
}

// Handler is the console with its security headers.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: with no-referrer a browser sends
		// "Origin: null" on a form POST, and the origin check needs it.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Strict-Transport-Security", "max-age=31536000")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		s.mux.ServeHTTP(w, r)
	})
}

const cookieName = "__Host-mi_session"

// maxForm bounds a form's body.
const maxForm = 64 << 10

// user is the request's session and caller, or nil.
type user struct {
	sess   *session
	caller cli.Caller
}

// current reads the session cookie and the account behind it: an ended,
// idle, locked or deleted account's session, or one whose password
// changed since, is no session.
func (s *Server) current(r *http.Request) *user {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	ss := s.sessions.get(c.Value)
	if ss == nil {
		return nil
	}
	acc, err := s.cfg.Account(r.Context(), ss.account)
	if err != nil || acc.Locked || !ss.samePassword(acc.Hash) {
		s.sessions.end(ss.token)
		return nil
	}
	return &user{sess: ss, caller: cli.Caller{Who: ss.account, Via: "web console from " + clientIP(r), Role: acc.Role}}
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// sameOrigin says whether a POST comes from a page of this console: the
// Origin a browser sends must be this host's, over HTTPS.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	return o != "" && o == "https://"+r.Host
}

// page handles a GET for logged-in users.
func (s *Server) page(fn func(w http.ResponseWriter, r *http.Request, u *user)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u := s.current(r)
		if u == nil {
			if r.Header.Get("HX-Request") == "true" {
				// A widget's refresh after the session ended: the whole
				// page goes to the login, not the widget.
				w.Header().Set("HX-Redirect", "/login")
				return
			}
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		fn(w, r, u)
	}
}

// action handles a POST for logged-in users: from this console's origin,
// with the session's CSRF token.
func (s *Server) action(fn func(w http.ResponseWriter, r *http.Request, u *user)) http.HandlerFunc {
	return s.post(maxForm, (*http.Request).ParseForm, "the form's token is missing or stale; reload the page", fn)
}

// post is action and upload: the origin, the session, the body bounded
// to limit and read by parse, then the CSRF token.
func (s *Server) post(limit int64, parse func(*http.Request) error, refusal string, fn func(w http.ResponseWriter, r *http.Request, u *user)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !sameOrigin(r) {
			http.Error(w, "refused: the request does not come from this console", http.StatusForbidden)
			return
		}
		u := s.current(r)
		if u == nil {
			http.Error(w, "refused: not logged in", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if err := parse(r); err != nil || !tokensEqual(r.PostForm.Get("csrf"), u.sess.csrf) {
			http.Error(w, "refused: "+refusal, http.StatusForbidden)
			return
		}
		fn(w, r, u)
	}
}

func tokensEqual(a, b string) bool {
	return len(a) == len(b) && a != "" && subtleEqual(a, b)
}

// exec runs a command as the user, in words (cli.ExecWords).
func (s *Server) exec(r *http.Request, u *user, words ...string) (any, error) {
	return cli.ExecWords(cli.WithCaller(r.Context(), u.caller), s.cfg.Backend, words)
}

// noticeForm is the done= notice the console's redirects make: a verb,
// and a message ID after some.
var noticeForm = regexp.MustCompile(`^(released|deleted|resumed|retry|reroute|delete)( [a-z0-9]{1,40})?$`)

// pageData is what every page's template gets.
type pageData struct {
	Title   string
	Nav     string
	Account string
	Role    string
	CSRF    string
	Error   string
	Notice  string
	// Banner is the licence's warning, on every page while there is one;
	// BannerLoud when something stopped or is about to.
	Banner     string
	BannerLoud bool
	Data       any
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, u *user, status int, name, title string, data any) {
	s.renderTemplate(w, r, u, status, name, "layout.html", title, data)
}

// renderTemplate renders one template of a page's set: the whole page
// (layout.html) or a part a widget refreshes.
func (s *Server) renderTemplate(w http.ResponseWriter, r *http.Request, u *user, status int, name, tmpl, title string, data any) {
	d := pageData{Title: title, Nav: name, Data: data}
	if n, ok := data.(interface{ navName() string }); ok {
		d.Nav = n.navName() // one template, several menu entries
	}
	if done := r.URL.Query().Get("done"); noticeForm.MatchString(done) {
		// Only what this console's own redirects put there: a link from
		// elsewhere cannot make the page say something else.
		d.Notice = done
	}
	if u != nil {
		d.Account, d.Role, d.CSRF = u.caller.Who, u.caller.Role, u.sess.csrf
		if tmpl == "layout.html" {
			d.Banner, d.BannerLoud = s.licenceWarning(r, u)
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := s.pages[name].ExecuteTemplate(w, tmpl, d); err != nil {
		s.cfg.Log.Error("web: render", "page", name, "err", err)
	}
}

// fail shows a command's error as a page, with the status it deserves.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, u *user, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, cli.ErrForbidden):
		status = http.StatusForbidden
	case errors.Is(err, cli.ErrUsage):
		status = http.StatusBadRequest
	case strings.Contains(err.Error(), "no such"):
		status = http.StatusNotFound
	case strings.Contains(err.Error(), "no longer kept"):
		status = http.StatusGone
	}
	s.render(w, r, u, status, "error", http.StatusText(status), err.Error())
}
