package appliance

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"mailinspector/internal/smtpd"
	"mailinspector/internal/web"
)

// startWeb serves the web console on web.listen over HTTPS (a self-signed
// certificate in web-tls/ unless web.tls_cert names one), behind the data
// directory's front, which outlives reloads (web_front.go).
func (a *Appliance) startWeb() error {
	s := a.Settings
	tlsCfg, err := smtpd.LoadOrCreateCert(s.Web.TLSCert, s.Web.TLSKey, filepath.Join(a.DataDir, "web-tls"), s.Hostname)
	if err != nil {
		return fmt.Errorf("web console: %w", err)
	}
	console, err := web.New(web.Config{Backend: a, DataDir: a.DataDir, SessionIdle: s.Web.SessionIdle, Log: a.Log,
		Login: func(ctx context.Context, name, password string) (string, error) {
			acc, err := a.accounts.Authenticate(ctx, name, password)
			if err != nil {
				return "", err
			}
			return acc.Hash, nil
		},
		Account: func(ctx context.Context, name string) (web.Account, error) {
			acc, err := a.db.GetAccount(ctx, name)
			if err != nil {
				return web.Account{}, err
			}
			return web.Account{Role: acc.Role, Hash: acc.Hash, Locked: acc.LockedUntil.After(time.Now())}, nil
		}})
	if err != nil {
		return fmt.Errorf("web console: %w", err)
	}
	f, err := webFrontFor(a.DataDir, s.Web.Listen, tlsCfg, a.Log)
	if err != nil {
		return fmt.Errorf("web.listen: %w", err)
	}
	f.resume(console.Handler(), tlsCfg)
	a.web, a.webAddr = f, f.addr
	return nil
}

// WebAddr is where the console listens (nil: it does not).
func (a *Appliance) WebAddr() net.Addr { return a.webAddr }
