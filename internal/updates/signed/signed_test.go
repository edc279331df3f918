package signed

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

func sampleDir(t testing.TB) string {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.ndb"), []byte("Sig.A:0:*:414243\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "canary.txt"), []byte("xx ABC xx"), 0o644)
	return dir
}

func signSample(t testing.TB, k ed25519.PrivateKey) []byte {
	t.Helper()
	var buf bytes.Buffer
	_, err := Sign(k, SignOptions{Kind: "clamav", Version: 7, Lifetime: time.Hour,
		Canaries: []Canary{{File: "canary.txt", Expect: "Sig.A"}}}, sampleDir(t), &buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSignAndVerify(t *testing.T) {
	k := newKey(t)
	b := signSample(t, k)
	r, err := Open(bytes.NewReader(b), NewTrust(nil, []ed25519.PublicKey{pub(k)}))
	if err != nil {
		t.Fatal(err)
	}
	if r.Manifest.Kind != "clamav" || r.Manifest.Version != 7 || r.Manifest.Channel != "stable" || len(r.Manifest.Files) != 2 {
		t.Fatalf("manifest: %+v", r.Manifest)
	}
	if p := r.Manifest.Payload(); len(p) != 1 || p[0].Name != "a.ndb" {
		t.Fatalf("payload: %+v", p)
	}
	dir := t.TempDir()
	if err := r.Extract(dir); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "a.ndb")); string(got) != "Sig.A:0:*:414243\n" {
		t.Fatalf("extracted %q", got)
	}
}

// rewrite rebuilds a bundle's tar, letting edit change each member.
func rewrite(t *testing.T, b []byte, edit func(h *tar.Header, body []byte) []byte, extra ...[2]string) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		body, _ := io.ReadAll(tr)
		body = edit(h, body)
		if body == nil {
			continue
		}
		h.Size = int64(len(body))
		tw.WriteHeader(h)
		tw.Write(body)
	}
	for _, e := range extra {
		tw.WriteHeader(&tar.Header{Name: e[0], Mode: 0o644, Size: int64(len(e[1]))})
		tw.Write([]byte(e[1]))
	}
	tw.Close()
	return out.Bytes()
}

func TestRefusals(t *testing.T) {
	k, other := newKey(t), newKey(t)
	good := signSample(t, k)
	trust := NewTrust(nil, []ed25519.PublicKey{pub(k)})
	keep := func(h *tar.Header, b []byte) []byte { return b }
	for _, c := range []struct {
		name   string
		bundle []byte
		trust  Verifier
		want   string
	}{
		{"unknown key", good, NewTrust(nil, []ed25519.PublicKey{pub(other)}), "not a trusted key"},
		{"retired key", good, NewTrust(&Keyring{Retired: []string{KeyID(pub(k))}}, []ed25519.PublicKey{pub(k)}), "retired"},
		{"manifest changed", rewrite(t, good, func(h *tar.Header, b []byte) []byte {
			if h.Name == ManifestName {
				return bytes.Replace(b, []byte(`"version": 7`), []byte(`"version": 8`), 1)
			}
			return b
		}), trust, "bad signature"},
		{"file changed", rewrite(t, good, func(h *tar.Header, b []byte) []byte {
			if h.Name == "a.ndb" {
				return bytes.Replace(b, []byte("414243"), []byte("414244"), 1)
			}
			return b
		}), trust, "SHA-256"},
		{"file missing", rewrite(t, good, func(h *tar.Header, b []byte) []byte {
			if h.Name == "a.ndb" {
				return nil
			}
			return b
		}), trust, "not in the bundle"},
		{"file added", rewrite(t, good, keep, [2]string{"b.ndb", "x"}), trust, "not in the manifest"},
		{"truncated", good[:len(good)/2], trust, "truncated"},
		{"not a tar", []byte("hello"), trust, "not a bundle"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := Open(bytes.NewReader(c.bundle), c.trust)
			if err == nil {
				err = r.Extract(t.TempDir())
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func TestKeyringThreshold(t *testing.T) {
	r1, r2, r3, signer := newKey(t), newKey(t), newKey(t), newKey(t)
	roots, err := ParseRoots(EncodeRoots(2, []ed25519.PublicKey{pub(r1), pub(r2), pub(r3)}))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	k := Keyring{Version: 1, Created: now, Expires: now.Add(time.Hour), SigningKeys: []string{b64(pub(signer))}}
	one, _ := SignKeyring(k, r1)
	if _, err := VerifyKeyring(roots, one, now); err == nil {
		t.Fatal("one root signature of two needed was accepted")
	}
	twice, _ := SignKeyring(k, r1, r1)
	if _, err := VerifyKeyring(roots, twice, now); err == nil {
		t.Fatal("the same root counted twice")
	}
	two, _ := SignKeyring(k, r1, r3)
	got, err := VerifyKeyring(roots, two, now)
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTrust(got, nil)
	if _, err := tr.Key(KeyID(pub(signer))); err != nil {
		t.Fatalf("signing key from the keyring: %v", err)
	}
	if _, err := VerifyKeyring(roots, two, now.Add(2*time.Hour)); err == nil {
		t.Fatal("an expired keyring was accepted")
	}
	stranger, _ := SignKeyring(k, r1, newKey(t))
	if _, err := VerifyKeyring(roots, stranger, now); err == nil {
		t.Fatal("a stranger's signature counted")
	}
	if _, err := ParseRoots(EncodeRoots(4, []ed25519.PublicKey{pub(r1)})); err == nil {
		t.Fatal("threshold above the key count accepted")
	}
	if r, err := BuildRoots(); err != nil || len(r.Keys) != 0 {
		t.Fatalf("build roots: %v %v", r, err)
	}
}

func TestKeyFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	id, err := GenerateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := GenerateKey(path); err == nil {
		t.Fatal("a key file was overwritten")
	}
	priv, err := ReadPrivate(path)
	if err != nil {
		t.Fatal(err)
	}
	pubs, err := ReadPublic(path + ".pub")
	if err != nil || len(pubs) != 1 || KeyID(pubs[0]) != id || !pubs[0].Equal(priv.Public()) {
		t.Fatalf("public key: %v %v", pubs, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v", st.Mode())
	}
	if _, err := ReadPrivate(path + ".pub"); err == nil {
		t.Fatal("a public key read as private")
	}
}

func FuzzOpen(f *testing.F) {
	k := newKey(f)
	f.Add(signSample(f, k))
	f.Add([]byte("manifest.json"))
	trust := NewTrust(nil, []ed25519.PublicKey{pub(k)})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Open(bytes.NewReader(b), trust)
		if err != nil {
			return
		}
		if err := r.Extract(""); err != nil && errors.Is(err, ErrBadSignature) {
			t.Fatal("a signature error after Open")
		}
	})
}
