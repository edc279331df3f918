package analysis

import (
	"context"
	"fmt"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/services"
)

// WebReputation rates each URL (exact URL, host, registered domain).
type WebReputation struct{ Cloud }

func (WebReputation) Name() string    { return "web-reputation" }
func (WebReputation) Service() string { return services.WebReputation }

func (s WebReputation) Run(ctx context.Context, m *Message) (Result, error) {
	cl, err := s.jointClient(ctx, m, services.WebReputation)
	if err != nil {
		return Result{}, err
	}
	urls, extra := messageURLs(m)
	if len(urls) == 0 {
		return Result{Detail: "no URLs"}, nil
	}
	found := func(a hubapi.ReputationAnswer) bool { return a.Rating != "unrated" }
	ans, failed := jointAsk(ctx, m, cl, urlKeys(urls), found, func(keys []string) (map[string]hubapi.ReputationAnswer, map[string]error) {
		return askBatch(ctx, cl, s.Hub, hubapi.PathWebReputation, hubapi.FieldURLs, keys, found)
	})
	var res Result
	unrated := 0
	for _, u := range urls {
		a, ok := ans[u.URL]
		if !ok {
			continue
		}
		f := Finding{Engine: "web-reputation", Location: u.Where, Object: u.URL, Detail: fmt.Sprintf("rated %s (score %d)", a.Rating, a.Score)}
		switch a.Rating {
		case "malicious":
			f.Threat, f.Risk, f.Name = "malicious URL", RiskHigh, "malicious-url"
		case "phishing":
			f.Threat, f.Risk, f.Name = "phishing", RiskHigh, "phishing-url"
		case "suspicious":
			f.Threat, f.Risk, f.Name = "suspicious URL", RiskMedium, "suspicious-url"
		default:
			unrated++
			continue
		}
		res.Findings = append(res.Findings, f)
	}
	res.Detail = fmt.Sprintf("%d URLs rated, %d unrated", len(urls), unrated)
	return settle(res, "URLs", errsOf(urlKeys(urls), failed), extra)
}
