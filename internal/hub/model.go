package hub

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"mailinspector/internal/durable"
	"mailinspector/internal/mlfeatures"
	"mailinspector/internal/updates/signed"
)

// ModelKind is the kind of the bundles that bring the hub its ML model.
const ModelKind = "ml-model"

// modelVersionFile keeps the highest ml-model bundle version installed:
// a lower or equal one is refused.
const modelVersionFile = "model.version"

// InstallModel installs the hub's ML model from a signed bundle (kind
// ml-model, one file model.json) that one of pubs signed: the same checks
// an appliance makes of its bundles (signature, files, expiry, a version
// above the last), then a model that scores. The hub scores with it from
// its next start.
func InstallModel(dataDir string, pubs []ed25519.PublicKey, r io.Reader, now time.Time) (*mlfeatures.Model, uint64, error) {
	br, err := signed.Open(r, signed.NewTrust(nil, pubs))
	if err != nil {
		return nil, 0, err
	}
	m := br.Manifest
	switch {
	case m.Kind != ModelKind:
		return nil, 0, fmt.Errorf("a %s bundle, not %s", m.Kind, ModelKind)
	case now.After(m.Expires):
		return nil, 0, fmt.Errorf("expired on %s", m.Expires.Format(time.RFC3339))
	case len(m.Files) != 1 || m.Files[0].Name != "model.json":
		return nil, 0, errors.New("an ml-model bundle holds model.json and nothing else")
	}
	if b, err := os.ReadFile(filepath.Join(dataDir, modelVersionFile)); err == nil {
		if last, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && m.Version <= last {
			return nil, 0, fmt.Errorf("version %d is not newer than %d, the model installed", m.Version, last)
		}
	}
	tmp, err := os.MkdirTemp(dataDir, ".model-")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(tmp)
	if err := br.Extract(tmp); err != nil {
		return nil, 0, err
	}
	raw, err := os.ReadFile(filepath.Join(tmp, "model.json"))
	if err != nil {
		return nil, 0, err
	}
	var model mlfeatures.Model
	if err := json.Unmarshal(raw, &model); err != nil {
		return nil, 0, fmt.Errorf("model.json: %w", err)
	}
	if len(model.Weights) == 0 || model.Threshold <= 0 || model.Threshold >= 1 || model.Version == "" {
		return nil, 0, errors.New("model.json: no weights, no version, or a threshold outside (0, 1)")
	}
	if s := model.Score(mlfeatures.Vector{}); s != s { // NaN: the model does not score
		return nil, 0, errors.New("model.json: the model does not score")
	}
	if err := durable.WriteFile(filepath.Join(dataDir, "model.json"), raw, 0o644); err != nil {
		return nil, 0, err
	}
	if err := durable.WriteFile(filepath.Join(dataDir, modelVersionFile), []byte(strconv.FormatUint(m.Version, 10)+"\n"), 0o644); err != nil {
		return nil, 0, err
	}
	return &model, m.Version, nil
}
