package analysis

import (
	"context"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/services"
)

// ThreatConnect links each detection that names an indicator (a file hash,
// a URL, an IP) to its detail page on the hub, and says what the hub knows.
// The links are for a person's browser: signed by the appliance for
// LinkLifetime, with no API key in them (hubapi.PageLink); the console's
// own page of the indicator gives a fresh one. Out of reach, the step is
// skipped: the detections stand, and the console's page says what this
// appliance has seen of each.
type ThreatConnect struct{ Cloud }

// LinkLifetime is how long a Threat Connect link in a trail opens the
// hub's page.
const LinkLifetime = 7 * 24 * time.Hour

func (ThreatConnect) Name() string    { return "threat-connect" }
func (ThreatConnect) Service() string { return services.ThreatConnect }

func (s ThreatConnect) Run(ctx context.Context, m *Message) (Result, error) {
	cl, err := s.client(services.ThreatConnect)
	if err != nil {
		return Result{}, err
	}
	type indicator struct{ kind, value string }
	var inds []indicator
	seen := map[string]bool{}
	for _, f := range m.Findings {
		if f.Object == "" || seen[f.Object] || Rank(f.Risk) < Rank(RiskLow) {
			continue
		}
		seen[f.Object] = true
		kind := "domain"
		switch {
		case strings.Contains(f.Object, "://"):
			kind = "url"
		case len(f.Object) == 64 && strings.Trim(f.Object, "0123456789abcdef") == "":
			kind = "hash"
		case isAddr(f.Object):
			kind = "ip"
		}
		if len(inds) < 16 {
			inds = append(inds, indicator{kind, f.Object})
		}
	}
	if len(inds) == 0 {
		return Result{Detail: "no detections to link"}, nil
	}
	links := make([]string, len(inds))
	errs := fanOut(ctx, len(inds), func(ctx context.Context, i int) error {
		in := inds[i]
		a, err := services.Call(ctx, cl, in.kind+" "+in.value, func(ctx context.Context) (hubapi.ConnectAnswer, bool, error) {
			var a hubapi.ConnectAnswer
			qj := url.Values{"indicator": {in.value}, "format": {"json"}}
			err := s.Hub.Get(ctx, hubapi.PathThreatConnect+in.kind, qj, &a)
			return a, a.Known, err
		})
		if err != nil {
			return err
		}
		links[i] = hubapi.PageLink(s.Hub.Base, s.Hub.Key, in.kind, in.value, time.Now().Add(LinkLifetime))
		if a.Known {
			links[i] += " (" + strings.Join(a.Facts, "; ") + ")"
		}
		return nil
	})
	var ok []string
	for _, l := range links {
		if l != "" {
			ok = append(ok, l)
		}
	}
	return settle(Result{Detail: "details: " + strings.Join(ok, " ")}, "indicators", errs, 0)
}

func isAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}
