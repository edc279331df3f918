package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"sync"
	"time"
)

// session is one logged-in browser. The token in its cookie is random and
// opaque; the CSRF token goes into every form the session is shown.
type session struct {
	token, csrf string
	account     string
	// hashSum is the account's password hash at login: when the password
	// changes, every session of the account ends (checked per request).
	hashSum  [32]byte
	lastSeen time.Time
}

// sessions are kept in memory, one store per data directory for the
// process (sessionsFor): a settings commit reloads the appliance and its
// console without logging anybody out; a restart of the daemon does.
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session
	idle time.Duration
	now  func() time.Time
}

var (
	storesMu sync.Mutex
	stores   = map[string]*sessions{}
)

// sessionsFor is the data directory's session store, its idle time set.
func sessionsFor(dataDir string, idle time.Duration) *sessions {
	storesMu.Lock()
	defer storesMu.Unlock()
	s, ok := stores[dataDir]
	if !ok {
		s = &sessions{byID: map[string]*session{}, now: time.Now}
		stores[dataDir] = s
	}
	s.mu.Lock()
	s.idle = idle
	s.mu.Unlock()
	return s
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // crypto/rand does not fail on Linux
	return hex.EncodeToString(b[:])
}

// start makes a session for an account that has just logged in.
func (s *sessions) start(account, hash string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := &session{token: randomToken(), csrf: randomToken(), account: account, hashSum: sha256.Sum256([]byte(hash)), lastSeen: s.now()}
	s.byID[ss.token] = ss
	// Sessions past their idle time go when another starts.
	for t, o := range s.byID {
		if s.now().Sub(o.lastSeen) > s.idle {
			delete(s.byID, t)
		}
	}
	return ss
}

// get is the live session of a token, its idle time renewed.
func (s *sessions) get(token string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byID[token]
	if !ok {
		return nil
	}
	if s.now().Sub(ss.lastSeen) > s.idle {
		delete(s.byID, token)
		return nil
	}
	ss.lastSeen = s.now()
	return ss
}

func (s *sessions) end(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, token)
}

// samePassword says whether the account's hash is still the one the
// session logged in with.
func (ss *session) samePassword(hash string) bool {
	sum := sha256.Sum256([]byte(hash))
	return subtle.ConstantTimeCompare(sum[:], ss.hashSum[:]) == 1
}
