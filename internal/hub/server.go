package hub

import (
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailinspector/internal/message"
	"mailinspector/internal/mlfeatures"
)

// APIVersion is the version in the URL path.
const APIVersion = "v1"

//go:embed mldata/model.json
var defaultModel []byte

// Server serves the hub API.
type Server struct {
	Store   *Store
	Log     *slog.Logger
	Version string
	// Latest is what /v1/updates offers (signed bundles come later).
	Latest string
	model  *mlfeatures.Model
}

// NewServer makes a server; the ML model is model.json in dataDir when
// `hub ml-train` wrote one, the shipped one otherwise.
func NewServer(st *Store, dataDir string, log *slog.Logger) (*Server, error) {
	raw := defaultModel
	if b, err := os.ReadFile(filepath.Join(dataDir, "model.json")); err == nil {
		raw = b
	}
	var m mlfeatures.Model
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("ml model: %w", err)
	}
	return &Server{Store: st, Log: log, model: &m}, nil
}

// Handler routes the API; every /v1 endpoint needs a key.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", s.status)
	mux.HandleFunc("GET /v1/web-reputation", s.webReputation)
	mux.HandleFunc("GET /v1/web-inspection", s.webInspection)
	mux.HandleFunc("GET /v1/domain-census", s.domainCensus)
	mux.HandleFunc("GET /v1/file-census", s.fileCensus)
	mux.HandleFunc("GET /v1/csss", s.csss)
	mux.HandleFunc("POST /v1/ml/score", s.mlScore)
	mux.HandleFunc("GET /v1/threat-connect/{kind}", s.threatConnect)
	mux.HandleFunc("POST /v1/feedback", s.feedback)
	mux.HandleFunc("GET /v1/updates", s.updates)
	mux.HandleFunc("GET /v1/licence", s.licence)
	mux.HandleFunc("GET /v1/time-of-click", s.timeOfClick)
	return s.auth(mux)
}

type ctxKey struct{}

// auth accepts "Authorization: Bearer KEY"; an unknown key gets 401.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || key == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mailinspector-hub"`)
			apiError(w, http.StatusUnauthorized, "unauthorized", "an API key is needed (Authorization: Bearer KEY)")
			return
		}
		name, created, err := s.Store.KeyName(r.Context(), key)
		if errors.Is(err, sql.ErrNoRows) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mailinspector-hub", error="invalid_token"`)
			apiError(w, http.StatusUnauthorized, "unauthorized", "unknown API key")
			return
		}
		if err != nil {
			s.Log.Error("hub: key lookup", "err", err)
			apiError(w, http.StatusInternalServerError, "internal", "key lookup failed")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, appliance{name, created})))
	})
}

type appliance struct {
	name    string
	created time.Time
}

func apiError(w http.ResponseWriter, code int, kind, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": kind, "message": msg}})
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (s *Server) internal(w http.ResponseWriter, err error) {
	s.Log.Error("hub: request failed", "err", err)
	apiError(w, http.StatusInternalServerError, "internal", "the hub could not answer")
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	feeds, err := s.Store.Feeds(r.Context())
	if err != nil {
		s.internal(w, err)
		return
	}
	var sightings int
	s.Store.db.QueryRowContext(r.Context(), `SELECT COUNT(*) FROM sightings`).Scan(&sightings)
	reply(w, map[string]any{"api": APIVersion, "version": s.Version, "feeds": feeds, "feedback_records": sightings,
		"ml_model": map[string]any{"version": s.model.Version, "samples": s.model.Samples}})
}

// urlParam reads and normalises the url parameter.
func urlParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	raw := r.URL.Query().Get("url")
	u, ok := message.Normalize(raw, nil)
	if !ok {
		apiError(w, http.StatusBadRequest, "bad_request", "url must be an absolute http, https or ftp URL")
		return "", false
	}
	return u, true
}

// URLMatch is a feed row that matched a URL.
type URLMatch struct {
	Feed      string `json:"feed"`
	Match     string `json:"match"` // url, host, domain, network
	Threat    string `json:"threat"`
	Tags      string `json:"tags,omitempty"`
	FirstSeen int64  `json:"first_seen,omitempty"`
	Ref       string `json:"ref,omitempty"`
}

// lookupURL finds feed rows for the exact URL, then its host, then its
// registered domain, and the network of an IP host.
func (s *Store) lookupURL(ctx context.Context, u string) ([]URLMatch, error) {
	host, domain := HostAndDomain(u)
	var out []URLMatch
	for _, q := range []struct{ match, col, val string }{{"url", "url", u}, {"host", "host", host}, {"domain", "domain", domain}} {
		rows, err := s.db.QueryContext(ctx, `SELECT feed, threat, tags, first_seen, ref FROM urls WHERE `+q.col+` = ? LIMIT 20`, q.val)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			m := URLMatch{Match: q.match}
			rows.Scan(&m.Feed, &m.Threat, &m.Tags, &m.FirstSeen, &m.Ref)
			out = append(out, m)
		}
		rows.Close()
		if len(out) > 0 {
			return out, nil
		}
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		m, err := s.lookupIP(ctx, a)
		if err != nil || m == nil {
			return nil, err
		}
		return []URLMatch{*m}, nil
	}
	return nil, nil
}

func (s *Store) lookupIP(ctx context.Context, a netip.Addr) (*URLMatch, error) {
	k := addrKey(a)
	var cidr, ref string
	err := s.db.QueryRowContext(ctx, `SELECT cidr, ref FROM networks WHERE first <= ? AND last >= ? LIMIT 1`, k, k).Scan(&cidr, &ref)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &URLMatch{Feed: "spamhaus-drop-json", Match: "network " + cidr, Threat: "hijacked network", Ref: ref}, nil
}

// rating maps matches to the web-reputation answer.
func rating(ms []URLMatch) (string, int) {
	if len(ms) == 0 {
		return "unrated", 0
	}
	worst := "suspicious"
	score := 60
	for _, m := range ms {
		switch {
		case m.Match != "url" && m.Match != "host":
			// A registered domain or a network shares its fame with
			// neighbours: suspicious, not convicted.
		case m.Threat == "phishing":
			worst, score = "phishing", 95
		default:
			if worst != "phishing" {
				worst, score = "malicious", 90
			}
		}
	}
	return worst, score
}

func (s *Server) webReputation(w http.ResponseWriter, r *http.Request) {
	u, ok := urlParam(w, r)
	if !ok {
		return
	}
	ms, err := s.Store.lookupURL(r.Context(), u)
	if err != nil {
		s.internal(w, err)
		return
	}
	rate, score := rating(ms)
	reply(w, map[string]any{"url": u, "rating": rate, "score": score, "matches": len(ms)})
}

func (s *Server) webInspection(w http.ResponseWriter, r *http.Request) {
	u, ok := urlParam(w, r)
	if !ok {
		return
	}
	ms, err := s.Store.lookupURL(r.Context(), u)
	if err != nil {
		s.internal(w, err)
		return
	}
	if ms == nil {
		ms = []URLMatch{}
	}
	reply(w, map[string]any{"url": u, "found": len(ms) > 0, "details": ms})
}

// census counts the appliances and sightings of an object in Smart
// Feedback, and when it was first seen.
func (s *Store) census(ctx context.Context, kind, object string) (appliances, sightings int, first int64, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT appliance), COUNT(*), COALESCE(MIN(at), 0) FROM sightings WHERE kind = ? AND object = ?`,
		kind, object).Scan(&appliances, &sightings, &first)
	return
}

func censusReply(kind, object string, appliances, sightings int, first int64) map[string]any {
	out := map[string]any{"kind": kind, "object": object, "appliances": appliances, "sightings": sightings}
	if first > 0 {
		out["first_seen"] = time.Unix(first, 0).UTC()
		out["age_days"] = int(time.Since(time.Unix(first, 0)).Hours() / 24)
	}
	return out
}

func (s *Server) domainCensus(w http.ResponseWriter, r *http.Request) {
	name := strings.ToLower(strings.TrimSuffix(r.URL.Query().Get("name"), "."))
	kind := "domain"
	if _, err := netip.ParseAddr(name); err == nil {
		kind = "ip"
	} else if name == "" || strings.ContainsAny(name, "/:@ ") {
		apiError(w, http.StatusBadRequest, "bad_request", "name must be a domain or an IP address")
		return
	}
	a, n, first, err := s.Store.census(r.Context(), kind, name)
	if err != nil {
		s.internal(w, err)
		return
	}
	reply(w, censusReply(kind, name, a, n, first))
}

func sha256Param(w http.ResponseWriter, r *http.Request) (string, bool) {
	h := strings.ToLower(r.URL.Query().Get("sha256"))
	if !sha256Hex.MatchString(h) {
		apiError(w, http.StatusBadRequest, "bad_request", "sha256 must be 64 hex digits")
		return "", false
	}
	return h, true
}

func (s *Server) fileCensus(w http.ResponseWriter, r *http.Request) {
	h, ok := sha256Param(w, r)
	if !ok {
		return
	}
	a, n, first, err := s.Store.census(r.Context(), "file", h)
	if err != nil {
		s.internal(w, err)
		return
	}
	out := censusReply("file", h, a, n, first)
	var sig, name string
	if err := s.Store.db.QueryRowContext(r.Context(), `SELECT signature, name FROM hashes WHERE sha256 = ? AND feed = 'malwarebazaar-csv' LIMIT 1`, h).Scan(&sig, &name); err == nil {
		out["malware"] = map[string]string{"feed": "malwarebazaar-csv", "signature": sig, "file_name": name}
	}
	reply(w, out)
}

func (s *Server) csss(w http.ResponseWriter, r *http.Request) {
	h, ok := sha256Param(w, r)
	if !ok {
		return
	}
	var name string
	err := s.Store.db.QueryRowContext(r.Context(), `SELECT name FROM hashes WHERE sha256 = ? AND feed = 'known-good-sha256' LIMIT 1`, h).Scan(&name)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		reply(w, map[string]any{"sha256": h, "known_good": false})
	case err != nil:
		s.internal(w, err)
	default:
		reply(w, map[string]any{"sha256": h, "known_good": true, "name": name})
	}
}

func (s *Server) mlScore(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Features mlfeatures.Vector `json:"features"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || req.Features == nil {
		apiError(w, http.StatusBadRequest, "bad_request", "want {\"features\": {name: number, …}}")
		return
	}
	score := s.model.Score(req.Features)
	reply(w, map[string]any{"score": score, "malicious": score >= s.model.Threshold, "threshold": s.model.Threshold, "model": s.model.Version})
}

// FeedbackRecord is one Smart Feedback record.
type FeedbackRecord struct {
	Kind    string    `json:"kind"` // file, domain, ip, url
	Object  string    `json:"object"`
	Verdict string    `json:"verdict,omitempty"`
	At      time.Time `json:"at"`
}

const maxFeedbackBatch = 5000

func (s *Server) feedback(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Records []FeedbackRecord `json:"records"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20)).Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", "want {\"records\": [{kind, object, verdict, at}, …]}: "+err.Error())
		return
	}
	if len(req.Records) > maxFeedbackBatch {
		apiError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("at most %d records per batch", maxFeedbackBatch))
		return
	}
	app := r.Context().Value(ctxKey{}).(appliance)
	tx, err := s.Store.db.BeginTx(r.Context(), nil)
	if err != nil {
		s.internal(w, err)
		return
	}
	defer tx.Rollback()
	n := 0
	for i, rec := range req.Records {
		switch rec.Kind {
		case "file", "domain", "ip", "url":
		default:
			apiError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("record %d: kind must be file, domain, ip or url", i))
			return
		}
		if rec.Object == "" || len(rec.Object) > 2048 {
			apiError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("record %d: object must be 1 to 2048 bytes", i))
			return
		}
		at := rec.At
		if at.IsZero() || at.After(time.Now().Add(time.Hour)) {
			at = time.Now()
		}
		if _, err := tx.Exec(`INSERT INTO sightings (appliance, kind, object, verdict, at) VALUES (?,?,?,?,?)`,
			app.name, rec.Kind, strings.ToLower(rec.Object), rec.Verdict, at.Unix()); err != nil {
			s.internal(w, err)
			return
		}
		n++
	}
	if err := tx.Commit(); err != nil {
		s.internal(w, err)
		return
	}
	reply(w, map[string]any{"accepted": n})
}

func (s *Server) updates(w http.ResponseWriter, r *http.Request) {
	feeds, err := s.Store.Feeds(r.Context())
	if err != nil {
		s.internal(w, err)
		return
	}
	cur := r.URL.Query().Get("current")
	reply(w, map[string]any{"current": cur, "latest": s.Latest, "available": s.Latest != "" && cur != s.Latest,
		"components": feeds})
}

func (s *Server) licence(w http.ResponseWriter, r *http.Request) {
	app := r.Context().Value(ctxKey{}).(appliance)
	expires := app.created.AddDate(1, 0, 0)
	state := "active"
	if time.Now().After(expires) {
		state = "expired"
	}
	reply(w, map[string]any{"appliance": app.name, "state": state, "activated": app.created.UTC(), "expires": expires.UTC()})
}

func (s *Server) timeOfClick(w http.ResponseWriter, r *http.Request) {
	reply(w, map[string]any{"ok": true})
}

var detailPage = template.Must(template.New("detail").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Kind}} {{.Indicator}} — Threat Connect</title></head>
<body><h1>Threat Connect: {{.Kind}}</h1><p><code>{{.Indicator}}</code></p>
{{if .Known}}<h2>Known to the hub</h2><ul>{{range .Facts}}<li>{{.}}</li>{{end}}</ul>{{else}}<p>Nothing is known about it here.</p>{{end}}
</body></html>`))

// threatConnect is the detail page of one indicator (hash, url, domain,
// ip) given as ?indicator=, HTML by default, JSON with &format=json.
func (s *Server) threatConnect(w http.ResponseWriter, r *http.Request) {
	kind, ind := r.PathValue("kind"), r.URL.Query().Get("indicator")
	var facts []string
	ctx := r.Context()
	switch kind {
	case "hash":
		ind = strings.ToLower(ind)
		if !sha256Hex.MatchString(ind) {
			apiError(w, http.StatusBadRequest, "bad_request", "a hash indicator is a SHA-256")
			return
		}
		rows, err := s.Store.db.QueryContext(ctx, `SELECT feed, name, signature FROM hashes WHERE sha256 = ?`, ind)
		if err != nil {
			s.internal(w, err)
			return
		}
		for rows.Next() {
			var feed, name, sig string
			rows.Scan(&feed, &name, &sig)
			facts = append(facts, fmt.Sprintf("%s: %s %s", feed, name, sig))
		}
		rows.Close()
		if a, n, _, err := s.Store.census(ctx, "file", ind); err == nil && n > 0 {
			facts = append(facts, fmt.Sprintf("seen %d times by %d appliances", n, a))
		}
	case "url":
		u, ok := message.Normalize(ind, nil)
		if !ok {
			apiError(w, http.StatusBadRequest, "bad_request", "not an http, https or ftp URL")
			return
		}
		ind = u
		ms, err := s.Store.lookupURL(ctx, u)
		if err != nil {
			s.internal(w, err)
			return
		}
		for _, m := range ms {
			facts = append(facts, fmt.Sprintf("%s (%s match): %s %s", m.Feed, m.Match, m.Threat, m.Ref))
		}
	case "domain", "ip":
		ind = strings.ToLower(ind)
		if kind == "ip" {
			a, err := netip.ParseAddr(ind)
			if err != nil {
				apiError(w, http.StatusBadRequest, "bad_request", "not an IP address")
				return
			}
			if m, err := s.Store.lookupIP(ctx, a); err == nil && m != nil {
				facts = append(facts, fmt.Sprintf("%s: %s %s", m.Feed, m.Match, m.Ref))
			}
		}
		if a, n, _, err := s.Store.census(ctx, kind, ind); err == nil && n > 0 {
			facts = append(facts, fmt.Sprintf("seen %d times by %d appliances", n, a))
		}
	default:
		apiError(w, http.StatusNotFound, "not_found", "indicator kinds: hash, url, domain, ip")
		return
	}
	if facts == nil {
		facts = []string{}
	}
	if r.URL.Query().Get("format") == "json" {
		reply(w, map[string]any{"kind": kind, "indicator": ind, "known": len(facts) > 0, "facts": facts})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	detailPage.Execute(w, map[string]any{"Kind": kind, "Indicator": ind, "Known": len(facts) > 0, "Facts": facts})
}
