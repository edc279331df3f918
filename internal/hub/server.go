package hub

import (
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/message"
	"mailinspector/internal/mlfeatures"
)

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
	mux.HandleFunc("GET "+hubapi.PathStatus, s.status)
	for _, ep := range s.lookups() {
		mux.HandleFunc("GET "+ep.path, s.single(ep.param, ep.f))
		mux.HandleFunc("POST "+ep.path, s.batch(ep.batch, ep.f))
	}
	mux.HandleFunc("POST "+hubapi.PathMLScore, s.mlScore)
	mux.HandleFunc("POST "+hubapi.PathLookup, s.lookup)
	mux.HandleFunc("GET "+hubapi.PathThreatConnect+"{kind}", s.threatConnect)
	mux.HandleFunc("POST "+hubapi.PathFeedback, s.feedback)
	mux.HandleFunc("GET "+hubapi.PathUpdates, s.updates)
	mux.HandleFunc("GET "+hubapi.PathLicence, s.licence)
	mux.HandleFunc("GET "+hubapi.PathTimeOfClick, s.timeOfClick)
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
	json.NewEncoder(w).Encode(hubapi.Error{Error: hubapi.ErrorDetail{Code: kind, Message: msg}})
}

// decodeBody reads one JSON value of at most limit bytes from the request
// body into v; anything after it but white space makes the body malformed
// (a decoder alone would ignore it).
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// badBody answers a request body decodeBody refused: 413 when it was
// larger than its limit (as docs/hub-api.md promises), else 400 saying
// what was wanted.
func badBody(w http.ResponseWriter, err error, want string) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		apiError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body larger than %d bytes", tooBig.Limit))
		return
	}
	apiError(w, http.StatusBadRequest, "bad_request", want)
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
	reply(w, hubapi.Status{API: hubapi.Version, Version: s.Version, Feeds: feeds, FeedbackRecords: sightings,
		MLModel: hubapi.ModelRef{Version: s.model.Version, Samples: s.model.Samples}})
}

// badInput is an item the caller got wrong (400).
type badInput string

func (e badInput) Error() string { return string(e) }

// answerFunc answers one item (a URL, a name, a hash).
type answerFunc func(ctx context.Context, item string) (any, error)

// single serves GET ?param=ITEM with one answer.
func (s *Server) single(param string, f answerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ans, err := f(r.Context(), r.URL.Query().Get(param))
		var bad badInput
		switch {
		case errors.As(err, &bad):
			apiError(w, http.StatusBadRequest, "bad_request", string(bad))
		case err != nil:
			s.internal(w, err)
		default:
			reply(w, ans)
		}
	}
}

// maxBatch bounds the items of one batch request.
const maxBatch = hubapi.MaxBatch

// batch serves POST {field: [ITEM, …]} with {"results": [answer, …]} in
// the same order: one round trip for every object of a message.
func (s *Server) batch(field string, f answerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req map[string][]string
		if err := decodeBody(w, r, 1<<20, &req); err != nil {
			badBody(w, err, fmt.Sprintf("want {%q: [item, …]}", field))
			return
		}
		out, e := s.answerBatch(r.Context(), field, req, f)
		if e != nil {
			e.write(w)
			return
		}
		reply(w, hubapi.Results[any]{Results: out})
	}
}

// apiErr is an error answer: its HTTP status, code and message.
type apiErr struct {
	status        int
	code, message string
}

func (e *apiErr) write(w http.ResponseWriter) { apiError(w, e.status, e.code, e.message) }

// answerBatch answers the items of req[field] in order.
func (s *Server) answerBatch(ctx context.Context, field string, req map[string][]string, f answerFunc) ([]any, *apiErr) {
	items := req[field]
	if items == nil {
		return nil, &apiErr{http.StatusBadRequest, "bad_request", fmt.Sprintf("want {%q: [item, …]}", field)}
	}
	if len(items) > maxBatch {
		return nil, &apiErr{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("at most %d items per request", maxBatch)}
	}
	out := make([]any, 0, len(items))
	for i, it := range items {
		ans, err := f(ctx, it)
		var bad badInput
		switch {
		case errors.As(err, &bad):
			return nil, &apiErr{http.StatusBadRequest, "bad_request", fmt.Sprintf("item %d: %s", i, bad)}
		case err != nil:
			s.Log.Error("hub: request failed", "err", err)
			return nil, &apiErr{http.StatusInternalServerError, "internal", "the hub could not answer"}
		}
		out = append(out, ans)
	}
	return out, nil
}

// normURL normalises a URL parameter.
func normURL(raw string) (string, error) {
	u, ok := message.Normalize(raw, nil)
	if !ok {
		return "", badInput("url must be an absolute http, https or ftp URL")
	}
	return u, nil
}

// lookupURL finds feed rows for the exact URL, then its host, then its
// registered domain, and the network of an IP host.
func (s *Store) lookupURL(ctx context.Context, u string) ([]hubapi.URLMatch, error) {
	ix, err := s.idx(ctx)
	if err != nil {
		return nil, err
	}
	host, domain := HostAndDomain(u)
	for _, ms := range [][]hubapi.URLMatch{ix.byURL[u], ix.byHost[host], ix.byDomain[domain]} {
		if len(ms) > 0 {
			return ms[:min(len(ms), 20)], nil
		}
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if n := ix.network(a); n != nil {
			return []hubapi.URLMatch{{Feed: "spamhaus-drop-json", Match: "network " + n.cidr, Threat: "hijacked network", Ref: n.ref}}, nil
		}
	}
	return nil, nil
}

func (s *Store) lookupIP(ctx context.Context, a netip.Addr) (*hubapi.URLMatch, error) {
	ix, err := s.idx(ctx)
	if err != nil {
		return nil, err
	}
	if n := ix.network(a); n != nil {
		return &hubapi.URLMatch{Feed: "spamhaus-drop-json", Match: "network " + n.cidr, Threat: "hijacked network", Ref: n.ref}, nil
	}
	return nil, nil
}

// rating maps matches to the web-reputation answer.
func rating(ms []hubapi.URLMatch) (string, int) {
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

func (s *Server) reputationOf(ctx context.Context, raw string) (any, error) {
	u, ms, err := s.matchURL(ctx, raw)
	if err != nil {
		return nil, err
	}
	rate, score := rating(ms)
	return hubapi.ReputationAnswer{URL: u, Rating: rate, Score: score, Matches: len(ms)}, nil
}

func (s *Server) inspectionOf(ctx context.Context, raw string) (any, error) {
	u, ms, err := s.matchURL(ctx, raw)
	if err != nil {
		return nil, err
	}
	if ms == nil {
		ms = []hubapi.URLMatch{}
	}
	return hubapi.InspectionAnswer{URL: u, Found: len(ms) > 0, Details: ms}, nil
}

// urlMemo keeps the URL lookups of one request: a joint request asks
// web-reputation and web-inspection about the same URLs, and normalising
// and looking one up was most of what either costs.
type urlMemo map[string]urlMatches

type urlMatches struct {
	url string
	ms  []hubapi.URLMatch
}

type memoKey struct{}

// matchURL normalises raw and finds its feed rows, once per request.
func (s *Server) matchURL(ctx context.Context, raw string) (string, []hubapi.URLMatch, error) {
	memo, _ := ctx.Value(memoKey{}).(urlMemo)
	if m, ok := memo[raw]; ok {
		return m.url, m.ms, nil
	}
	u, err := normURL(raw)
	if err != nil {
		return "", nil, err
	}
	ms, err := s.Store.lookupURL(ctx, u)
	if err != nil {
		return "", nil, err
	}
	if memo != nil {
		memo[raw] = urlMatches{u, ms}
	}
	return u, ms, nil
}

// census counts the appliances and sightings of an object in Smart
// Feedback, and when it was first seen.
func (s *Store) census(ctx context.Context, kind, object string) (appliances, sightings int, first int64, err error) {
	err = s.censusQ.QueryRowContext(ctx, kind, object).Scan(&appliances, &sightings, &first)
	return
}

func censusReply(kind, object string, appliances, sightings int, first int64) hubapi.CensusAnswer {
	out := hubapi.CensusAnswer{Kind: kind, Object: object, Appliances: appliances, Sightings: sightings}
	if first > 0 {
		t := time.Unix(first, 0).UTC()
		age := int(time.Since(t).Hours() / 24)
		out.FirstSeen, out.AgeDays = &t, &age
	}
	return out
}

func (s *Server) domainCensusOf(ctx context.Context, name string) (any, error) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	kind := "domain"
	if _, err := netip.ParseAddr(name); err == nil {
		kind = "ip"
	} else if name == "" || strings.ContainsAny(name, "/:@ ") {
		return nil, badInput("name must be a domain or an IP address")
	}
	a, n, first, err := s.Store.census(ctx, kind, name)
	if err != nil {
		return nil, err
	}
	return censusReply(kind, name, a, n, first), nil
}

func hashItem(h string) (string, error) {
	h = strings.ToLower(h)
	if !sha256Hex.MatchString(h) {
		return "", badInput("sha256 must be 64 hex digits")
	}
	return h, nil
}

func (s *Server) fileCensusOf(ctx context.Context, h string) (any, error) {
	h, err := hashItem(h)
	if err != nil {
		return nil, err
	}
	a, n, first, err := s.Store.census(ctx, "file", h)
	if err != nil {
		return nil, err
	}
	out := censusReply("file", h, a, n, first)
	ix, err := s.Store.idx(ctx)
	if err != nil {
		return nil, err
	}
	if r, ok := ix.malware[h]; ok {
		out.Malware = map[string]string{"feed": "malwarebazaar-csv", "signature": r.signature, "file_name": r.name}
	}
	return out, nil
}

func (s *Server) csssOf(ctx context.Context, h string) (any, error) {
	h, err := hashItem(h)
	if err != nil {
		return nil, err
	}
	ix, err := s.Store.idx(ctx)
	if err != nil {
		return nil, err
	}
	name, ok := ix.good[h]
	return hubapi.KnownGoodAnswer{SHA256: h, KnownGood: ok, Name: name}, nil
}

// mlScore scores one file's features ({"features": {…}}) or several
// ({"items": [{"features": {…}}, …]}, answered {"results": […]} in order).
func (s *Server) mlScore(w http.ResponseWriter, r *http.Request) {
	var req hubapi.MLRequest
	err := decodeBody(w, r, 1<<20, &req)
	switch {
	case err != nil || (req.Features == nil) == (req.Items == nil):
		badBody(w, err, "want {\"features\": {name: number, …}} or {\"items\": [{\"features\": …}, …]}")
		return
	case req.Features != nil:
		reply(w, s.score(req.Features))
		return
	}
	out, e := s.scoreItems(req.Items)
	if e != nil {
		e.write(w)
		return
	}
	reply(w, hubapi.Results[any]{Results: out})
}

// scoreItems scores several files' features in order.
func (s *Server) scoreItems(items []hubapi.MLItem) ([]any, *apiErr) {
	if len(items) > maxBatch {
		return nil, &apiErr{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("at most %d items per request", maxBatch)}
	}
	out := make([]any, len(items))
	for i, it := range items {
		if it.Features == nil {
			return nil, &apiErr{http.StatusBadRequest, "bad_request", fmt.Sprintf("item %d: no features", i)}
		}
		out[i] = s.score(it.Features)
	}
	return out, nil
}

func (s *Server) score(v mlfeatures.Vector) hubapi.ScoreAnswer {
	score := s.model.Score(v)
	return hubapi.ScoreAnswer{Score: score, Malicious: score >= s.model.Threshold, Threshold: s.model.Threshold, Model: s.model.Version}
}

const maxFeedbackBatch = 5000

func (s *Server) feedback(w http.ResponseWriter, r *http.Request) {
	var req hubapi.FeedbackRequest
	if err := decodeBody(w, r, 8<<20, &req); err != nil {
		badBody(w, err, "want {\"records\": [{kind, object, verdict, at}, …]}: "+err.Error())
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
	reply(w, hubapi.FeedbackAnswer{Accepted: n})
}

func (s *Server) updates(w http.ResponseWriter, r *http.Request) {
	feeds, err := s.Store.Feeds(r.Context())
	if err != nil {
		s.internal(w, err)
		return
	}
	cur := r.URL.Query().Get("current")
	reply(w, hubapi.UpdatesAnswer{Current: cur, Latest: s.Latest, Available: s.Latest != "" && cur != s.Latest, Components: feeds})
}

func (s *Server) licence(w http.ResponseWriter, r *http.Request) {
	app := r.Context().Value(ctxKey{}).(appliance)
	expires := app.created.AddDate(1, 0, 0)
	state := "active"
	if time.Now().After(expires) {
		state = "expired"
	}
	reply(w, hubapi.LicenceAnswer{Appliance: app.name, State: state, Activated: app.created.UTC(), Expires: expires.UTC()})
}

func (s *Server) timeOfClick(w http.ResponseWriter, r *http.Request) {
	reply(w, hubapi.TimeOfClickAnswer{OK: true})
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
		reply(w, hubapi.ConnectAnswer{Kind: kind, Indicator: ind, Known: len(facts) > 0, Facts: facts})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	detailPage.Execute(w, map[string]any{"Kind": kind, "Indicator": ind, "Known": len(facts) > 0, "Facts": facts})
}
