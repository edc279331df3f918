package settings

import (
	"time"
)

func init() {
	keys = append(keys,
		Key{"web.listen", "", "Address (host:port) of the web console, HTTPS only (the image sets 0.0.0.0:443 at first boot; make run 127.0.0.1:8443). Empty: no console.",
			func(s *Settings, v string) error {
				s.Web.Listen = v
				if v == "" {
					return nil
				}
				return hostPort(v)
			}},
		Key{"web.tls_cert", "", "PEM certificate file of the web console. Empty: a self-signed certificate made on first start (web-tls/ in the data directory).",
			func(s *Settings, v string) error { s.Web.TLSCert = v; return nil }},
		Key{"web.tls_key", "", "PEM private key file for web.tls_cert.",
			func(s *Settings, v string) error { s.Web.TLSKey = v; return nil }},
		Key{"web.session_idle", "30m", "A console session that does nothing this long ends; the next page asks to log in again.",
			dur(func(s *Settings) *time.Duration { return &s.Web.SessionIdle }, time.Minute)},
	)
}
