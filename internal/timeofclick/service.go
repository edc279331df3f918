package timeofclick

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"mailinspector/internal/risk"
	"mailinspector/internal/store"
)

// Judgement is what a link is at the moment of a click.
type Judgement struct {
	Risk string // none, unrated, low, medium, high
	// Evaluation is "done", or "skipped: why" when a service that rates
	// links could not be asked (the link is then unrated).
	Evaluation string
}

// Judge rates a link now: the local lists and the hub's link services in
// one joint request, under the degradation contract.
type Judge func(ctx context.Context, link string) Judgement

// Actions.
const (
	Allow    = "allow"
	Warn     = "warn"
	Block    = "block"
	Continue = "continue" // a warned reader went on
)

// Service answers the clicks on wrapped links (/c/TOKEN, and
// /c/TOKEN/go after a warning).
type Service struct {
	DB    *store.DB
	Keys  *Keys // verify the tokens before the database is asked
	Judge Judge
	// Actions by the link's risk now (click.action.*).
	Actions map[string]string
	// Legacy serves the tokens of the block-links and warn-links pages
	// (clickguard: a token with a dot).
	Legacy http.Handler
	// Clicked, when set, is told of every click once it is logged (SIEM).
	Clicked func(store.Click)
	Log     *slog.Logger
	// Pages are the administrator's page texts by risk (click.page.*).
	Pages map[string]string
	// PerToken and PerClient bound the clicks a minute on one link and
	// from one address (0: 30 and 6,000: a company's readers often share
	// one address, a flood from one does not get through).
	PerToken, PerClient int

	limits limiter
}

// Handler is the service's routes.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /c/{token}", func(w http.ResponseWriter, r *http.Request) { s.click(w, r, false) })
	mux.HandleFunc("GET /c/{token}/go", func(w http.ResponseWriter, r *http.Request) { s.click(w, r, true) })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	return mux
}

func (s *Service) click(w http.ResponseWriter, r *http.Request, goOn bool) {
	token := r.PathValue("token")
	if strings.Contains(token, ".") && s.Legacy != nil && !goOn {
		s.Legacy.ServeHTTP(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	client := clientIP(r)
	perToken, perClient := s.PerToken, s.PerClient
	if perToken == 0 {
		perToken = 30
	}
	if perClient == 0 {
		perClient = 6000
	}
	// A token is counted only in the form tokens have: a limiter's key
	// is never a stranger's long string.
	if !s.limits.allow("ip "+client, perClient) || s.Keys.Valid(token) && !s.limits.allow("token "+token, perToken) {
		s.page(w, http.StatusTooManyRequests, page{Title: "Too many clicks", Text: "Wait a minute and try again."})
		return
	}
	var l *store.ClickLink
	err := store.ErrNoLink
	if s.Keys.Valid(token) {
		l, err = s.DB.ClickLinkByToken(r.Context(), token)
	}
	if errors.Is(err, store.ErrNoLink) {
		// Never a redirect for a token this appliance did not make.
		s.page(w, http.StatusNotFound, page{Title: "Unknown link", Text: "This link was not written by this Mail Inspector, it was changed on the way, or it is so old that it was forgotten. It leads nowhere."})
		return
	}
	if err != nil {
		s.Log.Error("time-of-click: read link", "err", err)
		s.page(w, http.StatusServiceUnavailable, page{Title: "Try again", Text: "The link could not be looked up just now."})
		return
	}
	if time.Now().After(l.Expires) {
		s.page(w, http.StatusGone, page{Title: "Link expired", Text: "This link from an email message has expired. It is shown below as text only.", URL: l.URL})
		return
	}
	j := s.Judge(r.Context(), l.URL)
	action := s.Actions[j.Risk]
	if action == "" {
		action = Warn
	}
	if risk.Rank(l.Risk) >= risk.Rank(risk.Medium) || !webLink(l.URL) {
		// Judged malicious at delivery (click.rewrite all): never a
		// click-through.
		action = Block
	}
	c := store.Click{At: time.Now(), Token: l.Token, MessageID: l.MessageID, Rcpt: l.Rcpt, URL: l.URL, RiskThen: l.Risk, RiskNow: j.Risk,
		Action: action, Evaluation: j.Evaluation, ClientIP: client, UserAgent: cut(r.UserAgent(), 512)}
	if goOn && action != Block {
		c.Action = Continue
	}
	c.Scanner = s.scanner(r.Context(), l, &c)
	s.record(c)
	switch {
	case c.Action == Allow || c.Action == Continue:
		h.Set("Location", l.URL)
		w.WriteHeader(http.StatusSeeOther)
	case action == Warn:
		s.page(w, http.StatusOK, page{Title: "Careful: this link may be dangerous", Risk: j.Risk,
			Text: "This link from an email message could not be rated safe just now (" + riskText(j) + "). Open it only if you trust it.",
			URL:  l.URL, Continue: template.URL("/c/" + l.Token + "/go"), Custom: s.custom(j.Risk)})
	default:
		s.page(w, http.StatusOK, page{Title: "Link blocked", Risk: j.Risk,
			Text: "This link from an email message was judged dangerous (" + riskText(j) + "). It is shown below as text only.", URL: l.URL,
			Custom: s.custom(j.Risk)})
	}
}

func riskText(j Judgement) string {
	t := "risk " + j.Risk
	if strings.HasPrefix(j.Evaluation, "skipped") {
		t += "; the rating services could not be asked"
	}
	return t
}

// record logs a click; a click is answered even when the log cannot take
// it (the log says so).
func (s *Service) record(c store.Click) {
	err := s.DB.Write(context.Background(), func(tx *store.Tx) error { return store.RecordClick(tx, &c) })
	if err != nil {
		s.Log.Error("time-of-click: log the click", "err", err, "token", c.Token)
		return
	}
	s.Log.Info("time-of-click", "message", c.MessageID, "url", c.URL, "risk_then", c.RiskThen, "risk_now", c.RiskNow,
		"action", c.Action, "evaluation", c.Evaluation, "client", c.ClientIP, "scanner", c.Scanner)
	if s.Clicked != nil {
		s.Clicked(c)
	}
}

// webLink: only http and https links are ever followed.
func webLink(link string) bool {
	u, err := url.Parse(link)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && !strings.ContainsAny(link, "\r\n")
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
