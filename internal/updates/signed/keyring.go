package signed

import (
	"crypto/ed25519"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Roots are the keys that sign keyring documents, and how many of them
// must sign one.
type Roots struct {
	Threshold int
	Keys      map[string]ed25519.PublicKey // by KeyID
}

// rootsFile is a root keyring as a file: {"threshold": N, "keys": [PEM, …]}.
type rootsFile struct {
	Threshold int      `json:"threshold"`
	Keys      []string `json:"keys"`
}

// buildRoots is the root keyring baked into the build. It holds no key
// until the project's root keys are minted offline; an appliance trusts
// the keys its administrator names (updates.trusted_keys,
// updates.root_keyring) until then.
//
//go:embed roots.json
var buildRoots []byte

// BuildRoots is the build's root keyring.
func BuildRoots() (Roots, error) { return ParseRoots(buildRoots) }

// ParseRoots reads a root keyring file.
func ParseRoots(b []byte) (Roots, error) {
	var f rootsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return Roots{}, fmt.Errorf("root keyring: %w", err)
	}
	r := Roots{Threshold: f.Threshold, Keys: map[string]ed25519.PublicKey{}}
	for _, p := range f.Keys {
		keys, err := ParsePublic([]byte(p))
		if err != nil {
			return Roots{}, fmt.Errorf("root keyring: %w", err)
		}
		for _, k := range keys {
			r.Keys[KeyID(k)] = k
		}
	}
	if len(r.Keys) > 0 && (r.Threshold < 1 || r.Threshold > len(r.Keys)) {
		return Roots{}, fmt.Errorf("root keyring: threshold %d with %d keys", r.Threshold, len(r.Keys))
	}
	return r, nil
}

// EncodeRoots writes a root keyring file.
func EncodeRoots(threshold int, keys []ed25519.PublicKey) []byte {
	f := rootsFile{Threshold: threshold}
	for _, k := range keys {
		f.Keys = append(f.Keys, string(EncodePublic(k)))
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	return b
}

// Keyring is what the roots say of the signing keys: the keys that may
// sign bundles, and the ones retired (never trusted again, whoever else
// trusts them).
type Keyring struct {
	Version     uint64    `json:"version"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
	SigningKeys []string  `json:"signing_keys"` // base64 of the 32-byte public keys
	Retired     []string  `json:"retired"`      // key ids
}

// SignedKeyring is a keyring document as published: the keyring's exact
// bytes (base64: reformatting the document cannot change them) and the
// roots' signatures of them.
type SignedKeyring struct {
	Signed     []byte      `json:"signed"`
	Signatures []Signature `json:"signatures"`
}

// SignKeyring signs k with each of the root keys.
func SignKeyring(k Keyring, roots ...ed25519.PrivateKey) ([]byte, error) {
	body, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	doc := SignedKeyring{Signed: body}
	for _, r := range roots {
		doc.Signatures = append(doc.Signatures, Signature{KeyID: KeyID(r.Public().(ed25519.PublicKey)),
			Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(r, body))})
	}
	return json.MarshalIndent(doc, "", "  ")
}

// VerifyKeyring checks a keyring document against the roots: at least
// Threshold distinct root keys signed it, and it has not expired.
func VerifyKeyring(roots Roots, raw []byte, now time.Time) (*Keyring, error) {
	if len(roots.Keys) == 0 {
		return nil, errors.New("keyring document: no root keys to check it with")
	}
	var doc SignedKeyring
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("keyring document: %w", err)
	}
	good := map[string]bool{}
	for _, s := range doc.Signatures {
		pub, ok := roots.Keys[s.KeyID]
		sig, err := base64.StdEncoding.DecodeString(s.Signature)
		if ok && err == nil && ed25519.Verify(pub, doc.Signed, sig) {
			good[s.KeyID] = true
		}
	}
	if len(good) < roots.Threshold {
		return nil, fmt.Errorf("keyring document: %d valid root signatures, %d needed", len(good), roots.Threshold)
	}
	var k Keyring
	if err := json.Unmarshal(doc.Signed, &k); err != nil {
		return nil, fmt.Errorf("keyring document: %w", err)
	}
	if k.Version == 0 {
		return nil, errors.New("keyring document: version must be at least 1")
	}
	if now.After(k.Expires) {
		return nil, fmt.Errorf("keyring document version %d expired on %s", k.Version, k.Expires.Format(time.RFC3339))
	}
	for _, s := range k.SigningKeys {
		if b, err := base64.StdEncoding.DecodeString(s); err != nil || len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("keyring document: signing key %q is not 32 bytes of base64", s)
		}
	}
	return &k, nil
}

// Trust is the set of keys that may sign bundles: Verifier.
type Trust struct {
	signing map[string]ed25519.PublicKey
	retired map[string]bool
}

// NewTrust is the keys of a verified keyring (nil: none) and the keys an
// administrator trusts, less the keys the keyring retired.
func NewTrust(k *Keyring, admin []ed25519.PublicKey) *Trust {
	t := &Trust{signing: map[string]ed25519.PublicKey{}, retired: map[string]bool{}}
	for _, p := range admin {
		t.signing[KeyID(p)] = p
	}
	if k != nil {
		for _, s := range k.SigningKeys {
			b, _ := base64.StdEncoding.DecodeString(s)
			t.signing[KeyID(b)] = ed25519.PublicKey(b)
		}
		for _, id := range k.Retired {
			t.retired[id] = true
		}
	}
	return t
}

// ErrRetired is a key a keyring document retired.
var ErrRetired = errors.New("retired by the keyring")

// Key implements Verifier.
func (t *Trust) Key(id string) (ed25519.PublicKey, error) {
	if t.retired[id] {
		return nil, ErrRetired
	}
	if k, ok := t.signing[id]; ok {
		return k, nil
	}
	return nil, errors.New("not a trusted key (neither in the keyring nor in updates.trusted_keys)")
}

// Keys are the ids of the trusted keys.
func (t *Trust) Keys() []string {
	var out []string
	for id := range t.signing {
		if !t.retired[id] {
			out = append(out, id)
		}
	}
	return out
}

func b64(p ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(p) }

// SigningKeyString is a public key as a keyring lists it.
func SigningKeyString(p ed25519.PublicKey) string { return b64(p) }
