package hub

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/licence"
	"mailinspector/internal/updates/signed"
)

// LicenceKeyFile is the key the hub signs activation codes with, in its
// data directory; made at the first issue.
const LicenceKeyFile = "licence.key"

// issuerKey reads (or makes) the licence key.
func issuerKey(dataDir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dataDir, LicenceKeyFile)
	if _, err := os.Stat(path); os.IsNotExist(err) {
		if _, err := signed.GenerateKey(path); err != nil {
			return nil, err
		}
	}
	return signed.ReadPrivate(path)
}

// IssueLicence signs an activation code for an appliance id and records
// it.
func (s *Store) IssueLicence(ctx context.Context, dataDir string, l licence.Licence) (string, error) {
	key, err := issuerKey(dataDir)
	if err != nil {
		return "", err
	}
	code, err := licence.Issue(key, l)
	if err != nil {
		return "", err
	}
	parsed, err := licence.Parse(code, []ed25519.PublicKey{key.Public().(ed25519.PublicKey)})
	if err != nil {
		return "", err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO licences (serial, appliance, edition, seats, issued, expires, code) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		parsed.Serial, parsed.Appliance, parsed.Edition, parsed.Seats, parsed.Issued.Unix(), parsed.Expires.Unix(), code)
	return code, err
}

// newestLicence is the newest code issued for an appliance id.
func (s *Store) newestLicence(ctx context.Context, id string) (code string, expires time.Time, err error) {
	var exp int64
	err = s.db.QueryRowContext(ctx, `SELECT code, expires FROM licences WHERE appliance = ? ORDER BY issued DESC, rowid DESC LIMIT 1`, id).Scan(&code, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, nil
	}
	return code, time.Unix(exp, 0).UTC(), err
}

func (s *Server) licence(w http.ResponseWriter, r *http.Request) {
	app := r.Context().Value(ctxKey{}).(appliance)
	id := r.URL.Query().Get("appliance")
	if !licence.ValidID(id) {
		apiError(w, http.StatusBadRequest, "bad_request", "appliance=MI-XXXX-XXXX-XXXX (show licence gives it)")
		return
	}
	key, err := issuerKey(s.dataDir)
	if err != nil {
		s.internal(w, err)
		return
	}
	code, expires, err := s.Store.newestLicence(r.Context(), id)
	if err != nil {
		s.internal(w, err)
		return
	}
	ans := hubapi.LicenceAnswer{Appliance: app.name, ID: id, Code: code, State: "none", Expires: expires,
		IssuerKey: string(signed.EncodePublic(key.Public().(ed25519.PublicKey)))}
	switch {
	case code == "":
	case time.Now().Before(expires):
		ans.State = "active"
	default:
		ans.State = "expired"
	}
	reply(w, ans)
}
