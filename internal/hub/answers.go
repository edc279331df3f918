package hub

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/message"
	"mailinspector/internal/mlfeatures"
)

// The answers of the per-object services, one item at a time (single,
// batch and the joint request all call these), and the ML scores.

// normURL normalises a URL parameter.
func normURL(raw string) (string, error) {
	u, ok := message.Normalize(raw, nil)
	if !ok {
		return "", badInput("url must be an absolute http, https or ftp URL")
	}
	return u, nil
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
