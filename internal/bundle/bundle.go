// Package bundle is config export and config import: the settings, the
// policies (the lists are settings keys) and the accounts, password hashes
// only, in one signed JSON document. Import verifies the signature and
// validates every part before anything changes (the appliance applies it).
//
// The signature is ed25519 by the exporting appliance's own key (its data
// directory's export.key, made at the first export): any change to a
// bundle after its export breaks it, and the signer's fingerprint says
// which appliance made it.
package bundle

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"mailinspector/internal/accounts"
	"mailinspector/internal/durable"
	"mailinspector/internal/policy"
	"mailinspector/internal/settings"
)

// Format names the bundle's layout; import refuses any other.
const Format = "mailinspector-config/1"

// KeyFile is the appliance's signing key in its data directory.
const KeyFile = "export.key"

// Bundle is one export.
type Bundle struct {
	Format   string    `json:"format"`
	Exported time.Time `json:"exported"`
	By       string    `json:"by"`   // the account that exported
	Host     string    `json:"host"` // the appliance's hostname
	Version  string    `json:"version"`
	Settings string    `json:"settings"` // settings.conf as it is, secrets included
	// Policies is policies.conf; HasPolicies false: none (the default
	// policy applies).
	Policies    string    `json:"policies"`
	HasPolicies bool      `json:"has_policies"`
	Accounts    []Account `json:"accounts"`
	Signer      string    `json:"signer"`    // ed25519 public key, base64
	Signature   string    `json:"signature"` // over the bundle with Signature empty
}

// Account is an account as exported: never a password, its argon2id hash.
type Account struct {
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Hash    string    `json:"hash,omitempty"` // empty: no password set yet
	Created time.Time `json:"created"`
}

// signingKey reads the appliance's key, making it the first time.
func signingKey(dataDir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dataDir, KeyFile)
	b, err := os.ReadFile(path)
	if err == nil && len(b) == ed25519.SeedSize {
		return ed25519.NewKeyFromSeed(b), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := durable.WriteFile(path, key.Seed(), 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

// payload is what the signature covers: the bundle without it.
func (b *Bundle) payload() []byte {
	c := *b
	c.Signature = ""
	data, _ := json.Marshal(&c) // a struct of strings, times and slices: cannot fail
	return data
}

// Sign signs the bundle with the appliance's key.
func (b *Bundle) Sign(dataDir string) error {
	key, err := signingKey(dataDir)
	if err != nil {
		return fmt.Errorf("the signing key: %w", err)
	}
	b.Signer = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	b.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, b.payload()))
	return nil
}

// Fingerprint is a signer's short name: SHA256: and 16 hex digits.
func Fingerprint(signer string) string {
	sum := sha256.Sum256([]byte(signer))
	return "SHA256:" + hex.EncodeToString(sum[:8])
}

// Read parses a bundle and checks its signature; own says whether this
// appliance (dataDir's key) signed it.
func Read(data []byte, dataDir string) (b *Bundle, own bool, err error) {
	b = &Bundle{}
	if err := json.Unmarshal(data, b); err != nil {
		return nil, false, fmt.Errorf("not a configuration bundle: %v", err)
	}
	if b.Format != Format {
		return nil, false, fmt.Errorf("bundle format %q: this appliance reads %s", b.Format, Format)
	}
	pub, err1 := base64.StdEncoding.DecodeString(b.Signer)
	sig, err2 := base64.StdEncoding.DecodeString(b.Signature)
	if err1 != nil || err2 != nil || len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, b.payload(), sig) {
		return nil, false, errors.New("the bundle's signature does not verify: it was changed after its export, or is not one")
	}
	if key, err := signingKey(dataDir); err == nil {
		own = slices.Equal(key.Public().(ed25519.PublicKey), ed25519.PublicKey(pub))
	}
	return b, own, nil
}

// Validate checks every part as the appliance would take it, and lists
// every problem; nothing is changed.
func (b *Bundle) Validate() error {
	var errs settings.Errors
	if vals, err := settings.Parse("settings (in the bundle)", []byte(b.Settings)); err != nil {
		errs = append(errs, err)
	} else if _, err := settings.Build(vals); err != nil {
		errs = append(errs, err)
	}
	if b.HasPolicies {
		if _, err := policy.Parse("policies (in the bundle)", []byte(b.Policies)); err != nil {
			errs = append(errs, err)
		}
	}
	seen := map[string]bool{}
	for _, a := range b.Accounts {
		switch {
		case seen[a.Name]:
			errs = append(errs, fmt.Errorf("account %s: twice", a.Name))
		case accounts.CheckName(a.Name) != nil:
			errs = append(errs, fmt.Errorf("account %q: %v", a.Name, accounts.CheckName(a.Name)))
		case !slices.Contains(accounts.Roles, a.Role):
			errs = append(errs, fmt.Errorf("account %s: role %q", a.Name, a.Role))
		case a.Name == accounts.Builtin && a.Role != accounts.Administrator:
			errs = append(errs, fmt.Errorf("account admin: role %q; admin stays an administrator", a.Role))
		case a.Hash != "" && !accounts.IsHash(a.Hash):
			errs = append(errs, fmt.Errorf("account %s: the password hash is not argon2id", a.Name))
		}
		seen[a.Name] = true
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}
