// Package signed is the format of the appliance's update bundles and the
// trust that decides which bundles it installs (docs/updates.md).
//
// A bundle is a tar holding manifest.json (what the bundle is and the
// SHA-256 and size of every file), manifest.sig (a detached ed25519
// signature of manifest.json's exact bytes) and the files. A bundle is
// trusted when a signing key signed it; signing keys are the ones a
// keyring document lists (signed by a threshold of the root keys) and the
// ones an administrator trusts (updates.trusted_keys), less every key a
// keyring document retired.
//
// This is the smallest form that resists the attacks a pattern feed
// meets: forged bundles (signatures), swapped files (hashes and sizes in
// the signed manifest), rollback (a version high-water mark per kind),
// freeze (expiry) and a leaked signing key (retired by the roots without a
// new build). It has one role for every file of a kind and one channel per
// kind; if the feed grows roles, delegations or mirrors with their own
// metadata, TUF (theupdateframework/go-tuf/v2) is the format to grow into.
package signed

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"mailinspector/internal/durable"
)

// KeyID names a public key: the first 16 hex digits of the SHA-256 of its
// 32 bytes.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// GenerateKey writes a new private key to path (PEM, PKCS #8, mode 0600)
// and its public key to path+".pub" (PEM, PKIX), and returns the key id.
func GenerateKey(path string) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(path); err == nil {
		return "", fmt.Errorf("%s exists: a key is never overwritten", path)
	}
	if err := durable.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return "", err
	}
	if err := durable.WriteFile(path+".pub", EncodePublic(pub), 0o644); err != nil {
		return "", err
	}
	return KeyID(pub), nil
}

// EncodePublic is a public key as a PEM block.
func EncodePublic(pub ed25519.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ReadPrivate reads a private key GenerateKey wrote.
func ReadPrivate(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an ed25519 key", path)
	}
	return priv, nil
}

// ParsePublic reads every PEM public key in b (a file may hold several).
func ParsePublic(b []byte) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "PUBLIC KEY" {
			continue
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, errors.New("not an ed25519 public key")
		}
		keys = append(keys, pub)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM public key")
	}
	return keys, nil
}

// ReadPublic reads the public keys of a file.
func ReadPublic(path string) ([]ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	keys, err := ParsePublic(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}
