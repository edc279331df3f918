package hub

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"mailinspector/internal/durable"
	"mailinspector/internal/hubapi"
	"mailinspector/internal/updates/signed"
)

// Update bundles: the hub serves what its operator published into the
// bundles folder of its data directory (hub bundle publish): the newest
// bundle of each kind and channel, and keyring.json, the roots' keyring
// document. The hub never signs: bundles are signed where the keys are
// (mailinspector bundle sign), and appliances check every signature.

// BundleDir is the folder of published bundles in a hub's data directory.
const BundleDir = "bundles"

// KeyringFile is the keyring document in BundleDir.
const KeyringFile = "keyring.json"

// Publish copies a bundle into the hub's bundles folder after reading its
// manifest (a file that is not a bundle is refused here rather than
// offered to every appliance). It returns the manifest.
func Publish(dataDir, file string) (*signed.Manifest, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := signed.ReadManifest(f)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(dataDir, BundleDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	// Copied, not read whole: a bundle of the official databases is
	// hundreds of megabytes.
	tmp, err := os.CreateTemp(dir, ".publish-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, f); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s-%s-%d.bundle", m.Kind, m.Channel, m.Version)
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return nil, err
	}
	return m, durable.SyncDir(dir)
}

// PublishKeyring puts a keyring document where the update index offers
// it (appliances check the roots' signatures; the hub only checks it is
// one).
func PublishKeyring(dataDir, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var doc signed.SignedKeyring
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.Signed) == 0 || len(doc.Signatures) == 0 {
		return fmt.Errorf("%s is not a signed keyring document", file)
	}
	dir := filepath.Join(dataDir, BundleDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return durable.WriteFile(filepath.Join(dir, KeyringFile), b, 0o644)
}

// offered lists the newest bundle of each kind and channel.
func (s *Server) offered() ([]hubapi.BundleRef, error) {
	ents, err := os.ReadDir(filepath.Join(s.dataDir, BundleDir))
	if os.IsNotExist(err) {
		return []hubapi.BundleRef{}, nil
	}
	if err != nil {
		return nil, err
	}
	best := map[string]hubapi.BundleRef{}
	var order []string
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".bundle") || !signed.ValidName(e.Name()) {
			continue
		}
		ref, err := s.describe(e.Name())
		if err != nil {
			s.Log.Warn("hub: a published bundle is unreadable; not offered", "file", e.Name(), "err", err)
			continue
		}
		k := ref.Kind + "/" + ref.Channel
		if old, ok := best[k]; !ok || ref.Version > old.Version {
			if !ok {
				order = append(order, k)
			}
			best[k] = ref
		}
	}
	out := []hubapi.BundleRef{}
	for _, k := range order {
		out = append(out, best[k])
	}
	return out, nil
}

// describe reads a published bundle's manifest and hashes it, once per
// file version (its size and time): every appliance asks every hour, and
// a bundle can be hundreds of megabytes.
func (s *Server) describe(name string) (hubapi.BundleRef, error) {
	f, err := os.Open(filepath.Join(s.dataDir, BundleDir, name))
	if err != nil {
		return hubapi.BundleRef{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return hubapi.BundleRef{}, err
	}
	key := fmt.Sprintf("%s %d %d", name, st.Size(), st.ModTime().UnixNano())
	if ref, ok := s.described.Load(key); ok {
		return ref.(hubapi.BundleRef), nil
	}
	m, err := signed.ReadManifest(f)
	if err != nil {
		return hubapi.BundleRef{}, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return hubapi.BundleRef{}, err
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return hubapi.BundleRef{}, err
	}
	ref := hubapi.BundleRef{Kind: m.Kind, Channel: m.Channel, Version: m.Version, Name: name, Size: n,
		SHA256: hex.EncodeToString(h.Sum(nil))}
	s.described.Store(key, ref)
	return ref, nil
}

func (s *Server) updates(w http.ResponseWriter, r *http.Request) {
	feeds, err := s.Store.Feeds(r.Context())
	if err != nil {
		s.internal(w, err)
		return
	}
	refs, err := s.offered()
	if err != nil {
		s.internal(w, err)
		return
	}
	ans := hubapi.UpdatesAnswer{Current: r.URL.Query().Get("current"), Components: feeds, Bundles: refs}
	if b, err := os.ReadFile(filepath.Join(s.dataDir, BundleDir, KeyringFile)); err == nil && json.Valid(b) {
		ans.Keyring = b
	}
	reply(w, ans)
}

func (s *Server) bundle(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !strings.HasSuffix(name, ".bundle") || !signed.ValidName(name) {
		apiError(w, http.StatusNotFound, "not_found", "no such bundle")
		return
	}
	f, err := os.Open(filepath.Join(s.dataDir, BundleDir, name))
	if err != nil {
		apiError(w, http.StatusNotFound, "not_found", "no such bundle")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.internal(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	http.ServeContent(w, r, name, st.ModTime(), f)
}
