package hub

import (
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/mlfeatures"
)

//go:embed mldata/model.json
var defaultModel []byte

// Server serves the hub API.
type Server struct {
	Store   *Store
	Log     *slog.Logger
	Version string
	model   *mlfeatures.Model
	dataDir string
	// described caches the published bundles' index entries (bundles.go).
	described sync.Map
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
	return &Server{Store: st, Log: log, model: &m, dataDir: dataDir}, nil
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
	mux.HandleFunc("GET "+hubapi.PathBundles+"{name}", s.bundle)
	mux.HandleFunc("GET "+hubapi.PathLicence, s.licence)
	mux.HandleFunc("GET "+hubapi.PathTimeOfClick, s.timeOfClick)
	// The public detail pages have no API key: their links are signed.
	top := http.NewServeMux()
	top.HandleFunc("GET "+hubapi.PathPage+"{kind}", s.page)
	top.Handle("/", s.auth(mux))
	return top
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
	sightings, _ := s.Store.Sightings(r.Context()) // a count it cannot read is 0: the status still answers
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
