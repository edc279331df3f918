package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"mailinspector/internal/hubapi"
)

// lookupEndpoint is one per-object service: its path, its GET parameter,
// its batch field and how it answers one item.
type lookupEndpoint struct {
	name, path, param, batch string
	f                        answerFunc
}

func (s *Server) lookups() []lookupEndpoint {
	return []lookupEndpoint{
		{"web-reputation", hubapi.PathWebReputation, "url", hubapi.FieldURLs, s.reputationOf},
		{"web-inspection", hubapi.PathWebInspection, "url", hubapi.FieldURLs, s.inspectionOf},
		{"domain-census", hubapi.PathDomainCensus, "name", hubapi.FieldNames, s.domainCensusOf},
		{"file-census", hubapi.PathFileCensus, "sha256", hubapi.FieldHashes, s.fileCensusOf},
		{"csss", hubapi.PathKnownGood, "sha256", hubapi.FieldHashes, s.csssOf},
	}
}

// lookup serves POST /v1/lookup: the batch requests of several services in
// one round trip, {SERVICE: BATCH-REQUEST, …}, answered {SERVICE:
// BATCH-ANSWER, …} where each part is what the service's own batch endpoint
// would answer — {"results": […]} or {"error": {…}} — so that one service's
// bad part does not fail the others (docs/hub-api.md). An appliance asks
// once per message for everything it needs to know of it, instead of once
// per service.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) {
	var req map[string]json.RawMessage
	if err := decodeBody(w, r, 4<<20, &req); err != nil || len(req) == 0 {
		badBody(w, err, `want {"service": {batch request}, …}`)
		return
	}
	eps := s.lookups()
	ctx := context.WithValue(r.Context(), memoKey{}, urlMemo{})
	out := make(map[string]any, len(req))
	for name, raw := range req {
		var results []any
		var e *apiErr
		i := slices.IndexFunc(eps, func(ep lookupEndpoint) bool { return ep.name == name })
		switch {
		case name == "ml":
			var part hubapi.MLRequest
			if json.Unmarshal(raw, &part) != nil || part.Items == nil {
				e = &apiErr{http.StatusBadRequest, "bad_request", `want {"items": [{"features": …}, …]}`}
				break
			}
			results, e = s.scoreItems(part.Items)
		case i >= 0:
			var part map[string][]string
			if json.Unmarshal(raw, &part) != nil {
				e = &apiErr{http.StatusBadRequest, "bad_request", fmt.Sprintf("want {%q: [item, …]}", eps[i].batch)}
				break
			}
			results, e = s.answerBatch(ctx, eps[i].batch, part, eps[i].f)
		default:
			e = &apiErr{http.StatusNotFound, "unknown_service", fmt.Sprintf("no per-object service %q", name)}
		}
		if e != nil {
			out[name] = hubapi.Error{Error: hubapi.ErrorDetail{Code: e.code, Message: e.message}}
			continue
		}
		out[name] = hubapi.Part[any]{Results: results}
	}
	reply(w, out)
}
