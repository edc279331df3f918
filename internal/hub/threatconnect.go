package hub

import (
	"fmt"
	"html/template"
	"net/http"
	"net/netip"
	"strings"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/message"
)

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
		known, err := s.Store.hashFacts(ctx, ind)
		if err != nil {
			s.internal(w, err)
			return
		}
		facts = append(facts, known...)
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
