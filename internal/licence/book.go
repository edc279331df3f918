package licence

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"mailinspector/internal/durable"
	"mailinspector/internal/updates/signed"
)

// Book keeps an appliance's licence in its data directory (the licence
// folder): its id, its first start (the trial's), the activated code, the
// issuer's key and what the last online check found. The code is checked
// again each time it is read: a file edited by hand counts for nothing.
type Book struct {
	Dir string // the data directory
	// IssuerKey is licence.issuer_key (a PEM public key file), trusted
	// besides the key pinned at the first online check.
	IssuerKey   string
	Trial       time.Duration
	GracePeriod time.Duration
	Now         func() time.Time

	mu sync.Mutex
}

const (
	folder     = "licence"
	idFile     = "id"
	firstFile  = "first-start"
	codeFile   = "licence.json"
	issuerFile = "issuer.pub"
	checkFile  = "check.json"
)

func (b *Book) path(name string) string { return filepath.Join(b.Dir, folder, name) }

func (b *Book) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Open makes the folder, the id and the first start when missing.
func (b *Book) Open() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := os.MkdirAll(filepath.Join(b.Dir, folder), 0o700); err != nil {
		return err
	}
	if id, err := os.ReadFile(b.path(idFile)); err != nil || !ValidID(strings.TrimSpace(string(id))) {
		if err := durable.WriteFile(b.path(idFile), []byte(NewID()+"\n"), 0o600); err != nil {
			return err
		}
	}
	if _, err := os.Stat(b.path(firstFile)); err != nil {
		if err := durable.WriteFile(b.path(firstFile), []byte(b.now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// ID is the appliance id an activation code names.
func (b *Book) ID() string {
	id, _ := os.ReadFile(b.path(idFile))
	return strings.TrimSpace(string(id))
}

// FirstStart is when the trial began.
func (b *Book) FirstStart() time.Time {
	s, err := os.ReadFile(b.path(firstFile))
	if err == nil {
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(s))); err == nil {
			return t
		}
	}
	return b.now() // unreadable: the trial as if it began now, never "unlicensed" by accident
}

// Issuers are the keys trusted to sign codes.
func (b *Book) Issuers() []ed25519.PublicKey {
	var out []ed25519.PublicKey
	for _, f := range []string{b.IssuerKey, b.path(issuerFile)} {
		if f == "" {
			continue
		}
		if keys, err := signed.ReadPublic(f); err == nil {
			out = append(out, keys...)
		}
	}
	return out
}

// PinIssuer keeps the hub's issuer key (PEM) when none is pinned yet; a
// different key later is refused: the hub's licences are checked against
// the first key it showed (or licence.issuer_key).
func (b *Book) PinIssuer(pemKey string) error {
	keys, err := signed.ParsePublic([]byte(pemKey))
	if err != nil || len(keys) != 1 {
		return fmt.Errorf("the hub's licence issuer key: %v", err)
	}
	if old, err := signed.ReadPublic(b.path(issuerFile)); err == nil {
		if !old[0].Equal(keys[0]) {
			return errors.New("the hub shows a licence issuer key other than the one pinned: its codes are refused")
		}
		return nil
	}
	return durable.WriteFile(b.path(issuerFile), signed.EncodePublic(keys[0]), 0o600)
}

type storedCode struct {
	Code      string    `json:"code"`
	Activated time.Time `json:"activated"`
	Source    string    `json:"source"` // activate, hub
}

// Licence is the activated licence, nil when none (or when its code no
// longer verifies).
func (b *Book) Licence() (*Licence, time.Time) {
	raw, err := os.ReadFile(b.path(codeFile))
	if err != nil {
		return nil, time.Time{}
	}
	var s storedCode
	if json.Unmarshal(raw, &s) != nil {
		return nil, time.Time{}
	}
	l, err := Parse(s.Code, b.Issuers())
	if err != nil || l.Appliance != b.ID() {
		return nil, time.Time{}
	}
	return l, s.Activated
}

// Activate checks a code (signature, this appliance's id, not older than
// the licence in place) and keeps it.
func (b *Book) Activate(code, source string) (*Licence, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, err := Parse(code, b.Issuers())
	if err != nil {
		return nil, err
	}
	if l.Appliance != b.ID() {
		return nil, fmt.Errorf("activation code: it is for appliance %s; this one is %s", l.Appliance, b.ID())
	}
	if old, _ := b.Licence(); old != nil && old.Serial != l.Serial && !l.Issued.After(old.Issued) {
		return nil, fmt.Errorf("activation code: issued %s, not after the licence in place (issued %s)", l.Issued.Format("2006-01-02"), old.Issued.Format("2006-01-02"))
	}
	raw, _ := json.Marshal(storedCode{Code: strings.Join(strings.Fields(code), ""), Activated: b.now().UTC(), Source: source})
	if err := durable.WriteFile(b.path(codeFile), raw, 0o600); err != nil {
		return nil, err
	}
	return l, nil
}

// State is where the licence stands now.
func (b *Book) State() State {
	l, _ := b.Licence()
	return Evaluate(l, b.FirstStart(), b.now(), b.Trial, b.GracePeriod)
}

// Check is what the last online checks found.
type Check struct {
	LastCheck   time.Time `json:"last_check"`
	LastSuccess time.Time `json:"last_success"`
	LastError   string    `json:"last_error,omitempty"`
	Hub         string    `json:"hub,omitempty"` // what the hub said
}

// LastCheck reads what the last online checks found.
func (b *Book) LastCheck() Check {
	var c Check
	if raw, err := os.ReadFile(b.path(checkFile)); err == nil {
		json.Unmarshal(raw, &c)
	}
	return c
}

// SaveCheck records an online check.
func (b *Book) SaveCheck(c Check) error {
	raw, _ := json.Marshal(c)
	return durable.WriteFile(b.path(checkFile), raw, 0o600)
}
