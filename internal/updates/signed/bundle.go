package signed

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"time"
)

// Product is the product a bundle is for; any other is refused.
const Product = "mailinspector"

// Names inside the tar: the manifest and its signature come first.
const (
	ManifestName  = "manifest.json"
	SignatureName = "manifest.sig"
)

// Limits of what a bundle may hold: a manifest larger than maxManifest or a
// file larger than MaxFile is refused before it is read.
const (
	maxManifest = 1 << 20
	MaxFile     = 2 << 30
	maxFiles    = 1000
)

// Manifest says what a bundle is. Its exact bytes are what is signed.
type Manifest struct {
	Product string `json:"product"`
	Channel string `json:"channel"`
	Kind    string `json:"kind"`
	// Version only grows: the appliance refuses a version lower than or
	// equal to the highest it has verified for the kind.
	Version uint64    `json:"version"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	// MinAppliance is the oldest appliance version that can use it.
	MinAppliance string `json:"min_appliance,omitempty"`
	Files        []File `json:"files"`
	// Canaries are files of the bundle (not installed) a validator scans
	// before the bundle goes live: each must be found as Expect ("" means
	// it must come back clean).
	Canaries []Canary `json:"canaries,omitempty"`
}

// File is one file of a bundle.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Canary is a sample and what the bundle's patterns must say of it.
type Canary struct {
	File   string `json:"file"`
	Expect string `json:"expect"`
}

// Signature is manifest.sig.
type Signature struct {
	KeyID     string `json:"key_id"`
	Signature string `json:"signature"` // base64 of the ed25519 signature of manifest.json
}

var (
	kindRe = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	nameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
)

// ValidKind says whether s can name a kind: lower-case words joined by
// single hyphens (it names folders and files).
func ValidKind(s string) bool { return len(s) <= 40 && kindRe.MatchString(s) }

// check says what is wrong with a manifest's form (not its trust).
func (m *Manifest) check() error {
	if m.Product != Product {
		return fmt.Errorf("product %q is not %s", m.Product, Product)
	}
	if !ValidKind(m.Kind) {
		return fmt.Errorf("kind %q: want lower-case words joined by hyphens", m.Kind)
	}
	if m.Channel == "" || !ValidKind(m.Channel) {
		return fmt.Errorf("channel %q: want lower-case words joined by hyphens", m.Channel)
	}
	if m.Version == 0 {
		return errors.New("version must be at least 1")
	}
	if m.Created.IsZero() || m.Expires.IsZero() || !m.Expires.After(m.Created) {
		return errors.New("created and expires must be set, expires after created")
	}
	if len(m.Files) == 0 || len(m.Files) > maxFiles {
		return fmt.Errorf("a bundle holds 1 to %d files", maxFiles)
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		if !nameRe.MatchString(f.Name) || f.Name == ManifestName || f.Name == SignatureName {
			return fmt.Errorf("file name %q: want letters, digits, '.', '_', '-', no folders", f.Name)
		}
		if seen[f.Name] {
			return fmt.Errorf("file %q listed twice", f.Name)
		}
		seen[f.Name] = true
		if f.Size < 0 || f.Size > MaxFile {
			return fmt.Errorf("file %q: size %d out of range", f.Name, f.Size)
		}
		if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("file %q: sha256 is not 64 hex digits", f.Name)
		}
	}
	for _, c := range m.Canaries {
		if !seen[c.File] {
			return fmt.Errorf("canary %q is not a file of the bundle", c.File)
		}
	}
	return nil
}

// Payload is the files a bundle installs: every file but its canaries.
func (m *Manifest) Payload() []File {
	var out []File
	for _, f := range m.Files {
		if !slices.ContainsFunc(m.Canaries, func(c Canary) bool { return c.File == f.Name }) {
			out = append(out, f)
		}
	}
	return out
}

// SignOptions is what `bundle sign` is told.
type SignOptions struct {
	Kind, Channel string
	Version       uint64
	Created       time.Time
	Lifetime      time.Duration // expires = created + lifetime
	MinAppliance  string
	Canaries      []Canary // files of dir, scanned before install, not installed
}

// Sign makes a bundle of every regular file in dir (not its folders),
// signed with priv, and writes it to out.
func Sign(priv ed25519.PrivateKey, o SignOptions, dir string, out io.Writer) (*Manifest, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Product: Product, Channel: o.Channel, Kind: o.Kind, Version: o.Version,
		Created: o.Created.UTC().Truncate(time.Second), MinAppliance: o.MinAppliance, Canaries: o.Canaries}
	if m.Channel == "" {
		m.Channel = "stable"
	}
	if m.Created.IsZero() {
		m.Created = time.Now().UTC().Truncate(time.Second)
	}
	m.Expires = m.Created.Add(o.Lifetime)
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		f, err := fileOf(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		m.Files = append(m.Files, f)
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Name < m.Files[j].Name })
	if err := m.check(); err != nil {
		return nil, err
	}
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	sig, _ := json.Marshal(Signature{KeyID: KeyID(priv.Public().(ed25519.PublicKey)),
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(priv, body))})
	tw := tar.NewWriter(out)
	for _, part := range []struct {
		name string
		b    []byte
	}{{ManifestName, body}, {SignatureName, sig}} {
		if err := tw.WriteHeader(&tar.Header{Name: part.name, Mode: 0o644, Size: int64(len(part.b)), ModTime: m.Created, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(part.b); err != nil {
			return nil, err
		}
	}
	for _, f := range m.Files {
		if err := addFile(tw, filepath.Join(dir, f.Name), f, m.Created); err != nil {
			return nil, err
		}
	}
	return m, tw.Close()
}

func fileOf(path string) (File, error) {
	r, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return File{}, err
	}
	return File{Name: filepath.Base(path), Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

func addFile(tw *tar.Writer, path string, f File, mtime time.Time) error {
	r, err := os.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := tw.WriteHeader(&tar.Header{Name: f.Name, Mode: 0o644, Size: f.Size, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
		return err
	}
	// A file that changed since it was hashed makes a bundle that fails
	// its own check: copy exactly the size hashed and let verify say so.
	_, err = io.CopyN(tw, r, f.Size)
	return err
}

// Verifier decides whether a signing key may sign a bundle of a kind.
type Verifier interface {
	// Key is the public key of id, or why it is not trusted.
	Key(id string) (ed25519.PublicKey, error)
}

// ErrBadSignature is a signature that does not verify.
var ErrBadSignature = errors.New("bad signature")

// Open reads a bundle's manifest and signature from r and checks the
// signature with v and the manifest's form. Its files come next (Extract).
func Open(r io.Reader, v Verifier) (*Reader, error) {
	tr := tar.NewReader(r)
	body, err := member(tr, ManifestName)
	if err != nil {
		return nil, err
	}
	sigb, err := member(tr, SignatureName)
	if err != nil {
		return nil, err
	}
	var sig Signature
	if err := json.Unmarshal(sigb, &sig); err != nil {
		return nil, fmt.Errorf("%s: %w", SignatureName, err)
	}
	pub, err := v.Key(sig.KeyID)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", sig.KeyID, err)
	}
	raw, err := base64.StdEncoding.DecodeString(sig.Signature)
	if err != nil || !ed25519.Verify(pub, body, raw) {
		return nil, fmt.Errorf("%w by key %s", ErrBadSignature, sig.KeyID)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	return &Reader{Manifest: &m, KeyID: sig.KeyID, tr: tr}, nil
}

// member reads the next tar member, which must be name and small.
func member(tr *tar.Reader, name string) ([]byte, error) {
	h, err := tr.Next()
	if err != nil {
		return nil, fmt.Errorf("not a bundle (want %s first): %w", name, err)
	}
	if h.Name != name || h.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("not a bundle: %q where %s belongs", h.Name, name)
	}
	if h.Size > maxManifest {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxManifest)
	}
	return io.ReadAll(io.LimitReader(tr, maxManifest))
}

// Reader is a bundle whose manifest is verified; its files are not yet.
type Reader struct {
	Manifest *Manifest
	KeyID    string
	tr       *tar.Reader
}

// Extract reads every file, checks each against the manifest (name, size,
// SHA-256; nothing missing, nothing extra, no links or folders) and writes
// them to dir ("" checks without writing). On an error dir may hold part
// of the files: the caller removes it.
func (b *Reader) Extract(dir string) error {
	want := map[string]File{}
	for _, f := range b.Manifest.Files {
		want[f.Name] = f
	}
	for {
		h, err := b.tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("bundle truncated or corrupt: %w", err)
		}
		f, ok := want[h.Name]
		if !ok {
			return fmt.Errorf("%q is not in the manifest (or comes twice)", h.Name)
		}
		delete(want, h.Name)
		if h.Typeflag != tar.TypeReg {
			return fmt.Errorf("%q is not a regular file", h.Name)
		}
		if h.Size != f.Size {
			return fmt.Errorf("%q: %d bytes, the manifest says %d", h.Name, h.Size, f.Size)
		}
		if err := b.copyFile(dir, f); err != nil {
			return err
		}
	}
	for name := range want {
		return fmt.Errorf("%q is in the manifest but not in the bundle", name)
	}
	return nil
}

func (b *Reader) copyFile(dir string, f File) error {
	h := sha256.New()
	var w io.Writer = h
	var out *os.File
	if dir != "" {
		var err error
		if out, err = os.OpenFile(filepath.Join(dir, f.Name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err != nil {
			return err
		}
		defer out.Close()
		w = io.MultiWriter(h, out)
	}
	n, err := io.Copy(w, io.LimitReader(b.tr, f.Size+1))
	if err != nil {
		return fmt.Errorf("%q: %w", f.Name, err)
	}
	if n != f.Size {
		return fmt.Errorf("%q: %d bytes, the manifest says %d", f.Name, n, f.Size)
	}
	if got := hexSum(h); got != f.SHA256 {
		return fmt.Errorf("%q: SHA-256 %s, the manifest says %s", f.Name, got, f.SHA256)
	}
	if out != nil {
		if err := out.Sync(); err != nil {
			return err
		}
		return out.Close()
	}
	return nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// ReadManifest reads a bundle's manifest without checking its signature
// (the hub listing what it serves; the appliance always uses Open).
func ReadManifest(r io.Reader) (*Manifest, error) {
	tr := tar.NewReader(r)
	body, err := member(tr, ManifestName)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	return &m, nil
}

// ValidName says whether s can name a file of a bundle (or a bundle on
// the hub): letters, digits, '.', '_', '-', no folders.
func ValidName(s string) bool { return nameRe.MatchString(s) }
