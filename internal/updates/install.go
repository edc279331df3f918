package updates

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"mailinspector/internal/durable"
	"mailinspector/internal/store"
	"mailinspector/internal/updates/signed"
)

// Installer installs signed update bundles: download (Checks) → verify
// signature, hashes and sizes → unpack into a folder of its own version →
// validate → switch what is live → reload → health check → keep the last
// Keep versions. Any failure leaves the old version live and says why in
// the history (store.UpdateEvent).
type Installer struct {
	DB      *store.DB
	DataDir string
	Log     *slog.Logger
	// Version is the appliance's (a bundle's min_appliance is held
	// against it; "dev" builds take any).
	Version string
	// Keep is how many versions of a kind stay on disk, the live one
	// included (update rollback goes back to the next newest).
	Keep int
	// TrustedKeys are public key files trusted besides the keyring
	// (updates.trusted_keys); RootKeyring replaces the build's root
	// keyring (updates.root_keyring, a private hub's).
	TrustedKeys []string
	RootKeyring string
	// ClamAV installs the kinds clamd loads; nil: none is accepted.
	ClamAV *ClamAVKind
	// Lists installs the lists bundle; nil: refused.
	Lists *ListsKind
	// PolicyTemplates installs policy templates; nil: refused.
	PolicyTemplates *TemplatesKind
	// Now is the clock (tests move it).
	Now func() time.Time

	mu sync.Mutex // one install or rollback at a time
}

// KeyringFile is the last keyring document accepted, in the data
// directory's updates folder.
const KeyringFile = "keyring.json"

// maxFuture is how far in the future a bundle may be dated (clocks
// differ); past it the bundle is refused.
const maxFuture = 24 * time.Hour

// kindHandler puts one kind of bundle to work.
type kindHandler interface {
	// root is the folder that holds the kind's versions.
	root(kind string) string
	// validate checks an unpacked version before it goes live.
	validate(ctx context.Context, dir string, m *signed.Manifest) error
	// activate makes the version in dir live (and the one before it not).
	activate(ctx context.Context, kind, dir string, m *signed.Manifest) error
	// health checks the live version after activate.
	health(ctx context.Context, m *signed.Manifest, dir string) error
}

func (in *Installer) now() time.Time {
	if in.Now != nil {
		return in.Now()
	}
	return time.Now()
}

func (in *Installer) handler(kind string) (kindHandler, error) {
	if IsClamAVKind(kind) {
		if in.ClamAV == nil || in.ClamAV.Database == "" {
			return nil, fmt.Errorf("kind %s: engine.clamd_database is not set, so ClamAV databases have nowhere to go", kind)
		}
		return in.ClamAV, nil
	}
	if kind == "lists" && in.Lists != nil {
		return in.Lists, nil
	}
	if kind == "policy-templates" && in.PolicyTemplates != nil {
		return in.PolicyTemplates, nil
	}
	return nil, fmt.Errorf("kind %s is not one this appliance installs (clamav, clamav-NAME, yara, lists, policy-templates)", kind)
}

// Trust is the keys that may sign bundles now.
func (in *Installer) Trust() (*signed.Trust, error) {
	var admin []ed25519.PublicKey
	for _, f := range in.TrustedKeys {
		keys, err := signed.ReadPublic(f)
		if err != nil {
			return nil, fmt.Errorf("updates.trusted_keys: %w", err)
		}
		admin = append(admin, keys...)
	}
	k, err := in.keyring()
	if err != nil {
		return nil, err
	}
	return signed.NewTrust(k, admin), nil
}

func (in *Installer) roots() (signed.Roots, error) {
	if in.RootKeyring == "" {
		return signed.BuildRoots()
	}
	b, err := os.ReadFile(in.RootKeyring)
	if err != nil {
		return signed.Roots{}, fmt.Errorf("updates.root_keyring: %w", err)
	}
	return signed.ParseRoots(b)
}

// keyring is the stored keyring document, checked again (the roots may
// have changed since); nil when there is none. An expired one still
// retires its keys: it only stops adding them.
func (in *Installer) keyring() (*signed.Keyring, error) {
	b, err := os.ReadFile(filepath.Join(in.DataDir, "updates", KeyringFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	roots, err := in.roots()
	if err != nil {
		return nil, err
	}
	if len(roots.Keys) == 0 {
		return nil, nil
	}
	k, err := signed.VerifyKeyring(roots, b, in.now())
	if err != nil {
		var doc signed.SignedKeyring
		var old signed.Keyring
		if json.Unmarshal(b, &doc) == nil && json.Unmarshal(doc.Signed, &old) == nil {
			if _, err2 := signed.VerifyKeyring(roots, b, old.Created); err2 == nil {
				return &signed.Keyring{Version: old.Version, Retired: old.Retired}, nil
			}
		}
		return nil, fmt.Errorf("stored keyring: %w", err)
	}
	return k, nil
}

// AcceptKeyring stores a keyring document the roots signed when it is
// newer than the stored one; an older or equal one changes nothing.
func (in *Installer) AcceptKeyring(ctx context.Context, raw []byte, source string) (bool, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	roots, err := in.roots()
	if err != nil {
		return false, err
	}
	k, err := signed.VerifyKeyring(roots, raw, in.now())
	if err != nil {
		in.event(ctx, store.UpdateEvent{Kind: "keyring", Source: source, Outcome: "refused", Detail: err.Error()})
		return false, err
	}
	if old, err := in.keyring(); err == nil && old != nil && old.Version >= k.Version {
		return false, nil
	}
	dir := filepath.Join(in.DataDir, "updates")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	if err := durable.WriteFile(filepath.Join(dir, KeyringFile), raw, 0o600); err != nil {
		return false, err
	}
	in.event(ctx, store.UpdateEvent{Kind: "keyring", Version: k.Version, Source: source, Outcome: "installed",
		Detail: fmt.Sprintf("%d signing keys, %d retired", len(k.SigningKeys), len(k.Retired))})
	return true, nil
}

// Refused is a bundle the appliance will not install, and why.
type Refused struct{ Reason string }

func (e *Refused) Error() string { return e.Reason }

// Install verifies and installs the bundle r holds. source says where it
// came from (hub, import). It returns the manifest of what went live.
func (in *Installer) Install(ctx context.Context, r io.Reader, source string) (*signed.Manifest, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	m, err := in.install(ctx, r, source)
	ev := store.UpdateEvent{Source: source, Outcome: "installed"}
	if m != nil {
		ev.Kind, ev.Version = m.Kind, m.Version
	}
	var refused *Refused
	switch {
	case errors.As(err, &refused):
		ev.Outcome, ev.Detail = "refused", err.Error()
	case err != nil:
		ev.Outcome, ev.Detail = "failed", err.Error()
	default:
		ev.Detail = fmt.Sprintf("%d files", len(m.Payload()))
	}
	in.event(ctx, ev)
	if err != nil {
		in.Log.Warn("update not installed; the live version stays", "kind", ev.Kind, "version", ev.Version, "source", source, "err", err)
		return m, err
	}
	in.Log.Info("update installed", "kind", m.Kind, "version", m.Version, "source", source)
	return m, nil
}

func (in *Installer) install(ctx context.Context, r io.Reader, source string) (*signed.Manifest, error) {
	trust, err := in.Trust()
	if err != nil {
		return nil, err
	}
	br, err := signed.Open(r, trust)
	if err != nil {
		return nil, &Refused{err.Error()}
	}
	m := br.Manifest
	now := in.now()
	switch {
	case now.After(m.Expires):
		return m, &Refused{fmt.Sprintf("expired on %s", m.Expires.Format(time.RFC3339))}
	case m.Created.After(now.Add(maxFuture)):
		return m, &Refused{fmt.Sprintf("dated %s, in the future", m.Created.Format(time.RFC3339))}
	case m.MinAppliance != "" && olderVersion(in.Version, m.MinAppliance):
		return m, &Refused{fmt.Sprintf("needs appliance version %s or later (this is %s)", m.MinAppliance, in.Version)}
	}
	st, known, err := in.DB.UpdateKindOf(ctx, m.Kind)
	if err != nil {
		return m, err
	}
	if known && m.Version <= st.HighWater {
		return m, &Refused{fmt.Sprintf("version %d is not newer than %d, the highest verified (no rollback through the feed: update rollback goes back)", m.Version, st.HighWater)}
	}
	h, err := in.handler(m.Kind)
	if err != nil {
		return m, &Refused{err.Error()}
	}
	root := h.root(m.Kind)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return m, err
	}
	tmp, err := os.MkdirTemp(root, ".unpack-")
	if err != nil {
		return m, err
	}
	defer os.RemoveAll(tmp)
	if err := br.Extract(tmp); err != nil {
		return m, &Refused{err.Error()}
	}
	if err := writeManifest(tmp, m, br.KeyID); err != nil {
		return m, err
	}
	// Signature, hashes and sizes hold: this version is verified, and
	// nothing lower or equal is ever taken again.
	if err := in.DB.Write(ctx, func(tx *store.Tx) error { return store.RaiseHighWater(tx, m.Kind, m.Channel, m.Version) }); err != nil {
		return m, err
	}
	dir := filepath.Join(root, strconv.FormatUint(m.Version, 10))
	os.RemoveAll(dir) // a version that failed before
	if err := os.Rename(tmp, dir); err != nil {
		return m, err
	}
	if err := h.validate(ctx, dir, m); err != nil {
		os.RemoveAll(dir)
		return m, fmt.Errorf("validation: %w", err)
	}
	if err := in.goLive(ctx, h, m, dir, st.Live, br.KeyID); err != nil {
		return m, err
	}
	in.prune(root, m.Version)
	return m, nil
}

// goLive activates dir and checks its health; when either fails, the
// version that was live before (prev, 0: none) is activated again.
func (in *Installer) goLive(ctx context.Context, h kindHandler, m *signed.Manifest, dir string, prev uint64, keyID string) error {
	err := h.activate(ctx, m.Kind, dir, m)
	if err == nil {
		err = h.health(ctx, m, dir)
	}
	if err != nil {
		if prev != 0 {
			pdir := filepath.Join(h.root(m.Kind), strconv.FormatUint(prev, 10))
			if pm, _, perr := readManifest(pdir); perr == nil {
				if aerr := h.activate(ctx, m.Kind, pdir, pm); aerr != nil {
					err = errors.Join(err, fmt.Errorf("putting version %d back: %w", prev, aerr))
				}
			}
		} else {
			h.activate(ctx, m.Kind, "", nil) // nothing was live: nothing is
		}
		return fmt.Errorf("going live: %w", err)
	}
	link := filepath.Join(h.root(m.Kind), "current")
	os.Remove(link + ".new")
	if err := os.Symlink(filepath.Base(dir), link+".new"); err == nil {
		os.Rename(link+".new", link)
	}
	return in.DB.Write(ctx, func(tx *store.Tx) error { return store.SetLive(tx, m.Kind, m.Version, keyID, in.now()) })
}

// Rollback makes the newest kept version older than the live one live
// again; the high-water mark stays (the feed still cannot go back).
func (in *Installer) Rollback(ctx context.Context, kind string) (uint64, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	st, known, err := in.DB.UpdateKindOf(ctx, kind)
	if err != nil {
		return 0, err
	}
	if !known || st.Live == 0 {
		return 0, fmt.Errorf("kind %s: nothing installed", kind)
	}
	h, err := in.handler(kind)
	if err != nil {
		return 0, err
	}
	var prev uint64
	for _, v := range in.versions(h.root(kind)) {
		if v < st.Live && v > prev {
			prev = v
		}
	}
	if prev == 0 {
		err := fmt.Errorf("kind %s: no version older than %d is kept", kind, st.Live)
		in.event(ctx, store.UpdateEvent{Kind: kind, Version: st.Live, Source: "rollback", Outcome: "failed", Detail: err.Error()})
		return 0, err
	}
	dir := filepath.Join(h.root(kind), strconv.FormatUint(prev, 10))
	m, keyID, err := readManifest(dir)
	if err == nil {
		err = in.goLive(ctx, h, m, dir, st.Live, keyID)
	}
	ev := store.UpdateEvent{Kind: kind, Version: prev, Source: "rollback", Outcome: "rolled-back", Detail: fmt.Sprintf("from %d", st.Live)}
	if err != nil {
		ev.Outcome, ev.Detail = "failed", err.Error()
	}
	in.event(ctx, ev)
	return prev, err
}

// versions are the versions kept in root.
func (in *Installer) versions(root string) []uint64 {
	ents, _ := os.ReadDir(root)
	var out []uint64
	for _, e := range ents {
		if v, err := strconv.ParseUint(e.Name(), 10, 64); err == nil && e.IsDir() {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// prune keeps the newest Keep versions, live always among them.
func (in *Installer) prune(root string, live uint64) {
	keep := max(in.Keep, 1)
	vs := in.versions(root)
	for i, v := range vs {
		if len(vs)-i > keep && v != live {
			os.RemoveAll(filepath.Join(root, strconv.FormatUint(v, 10)))
		}
	}
}

func (in *Installer) event(ctx context.Context, e store.UpdateEvent) {
	e.At = in.now()
	if err := in.DB.Write(ctx, func(tx *store.Tx) error {
		if err := store.AddUpdateEvent(tx, e); err != nil {
			return err
		}
		return store.TrimUpdateHistory(tx, 1000)
	}); err != nil {
		in.Log.Error("update history", "err", err)
	}
}

// stored is a version's manifest as kept beside its files.
type stored struct {
	Manifest *signed.Manifest `json:"manifest"`
	KeyID    string           `json:"key_id"`
}

const manifestCopy = ".manifest.json"

func writeManifest(dir string, m *signed.Manifest, keyID string) error {
	b, _ := json.Marshal(stored{m, keyID})
	return durable.WriteFile(filepath.Join(dir, manifestCopy), b, 0o644)
}

func readManifest(dir string) (*signed.Manifest, string, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestCopy))
	if err != nil {
		return nil, "", err
	}
	var s stored
	if err := json.Unmarshal(b, &s); err != nil || s.Manifest == nil {
		return nil, "", fmt.Errorf("%s: unreadable manifest", dir)
	}
	return s.Manifest, s.KeyID, nil
}

// olderVersion says whether version a (x.y.z) is older than b; a build
// that is not x.y.z (dev) is never older.
func olderVersion(a, b string) bool {
	pa, oka := parseVersion(a)
	pb, okb := parseVersion(b)
	if !oka || !okb {
		return false
	}
	return slices.Compare(pa, pb) < 0
}

func parseVersion(s string) ([]int, bool) {
	s = strings.TrimPrefix(s, "v")
	s, _, _ = strings.Cut(s, "-")
	var out []int
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, false
		}
		out = append(out, n)
	}
	return out, len(out) > 0
}

// Kept are the versions of kind on disk.
func (in *Installer) Kept(kind string) []uint64 {
	h, err := in.handler(kind)
	if err != nil {
		return []uint64{}
	}
	vs := in.versions(h.root(kind))
	if vs == nil {
		vs = []uint64{}
	}
	return vs
}

// KeyringVersion is the version of the keyring document in use, 0: none.
func (in *Installer) KeyringVersion() uint64 {
	k, err := in.keyring()
	if err != nil || k == nil {
		return 0
	}
	return k.Version
}

// Seed installs, at start, each bundle of dir whose kind has nothing
// installed yet: the image ships the project's signature bundle so that a
// freshly imported appliance scans from its first message. The bundles
// pass every check a bundle from the hub passes.
func (in *Installer) Seed(ctx context.Context, dir string) {
	if dir == "" {
		return
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.bundle"))
	if err != nil {
		in.Log.Error("updates.seed_dir", "err", err)
		return
	}
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			in.Log.Error("updates.seed_dir", "err", err)
			continue
		}
		m, err := signed.ReadManifest(f)
		if err == nil {
			var st store.UpdateKind
			if st, _, err = in.DB.UpdateKindOf(ctx, m.Kind); err == nil && st.HighWater == 0 {
				if _, err = f.Seek(0, io.SeekStart); err == nil {
					_, err = in.Install(ctx, f, "seed")
				}
			}
		}
		f.Close()
		if err != nil {
			in.Log.Warn("seed bundle not installed", "file", name, "err", err)
		}
	}
}
