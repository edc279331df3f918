package analysis

import (
	"context"
	"fmt"
	"time"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/services"
)

// WebInspection fetches threat details (category, threat name, first seen)
// of each URL from the hub.
type WebInspection struct{ Cloud }

func (WebInspection) Name() string    { return "web-inspection" }
func (WebInspection) Service() string { return services.WebInspection }

func (s WebInspection) Run(ctx context.Context, m *Message) (Result, error) {
	cl, err := s.jointClient(ctx, m, services.WebInspection)
	if err != nil {
		return Result{}, err
	}
	urls, extra := messageURLs(m)
	if len(urls) == 0 {
		return Result{Detail: "no URLs"}, nil
	}
	found := func(a hubapi.InspectionAnswer) bool { return a.Found }
	ans, failed := jointAsk(ctx, m, cl, urlKeys(urls), found, func(keys []string) (map[string]hubapi.InspectionAnswer, map[string]error) {
		return askBatch(ctx, cl, s.Hub, hubapi.PathWebInspection, hubapi.FieldURLs, keys, found)
	})
	var res Result
	for _, u := range urls {
		a, ok := ans[u.URL]
		if !ok || !a.Found || len(a.Details) == 0 {
			continue
		}
		d := a.Details[0]
		f := Finding{Engine: "web-inspection", Location: u.Where, Object: u.URL, Name: d.Threat,
			Detail: fmt.Sprintf("%s (%s match)", d.Feed, d.Match)}
		if d.Tags != "" {
			f.Detail += ", tags " + d.Tags
		}
		if d.FirstSeen > 0 {
			f.Detail += ", first seen " + time.Unix(d.FirstSeen, 0).UTC().Format("2006-01-02")
		}
		switch {
		case d.Match != "url" && d.Match != "host":
			f.Threat, f.Risk = "suspicious URL", RiskMedium
		case d.Threat == "phishing":
			f.Threat, f.Risk = "phishing", RiskHigh
		default:
			f.Threat, f.Risk = "malicious URL", RiskHigh
		}
		res.Findings = append(res.Findings, f)
	}
	res.Detail = fmt.Sprintf("%d URLs inspected, %d with threat details", len(urls), len(res.Findings))
	return settle(res, "URLs", errsOf(urlKeys(urls), failed), extra)
}
