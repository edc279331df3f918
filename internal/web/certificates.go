package web

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"
	"time"

	"mailinspector/internal/cli"
)

// certUses are what a certificate can be for, and its settings keys.
var certUses = map[string][2]string{
	"web":  {"web.tls_cert", "web.tls_key"},
	"smtp": {"smtp.tls_cert", "smtp.tls_key"},
}

// certificatesPage is Administration > Certificates: which certificate
// the console and SMTP use, and a form to upload a new pair.
func (s *Server) certificatesPage(w http.ResponseWriter, r *http.Request, u *user) {
	s.showCertificates(w, r, u, "", "")
}

func (s *Server) showCertificates(w http.ResponseWriter, r *http.Request, u *user, notice, errText string) {
	v, err := s.exec(r, u, "show", "settings")
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	current := map[string]string{}
	for _, sv := range v.([]cli.SettingValue) {
		current[sv.Key] = sv.Value
	}
	uses := []struct{ Use, Cert string }{
		{"web", current["web.tls_cert"]}, {"smtp", current["smtp.tls_cert"]},
	}
	s.render(w, r, u, http.StatusOK, "certificates", "Certificates", struct {
		Uses          []struct{ Use, Cert string }
		Notice, Error string
	}{uses, notice, errText})
}

// certificatesPut checks that the pasted certificate and key are a pair
// (and says when the certificate ends), stores them as files the settings
// name (file put), and commits the keys: the daemon reloads with them. A
// pair that does not match changes nothing.
func (s *Server) certificatesPut(w http.ResponseWriter, r *http.Request, u *user) {
	use := r.PostForm.Get("use")
	keys, ok := certUses[use]
	if !ok {
		s.showCertificates(w, r, u, "", "Choose what the certificate is for.")
		return
	}
	certPEM, keyPEM := strings.TrimSpace(formText(r, "cert"))+"\n", strings.TrimSpace(formText(r, "key"))+"\n"
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		s.showCertificates(w, r, u, "", "Nothing changed: not a certificate and its key: "+err.Error())
		return
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		s.showCertificates(w, r, u, "", "Nothing changed: "+err.Error())
		return
	}
	if time.Now().After(leaf.NotAfter) {
		s.showCertificates(w, r, u, "", fmt.Sprintf("Nothing changed: the certificate ended on %s", leaf.NotAfter.UTC().Format(time.RFC3339)))
		return
	}
	stamp := time.Now().UTC().Format("20060102-150405")
	var paths [2]string
	names := [2]string{use + "-cert-" + stamp + ".pem", use + "-key-" + stamp + ".pem"}
	for i, data := range []string{certPEM, keyPEM} {
		if _, err := cli.ExecWords(cli.WithInput(cli.WithCaller(r.Context(), u.caller), data), s.cfg.Backend, []string{"file", "put", names[i]}); err != nil {
			s.showCertificates(w, r, u, "", "Nothing changed: "+err.Error())
			return
		}
	}
	// Where they are, as show files says.
	v, err := s.exec(r, u, "show", "files")
	if err != nil {
		s.showCertificates(w, r, u, "", "The files are stored, the settings not: "+err.Error())
		return
	}
	for _, f := range v.([]cli.FileInfo) {
		for i, n := range names {
			if f.Name == n {
				paths[i] = f.Path
			}
		}
	}
	if _, err := s.exec(r, u, "settings", "commit", keys[0], paths[0], keys[1], paths[1]); err != nil {
		s.showCertificates(w, r, u, "", "The files are stored, the settings not: "+err.Error())
		return
	}
	s.showCertificates(w, r, u, fmt.Sprintf("The %s certificate of %s (until %s) is committed; the daemon reloads with it.",
		use, leaf.Subject.CommonName, leaf.NotAfter.UTC().Format("2006-01-02")), "")
}
