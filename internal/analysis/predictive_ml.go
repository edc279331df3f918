package analysis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/message"
	"mailinspector/internal/mlfeatures"
	"mailinspector/internal/services"
)

// PredictiveML extracts static features of each attachment here and has the hub's
// model score them; only the features leave the appliance.
type PredictiveML struct{ Cloud }

func (PredictiveML) Name() string    { return "predictive-ml" }
func (PredictiveML) Service() string { return services.ML }

// mlPrefix is how much of a file the features look at.
const mlPrefix = 4 << 20

func (s PredictiveML) Run(ctx context.Context, m *Message) (Result, error) {
	cl, err := s.jointClient(ctx, m, services.ML)
	if err != nil {
		return Result{}, err
	}
	files, extra := messageFiles(m)
	var scored []fileObject
	for _, f := range files {
		if f.Part >= 0 {
			scored = append(scored, f)
		}
	}
	if len(scored) == 0 {
		return Result{Detail: "no attachments to score"}, nil
	}
	keys := fileKeys(scored)
	var readErr error
	ans, failed := jointAsk(ctx, m, cl, keys, func(hubapi.ScoreAnswer) bool { return true }, func(keys []string) (map[string]hubapi.ScoreAnswer, map[string]error) {
		a, f, err := s.score(ctx, m, cl, scored, keys)
		readErr = err
		return a, f
	})
	if readErr != nil {
		return Result{}, fmt.Errorf("reading attachments: %w", readErr)
	}
	var res Result
	for _, f := range scored {
		if a, ok := ans[f.SHA256]; ok && a.Malicious {
			res.Findings = append(res.Findings, Finding{Engine: "ml", Threat: "suspicious file", Risk: RiskMedium, Name: "ml-malicious",
				Location: f.Where, Object: f.SHA256, Detail: fmt.Sprintf("model %s scored %.2f (threshold %.2f)", a.Model, a.Score, a.Threshold)})
		}
	}
	res.Detail = fmt.Sprintf("%d attachments scored", len(scored))
	return settle(res, "attachments", errsOf(keys, failed), extra)
}

// score has the hub score the files of keys in requests of ML's own
// (cache first): the features of those the cache does not answer are read
// here, as the joint request reads them (mlRequest).
func (s PredictiveML) score(ctx context.Context, m *Message, cl *services.Client, files []fileObject, keys []string) (map[string]hubapi.ScoreAnswer, map[string]error, error) {
	asked := slices.DeleteFunc(slices.Clone(files), func(f fileObject) bool { return !slices.Contains(keys, f.SHA256) })
	read, items, err := s.mlRequest(m, asked, cl)
	if err != nil {
		return nil, nil, err
	}
	itemOf := make(map[string]any, len(read))
	for i, k := range read {
		itemOf[k] = items[i]
	}
	ans, failed := services.CallBatch(ctx, cl, keys, hubBatch, func(ctx context.Context, ks []string) (map[string]hubapi.ScoreAnswer, error) {
		items := make([]any, len(ks))
		for i, k := range ks {
			it, ok := itemOf[k]
			if !ok {
				// Its cached score expired between the look and the
				// call (microseconds): the file was not read.
				return nil, errors.New("cached score expired before use; attachments not scored")
			}
			items[i] = it
		}
		var a hubapi.Results[hubapi.ScoreAnswer]
		if err := s.Hub.Post(ctx, hubapi.PathMLScore, map[string]any{"items": items}, &a); err != nil {
			return nil, err
		}
		if len(a.Results) != len(ks) {
			return nil, fmt.Errorf("hub answered %d scores for %d files", len(a.Results), len(ks))
		}
		out := make(map[string]hubapi.ScoreAnswer, len(ks))
		for i, k := range ks {
			out[k] = a.Results[i]
		}
		return out, nil
	}, func(hubapi.ScoreAnswer) bool { return true })
	return ans, failed, nil
}

// mlVectors extracts the features of the parts in want (by index) into
// vecs.
func mlVectors(m *Message, lim message.Limits, want map[int]bool, vecs map[int]mlfeatures.Vector) error {
	i := -1
	return eachPart(m, lim, func(p *message.Part, content io.Reader) error {
		i++
		if !want[i] {
			return nil
		}
		b, err := mlContent(content)
		if err != nil {
			return err
		}
		vecs[i] = mlfeatures.Extract(b, p.Size, p.TrueType, p.DeclaredType)
		return nil
	})
}

// mlContent is the first mlPrefix bytes of a part for the feature scan. A
// part kept in memory is scanned where it lies: copying every attachment
// (and growing the copy by doubling) cost about a third of what the ML
// step added per message under the harness, counting the garbage
// collector's share. Extract only reads it.
func mlContent(content io.Reader) ([]byte, error) {
	if m, ok := content.(interface{ Bytes() []byte }); ok {
		b := m.Bytes()
		return b[:min(len(b), mlPrefix):min(len(b), mlPrefix)], nil
	}
	return io.ReadAll(io.LimitReader(content, mlPrefix))
}
