package analysis

import (
	"context"
	"fmt"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/services"
)

// DomainCensus asks how common and how old the domains and IPs of the
// message are: link hosts, the sender's domain, the relays in Received.
type DomainCensus struct{ Cloud }

func (DomainCensus) Name() string    { return "domain-census" }
func (DomainCensus) Service() string { return services.DomainCensus }

// newDomainDays is the age under which a domain the community has seen is
// "newly seen".
const newDomainDays = 2

func (s DomainCensus) Run(ctx context.Context, m *Message) (Result, error) {
	cl, err := s.jointClient(ctx, m, services.DomainCensus)
	if err != nil {
		return Result{}, err
	}
	names, extra := messageNames(m)
	if len(names) == 0 {
		return Result{Detail: "no domains or IPs"}, nil
	}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = n.name
	}
	found := func(a hubapi.CensusAnswer) bool { return a.Sightings > 0 }
	ans, failed := jointAsk(ctx, m, cl, keys, found, func(keys []string) (map[string]hubapi.CensusAnswer, map[string]error) {
		return askBatch(ctx, cl, s.Hub, hubapi.PathDomainCensus, hubapi.FieldNames, keys, found)
	})
	var res Result
	unseen := 0
	for _, n := range names {
		a, ok := ans[n.name]
		switch {
		case !ok:
		case a.Sightings == 0:
			unseen++
		case a.Age() < newDomainDays:
			res.Findings = append(res.Findings, Finding{Engine: "domain-census", Threat: "suspicious URL", Risk: RiskLow, Name: "newly-seen",
				Location: n.where, Object: n.name,
				Detail: fmt.Sprintf("first seen by the community %d days ago (%d appliances)", a.Age(), a.Appliances)})
		}
	}
	res.Detail = fmt.Sprintf("%d domains and IPs asked, %d never seen by the community", len(names), unseen)
	return settle(res, "names", errsOf(keys, failed), extra)
}
