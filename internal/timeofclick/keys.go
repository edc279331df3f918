package timeofclick

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"mailinspector/internal/durable"
)

// KeyFile is time-of-click's key history in the data directory: a line a
// key, "UNIX-SECONDS HEX", the newest first. A token is 128 random bits
// and a tag (HMAC-SHA256 of them, 64 bits) under the newest key: a token
// the appliance did not make is refused before the database is asked,
// and a key rotated out keeps verifying the links it signed while they
// live (click.link_lifetime).
const KeyFile = "click.key"

// Keys is the key history.
type Keys struct {
	path string
	mu   sync.RWMutex
	keys []key // newest first
}

type key struct {
	created time.Time
	k       []byte
}

// OpenKeys reads the history, making the first key on first start.
func OpenKeys(dataDir string) (*Keys, error) {
	ks := &Keys{path: filepath.Join(dataDir, KeyFile)}
	data, err := os.ReadFile(ks.path)
	if errors.Is(err, os.ErrNotExist) {
		return ks, ks.Rotate(0)
	}
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		sec, err1 := strconv.ParseInt(f[0], 10, 64)
		k, err2 := hex.DecodeString(f[len(f)-1])
		if len(f) != 2 || err1 != nil || err2 != nil || len(k) < 32 {
			return nil, fmt.Errorf("%s:%d: want UNIX-SECONDS HEX-KEY (32 bytes or more)", ks.path, n)
		}
		ks.keys = append(ks.keys, key{time.Unix(sec, 0), k})
	}
	if len(ks.keys) == 0 {
		return ks, ks.Rotate(0)
	}
	return ks, nil
}

// Rotate makes a new key the one that signs; keys that signed nothing
// still alive (the key after them is older than lifetime) go. lifetime 0
// keeps every key.
func (ks *Keys) Rotate(lifetime time.Duration) error {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return err
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	now := time.Now()
	keys := []key{{now, k}}
	for i, old := range ks.keys {
		// old signed until the key before it came: past lifetime after
		// that, no link of its lives.
		until := now
		if i > 0 {
			until = ks.keys[i-1].created
		}
		if lifetime == 0 || now.Sub(until) <= lifetime {
			keys = append(keys, old)
		}
	}
	var b strings.Builder
	for _, x := range keys {
		fmt.Fprintf(&b, "%d %s\n", x.created.Unix(), hex.EncodeToString(x.k))
	}
	if err := durable.WriteFile(ks.path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("time-of-click key: %w", err)
	}
	ks.keys = keys
	return nil
}

// Count is how many keys verify tokens.
func (ks *Keys) Count() int {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return len(ks.keys)
}

const tagLen = 8

func tag(k, id []byte) []byte {
	m := hmac.New(sha256.New, k)
	m.Write(id)
	return m.Sum(nil)[:tagLen]
}

// NewToken is 128 random bits and their tag under the newest key.
func (ks *Keys) NewToken() string {
	id := make([]byte, 16)
	rand.Read(id)
	ks.mu.RLock()
	t := tag(ks.keys[0].k, id)
	ks.mu.RUnlock()
	return base64.RawURLEncoding.EncodeToString(append(id, t...))
}

// Valid says whether a token is one this appliance made, under any key
// of the history.
func (ks *Keys) Valid(token string) bool {
	if len(token) != 32 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != 16+tagLen || base64.RawURLEncoding.EncodeToString(b) != token {
		return false
	}
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	for _, k := range ks.keys {
		if hmac.Equal(tag(k.k, b[:16]), b[16:]) {
			return true
		}
	}
	return false
}
