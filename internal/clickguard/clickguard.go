// Package clickguard rewrites links to go through the appliance and serves
// the pages they lead to. This is the placeholder of the time-of-click
// service: a rewritten link carries a signed token (HMAC-SHA256 with a key
// made on first start), so the service only ever shows or links to URLs
// the appliance itself wrote — it is not an open redirect, and the
// recipient's address is not in the link. Block pages show no way on;
// warn pages show the original URL as text and let the reader go on.
package clickguard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"mailinspector/internal/durable"
)

// KeyFile is the signing key's file in the data directory.
const KeyFile = "clickguard.key"

// Modes of a rewritten link.
const (
	Block = "block"
	Warn  = "warn"
)

// Guard signs and checks link tokens.
type Guard struct {
	key  []byte
	base string // e.g. https://mail-inspector.example.com
}

// Open loads the key from dataDir, making it on first start.
func Open(dataDir, baseURL string) (*Guard, error) {
	path := filepath.Join(dataDir, KeyFile)
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := durable.WriteFile(path, key, 0o600); err != nil {
			return nil, fmt.Errorf("clickguard key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("clickguard key: %w", err)
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("clickguard key %s is too short", path)
	}
	return &Guard{key: key, base: strings.TrimSuffix(baseURL, "/")}, nil
}

// Link is what a token says.
type Link struct {
	URL       string `json:"u"`
	MessageID string `json:"m"`
	Mode      string `json:"a"`
}

func (g *Guard) sign(payload []byte) []byte {
	mac := hmac.New(sha256.New, g.key)
	mac.Write(payload)
	return mac.Sum(nil)
}

// Token signs a link.
func (g *Guard) Token(l Link) string {
	payload, _ := json.Marshal(l)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(g.sign(payload))
}

// Rewrite is the URL a link is replaced with.
func (g *Guard) Rewrite(l Link) string { return g.base + "/c/" + g.Token(l) }

// ErrBadToken is any token the appliance did not sign.
var ErrBadToken = errors.New("clickguard: not a link this appliance wrote")

// Verify checks a token and returns its link.
func (g *Guard) Verify(token string) (Link, error) {
	enc := base64.RawURLEncoding
	p, s, ok := strings.Cut(token, ".")
	if !ok || len(token) > 16*1024 {
		return Link{}, ErrBadToken
	}
	payload, err1 := enc.DecodeString(p)
	sig, err2 := enc.DecodeString(s)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, g.sign(payload)) {
		return Link{}, ErrBadToken
	}
	// The decoder skips line breaks and ignores a last character's unused
	// bits: only the spelling Token writes is a token, so that a token is
	// one string (one cache key, one log line) and cannot be varied.
	if enc.EncodeToString(payload) != p || enc.EncodeToString(sig) != s {
		return Link{}, ErrBadToken
	}
	var l Link
	if err := json.Unmarshal(payload, &l); err != nil || (l.Mode != Block && l.Mode != Warn) {
		return Link{}, ErrBadToken
	}
	return l, nil
}
