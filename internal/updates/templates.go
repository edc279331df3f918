package updates

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"mailinspector/internal/policy"
	"mailinspector/internal/updates/signed"
)

// TemplatesKind installs policy templates (kind policy-templates): each
// file NAME.conf is one policy named NAME, in the policies file's syntax,
// that an administrator applies by name (policy template apply NAME). A
// template changes nothing by going live: applying it is a policies
// commit like any other.
type TemplatesKind struct {
	Dir string // the data directory's updates folder
}

func (k *TemplatesKind) root(kind string) string { return filepath.Join(k.Dir, kind) }

func (k *TemplatesKind) validate(ctx context.Context, dir string, m *signed.Manifest) error {
	for _, f := range m.Payload() {
		if _, err := readTemplate(dir, f.Name); err != nil {
			return err
		}
	}
	return nil
}

// readTemplate reads and checks one template file.
func readTemplate(dir, file string) (string, error) {
	name, ok := strings.CutSuffix(file, ".conf")
	if !ok {
		return "", fmt.Errorf("%s is not a policy template (NAME.conf)", file)
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return "", err
	}
	ps, err := policy.Parse(file, b)
	if err != nil {
		return "", err
	}
	if len(ps) != 1 || ps[0].Name != name {
		return "", fmt.Errorf("%s must hold one policy, named %q", file, name)
	}
	return string(b), nil
}

func (k *TemplatesKind) activate(ctx context.Context, kind, dir string, m *signed.Manifest) error {
	return nil // read from the live version when asked
}

func (k *TemplatesKind) health(ctx context.Context, m *signed.Manifest, dir string) error { return nil }

// Template is a policy template of the live version.
type Template struct {
	Name    string
	Version uint64
	Text    string
}

// Templates are the policy templates of the live version, by name.
func (in *Installer) Templates(ctx context.Context) ([]Template, error) {
	st, known, err := in.DB.UpdateKindOf(ctx, "policy-templates")
	if err != nil || !known || st.Live == 0 || in.PolicyTemplates == nil {
		return nil, err
	}
	dir := filepath.Join(in.PolicyTemplates.root("policy-templates"), fmt.Sprint(st.Live))
	m, _, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	var out []Template
	for _, f := range m.Payload() {
		text, err := readTemplate(dir, f.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, Template{Name: strings.TrimSuffix(f.Name, ".conf"), Version: st.Live, Text: text})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
