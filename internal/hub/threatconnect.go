package hub

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/message"
)

var detailPage = template.Must(template.New("detail").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Kind}} {{.Indicator}} — Threat Connect</title>
<style>body{font:15px/1.45 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}code{word-break:break-all}.hint{color:#555}</style></head>
<body><h1>Threat Connect: {{.Kind}}</h1><p><code id="indicator">{{.Indicator}}</code></p>
{{if .Known}}<h2>What the hub knows</h2><ul id="facts">{{range .Facts}}<li>{{.}}</li>{{end}}</ul>{{else}}<p id="facts">Nothing is known about it here.</p>{{end}}
{{if .Until}}<p class="hint">This page's link was signed by an appliance and opens until {{.Until}}.</p>{{end}}
</body></html>`))

var pageError = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Threat Connect</title></head>
<body><h1>Threat Connect</h1><p id="refused">{{.}}</p></body></html>`))

// facts says what the hub knows of an indicator (hash, url, domain, ip):
// the feeds that list it, the community's census (appliances, sightings,
// first and last seen, the verdicts appliances gave). It returns the
// indicator as normalised.
func (s *Server) facts(ctx context.Context, kind, ind string) (string, []string, *apiErr) {
	var facts []string
	census := func(kind, object string) *apiErr {
		c, err := s.Store.censusDetail(ctx, kind, object)
		if err != nil {
			return &apiErr{http.StatusInternalServerError, "internal", "the hub could not answer"}
		}
		if c.sightings > 0 {
			facts = append(facts, fmt.Sprintf("seen %s by %s, first on %s, last on %s", plural(c.sightings, "time"), plural(c.appliances, "appliance"),
				time.Unix(c.first, 0).UTC().Format("2006-01-02 15:04"), time.Unix(c.last, 0).UTC().Format("2006-01-02 15:04")))
			if c.verdicts != "" {
				facts = append(facts, "verdicts of the appliances that saw it: "+c.verdicts)
			}
		}
		return nil
	}
	switch kind {
	case "hash":
		ind = strings.ToLower(ind)
		if !sha256Hex.MatchString(ind) {
			return ind, nil, &apiErr{http.StatusBadRequest, "bad_request", "a hash indicator is a SHA-256"}
		}
		known, err := s.Store.hashFacts(ctx, ind)
		if err != nil {
			return ind, nil, &apiErr{http.StatusInternalServerError, "internal", "the hub could not answer"}
		}
		facts = append(facts, known...)
		if e := census("file", ind); e != nil {
			return ind, nil, e
		}
	case "url":
		u, ok := message.Normalize(ind, nil)
		if !ok {
			return ind, nil, &apiErr{http.StatusBadRequest, "bad_request", "not an http, https or ftp URL"}
		}
		ind = u
		ms, err := s.Store.lookupURL(ctx, u)
		if err != nil {
			return ind, nil, &apiErr{http.StatusInternalServerError, "internal", "the hub could not answer"}
		}
		for _, m := range ms {
			facts = append(facts, fmt.Sprintf("%s (%s match): %s %s", m.Feed, m.Match, m.Threat, m.Ref))
		}
		if e := census("url", ind); e != nil {
			return ind, nil, e
		}
	case "domain", "ip":
		ind = strings.ToLower(ind)
		if kind == "ip" {
			a, err := netip.ParseAddr(ind)
			if err != nil {
				return ind, nil, &apiErr{http.StatusBadRequest, "bad_request", "not an IP address"}
			}
			if m, err := s.Store.lookupIP(ctx, a); err == nil && m != nil {
				facts = append(facts, fmt.Sprintf("%s: %s %s", m.Feed, m.Match, m.Ref))
			}
		}
		if e := census(kind, ind); e != nil {
			return ind, nil, e
		}
	default:
		return ind, nil, &apiErr{http.StatusNotFound, "not_found", "indicator kinds: hash, url, domain, ip"}
	}
	if facts == nil {
		facts = []string{}
	}
	return ind, facts, nil
}

// threatConnect is the detail page of one indicator (hash, url, domain,
// ip) given as ?indicator=, HTML by default, JSON with &format=json.
func (s *Server) threatConnect(w http.ResponseWriter, r *http.Request) {
	kind := r.PathValue("kind")
	ind, facts, e := s.facts(r.Context(), kind, r.URL.Query().Get("indicator"))
	if e != nil {
		e.write(w)
		return
	}
	if r.URL.Query().Get("format") == "json" {
		reply(w, hubapi.ConnectAnswer{Kind: kind, Indicator: ind, Known: len(facts) > 0, Facts: facts})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	detailPage.Execute(w, map[string]any{"Kind": kind, "Indicator": ind, "Known": len(facts) > 0, "Facts": facts})
}

// maxPageLink is the longest an appliance may sign a page link for.
const maxPageLink = 30 * 24 * time.Hour

// page is the public detail page a person's browser opens through a link
// an appliance signed (hubapi.PageLink): no API key, a limited time.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	kind, ind := r.PathValue("kind"), q.Get("indicator")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	k := q.Get("k")
	if err != nil || len(k) != hubapi.PageKeyIDLen || strings.Trim(k, "0123456789abcdef") != "" {
		w.WriteHeader(http.StatusBadRequest)
		pageError.Execute(w, "This link is incomplete: open the detection on the appliance again.")
		return
	}
	now := time.Now()
	if now.Unix() > exp {
		w.WriteHeader(http.StatusGone)
		pageError.Execute(w, "This link has expired: open the detection on the appliance again for a fresh one.")
		return
	}
	if time.Unix(exp, 0).Sub(now) > maxPageLink || !s.Store.verifyPage(r.Context(), k, kind, ind, exp, q.Get("sig")) {
		w.WriteHeader(http.StatusForbidden)
		pageError.Execute(w, "This link was not signed by an appliance this hub knows.")
		return
	}
	ind, facts, e := s.facts(r.Context(), kind, ind)
	if e != nil {
		w.WriteHeader(e.status)
		pageError.Execute(w, e.message)
		return
	}
	detailPage.Execute(w, map[string]any{"Kind": kind, "Indicator": ind, "Known": len(facts) > 0, "Facts": facts,
		"Until": time.Unix(exp, 0).UTC().Format("2006-01-02 15:04 UTC")})
}

// plural is "1 time", "3 times".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
