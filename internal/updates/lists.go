package updates

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"mailinspector/internal/analysis"
	"mailinspector/internal/updates/signed"
)

// ListsKind installs the lists bundle (kind lists): blocked hashes, URLs
// and domains beside the administrator's own lists, each a text file of
// one entry a line (analysis.ListFeedFiles). Going live swaps the feed the
// local-lists stage reads; no restart, no reload.
type ListsKind struct {
	Dir  string             // the data directory's updates folder
	Feed *analysis.ListFeed // the running feed
}

func (l *ListsKind) root(kind string) string { return filepath.Join(l.Dir, kind) }

func (l *ListsKind) validate(ctx context.Context, dir string, m *signed.Manifest) error {
	for _, f := range m.Payload() {
		if !slices.Contains(analysis.ListFeedFiles, f.Name) {
			return fmt.Errorf("%s is not a lists file (%v)", f.Name, analysis.ListFeedFiles)
		}
	}
	_, err := analysis.ParseListFeed(dir, m.Version)
	return err
}

func (l *ListsKind) activate(ctx context.Context, kind, dir string, m *signed.Manifest) error {
	if dir == "" {
		l.Feed.Use(nil)
		return nil
	}
	p, err := analysis.ParseListFeed(dir, m.Version)
	if err != nil {
		return err
	}
	l.Feed.Use(p)
	return nil
}

func (l *ListsKind) health(ctx context.Context, m *signed.Manifest, dir string) error {
	if v := l.Feed.Version(); v != m.Version {
		return fmt.Errorf("the lists in use are version %d, not %d", v, m.Version)
	}
	return nil
}

// LoadLists puts the live lists version to work at start (the current
// link the installer keeps); none installed: none.
func LoadLists(dataDir string, feed *analysis.ListFeed) error {
	root := filepath.Join(dataDir, "updates", "lists")
	target, err := os.Readlink(filepath.Join(root, "current"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	dir := filepath.Join(root, target)
	m, _, err := readManifest(dir)
	if err != nil {
		return err
	}
	p, err := analysis.ParseListFeed(dir, m.Version)
	if err != nil {
		return err
	}
	feed.Use(p)
	return nil
}
