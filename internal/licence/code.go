// Package licence is the appliance's licence: activation codes the hub
// issues (signed, bound to one appliance id), the states a licence walks
// through (unlicensed, trial, active, grace, expired) and what each
// changes, and the files in the data directory that keep them.
//
// Whatever the state, mail flow and scanning never stop: an expired
// licence stops updates (the last patterns stay in use) and the consoles
// say so loudly.
package licence

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Licence is what an activation code says.
type Licence struct {
	Appliance string    `json:"appliance"` // the appliance id (show licence)
	Edition   string    `json:"edition"`
	Seats     int       `json:"seats"` // protected mailboxes
	Issued    time.Time `json:"issued"`
	Expires   time.Time `json:"expires"`
	Serial    string    `json:"serial"`
}

// codePrefix starts every activation code (its format's version).
const codePrefix = "MI1."

var (
	idRe      = regexp.MustCompile(`^MI-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}$`)
	editionRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
)

// ValidID says whether s is an appliance id (MI-XXXX-XXXX-XXXX, hex).
func ValidID(s string) bool { return idRe.MatchString(s) }

// NewID makes an appliance id.
func NewID() string {
	var b [6]byte
	rand.Read(b[:])
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return "MI-" + h[0:4] + "-" + h[4:8] + "-" + h[8:12]
}

func (l *Licence) check() error {
	switch {
	case !ValidID(l.Appliance):
		return fmt.Errorf("appliance id %q: want MI-XXXX-XXXX-XXXX", l.Appliance)
	case !editionRe.MatchString(l.Edition):
		return fmt.Errorf("edition %q: want a lower-case word", l.Edition)
	case l.Seats < 1:
		return errors.New("seats must be at least 1")
	case l.Issued.IsZero() || !l.Expires.After(l.Issued):
		return errors.New("expires must come after issued")
	}
	return nil
}

// Issue signs l into an activation code (a serial is drawn when l has
// none).
func Issue(priv ed25519.PrivateKey, l Licence) (string, error) {
	l.Issued, l.Expires = l.Issued.UTC().Truncate(time.Second), l.Expires.UTC().Truncate(time.Second)
	if l.Serial == "" {
		var b [8]byte
		rand.Read(b[:])
		l.Serial = hex.EncodeToString(b[:])
	}
	if err := l.check(); err != nil {
		return "", err
	}
	body, err := json.Marshal(l)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return codePrefix + enc.EncodeToString(body) + "." + enc.EncodeToString(ed25519.Sign(priv, body)), nil
}

// ErrSignature is a code no trusted issuer signed.
var ErrSignature = errors.New("activation code: not signed by the licence issuer")

// Parse checks a code's signature with the issuer keys and returns what
// it says. White space (a code pasted over lines) is ignored.
func Parse(code string, issuers []ed25519.PublicKey) (*Licence, error) {
	code = strings.Join(strings.Fields(code), "")
	rest, ok := strings.CutPrefix(code, codePrefix)
	if !ok {
		return nil, fmt.Errorf("activation code: does not start with %s", codePrefix)
	}
	b64body, b64sig, ok := strings.Cut(rest, ".")
	enc := base64.RawURLEncoding
	body, err1 := enc.DecodeString(b64body)
	sig, err2 := enc.DecodeString(b64sig)
	if !ok || err1 != nil || err2 != nil || len(body) > 4096 {
		return nil, errors.New("activation code: garbled (copy it again, whole)")
	}
	if len(issuers) == 0 {
		return nil, errors.New("activation code: the licence issuer's key is not known yet (licence.issuer_key, or one check with the hub)")
	}
	good := false
	for _, k := range issuers {
		if ed25519.Verify(k, body, sig) {
			good = true
			break
		}
	}
	if !good {
		return nil, ErrSignature
	}
	var l Licence
	if err := json.Unmarshal(body, &l); err != nil {
		return nil, fmt.Errorf("activation code: %w", err)
	}
	if err := l.check(); err != nil {
		return nil, fmt.Errorf("activation code: %w", err)
	}
	return &l, nil
}
