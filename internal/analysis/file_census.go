package analysis

import (
	"context"
	"fmt"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/services"
)

// FileCensus asks how common each file is across the community, and
// whether a feed knows it as malware.
type FileCensus struct{ Cloud }

func (FileCensus) Name() string    { return "file-census" }
func (FileCensus) Service() string { return services.FileCensus }

func (s FileCensus) Run(ctx context.Context, m *Message) (Result, error) {
	cl, err := s.jointClient(ctx, m, services.FileCensus)
	if err != nil {
		return Result{}, err
	}
	files, extra := messageFiles(m)
	if len(files) == 0 {
		return Result{Detail: "no files to ask about"}, nil
	}
	found := func(a hubapi.CensusAnswer) bool { return a.Sightings > 0 || a.Malware != nil }
	ans, failed := jointAsk(ctx, m, cl, fileKeys(files), found, func(keys []string) (map[string]hubapi.CensusAnswer, map[string]error) {
		return askBatch(ctx, cl, s.Hub, hubapi.PathFileCensus, hubapi.FieldHashes, keys, found)
	})
	var res Result
	nrare := 0
	for _, f := range files {
		a, ok := ans[f.SHA256]
		if !ok {
			continue
		}
		if a.Malware != nil {
			res.Findings = append(res.Findings, Finding{Engine: "file-census", Threat: "malware", Risk: RiskHigh,
				Name: orName(a.Malware["signature"], "known malware"), Location: f.Where, Object: f.SHA256,
				Detail: "known to the hub's " + a.Malware["feed"] + " feed"})
		}
		if a.Sightings == 0 {
			nrare++
			if executables[f.TrueType] {
				res.Findings = append(res.Findings, Finding{Engine: "file-census", Threat: "suspicious file", Risk: RiskLow, Name: "rare-executable",
					Location: f.Where, Object: f.SHA256, Detail: "an executable no appliance of the community has seen before"})
			}
		}
	}
	res.Detail = fmt.Sprintf("%d files asked, %d never seen by the community", len(files), nrare)
	return settle(res, "files", errsOf(fileKeys(files), failed), extra)
}
