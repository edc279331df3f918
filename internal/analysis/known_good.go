package analysis

import (
	"context"
	"fmt"
	"strings"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/services"
)

// KnownGood asks which files are known good (Certified Safe Software): those
// skip file census and ML; the pattern engine still scans them.
type KnownGood struct{ Cloud }

func (KnownGood) Name() string    { return "known-good" }
func (KnownGood) Service() string { return services.CSSS }

func (s KnownGood) Run(ctx context.Context, m *Message) (Result, error) {
	cl, err := s.jointClient(ctx, m, services.CSSS)
	if err != nil {
		return Result{}, err
	}
	files, extra := messageFiles(m)
	if len(files) == 0 {
		return Result{Detail: "no files"}, nil
	}
	found := func(a hubapi.KnownGoodAnswer) bool { return a.KnownGood }
	ans, failed := jointAsk(ctx, m, cl, fileKeys(files), found, func(keys []string) (map[string]hubapi.KnownGoodAnswer, map[string]error) {
		return askBatch(ctx, cl, s.Hub, hubapi.PathKnownGood, hubapi.FieldHashes, keys, found)
	})
	var good []string
	for _, f := range files {
		if a, ok := ans[f.SHA256]; ok && a.KnownGood {
			if m.KnownGood == nil {
				m.KnownGood = map[string]string{}
			}
			n := orName(a.Name, f.Where)
			m.KnownGood[f.SHA256] = n
			good = append(good, n)
		}
	}
	res := Result{Detail: fmt.Sprintf("%d files asked, %d known good", len(files), len(good))}
	if len(good) > 0 {
		res.Detail += ": " + strings.Join(good, ", ") + " (file census and ML skip them)"
	}
	return settle(res, "files", errsOf(fileKeys(files), failed), extra)
}

// Prepare finds the known-good files again (from the cache, as a rule) for
// the stages after this one, when a held message resumes after it
// (Preparer): without it the sandbox would be sent files it skips.
func (s KnownGood) Prepare(ctx context.Context, m *Message) { s.Run(ctx, m) }
