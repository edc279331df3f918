// Package diagnose holds the command line's tests of the appliance's
// surroundings: test smtp (can a downstream be reached, what does it
// offer, does STARTTLS work) and test dns (what the configured resolver
// answers). They report; they change nothing.
package diagnose

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"mailinspector/internal/services"

	"github.com/emersion/go-smtp"
)

// SMTP connects to addr (host or host:port, 25 by default), reads the
// greeting, says EHLO as hostname, lists the extensions, tries STARTTLS
// when offered (and says whether the certificate is valid for the host)
// and says QUIT. Each step is a line of the report; the first failure
// ends it.
func SMTP(ctx context.Context, addr, hostname string, roots *x509.CertPool) []string {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "25")
	}
	host, _, _ := net.SplitHostPort(addr)
	var out []string
	say := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	start := time.Now()
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		say("connect %s: FAILED: %v", addr, err)
		return out
	}
	say("connect %s (%s): ok in %s", addr, conn.RemoteAddr(), time.Since(start).Round(time.Millisecond))
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	conn.SetDeadline(deadline)
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello(hostname); err != nil {
		say("greeting and EHLO %s: FAILED: %v", hostname, err)
		return out
	}
	say("greeting and EHLO %s: ok", hostname)
	var exts []string
	for _, e := range []string{"STARTTLS", "PIPELINING", "8BITMIME", "SMTPUTF8", "CHUNKING", "DSN", "ENHANCEDSTATUSCODES", "SIZE", "REQUIRETLS", "AUTH"} {
		if ok, param := c.Extension(e); ok {
			if param != "" {
				e += " " + param
			}
			exts = append(exts, e)
		}
	}
	sort.Strings(exts)
	say("extensions: %s", strings.Join(exts, ", "))
	tlsOffered, _ := c.Extension("STARTTLS")
	if err := c.Quit(); err != nil {
		say("QUIT: %v", err)
	}
	if !tlsOffered {
		say("STARTTLS: not offered (delivery.tls=required would defer)")
		return out
	}
	// go-smtp starts TLS on a new session: a second connection.
	conn2, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		say("STARTTLS: connect again: FAILED: %v", err)
		return out
	}
	conn2.SetDeadline(deadline)
	cfg := &tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12}
	c2, err := smtp.NewClientStartTLS(conn2, cfg)
	if err == nil {
		// The handshake runs with the first exchange after STARTTLS.
		if err = c2.Noop(); err != nil {
			c2.Close()
		}
	}
	var verr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &verr):
		say("STARTTLS: the certificate does not verify for %s: %v (opportunistic TLS still works; delivery.tls=required would defer)", host, verr.Err)
		conn2.Close()
		return out
	case err != nil:
		say("STARTTLS: FAILED: %v", err)
		conn2.Close()
		return out
	}
	defer c2.Close()
	st, _ := c2.TLSConnectionState()
	say("STARTTLS: ok, %s, %s, certificate valid for %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), host)
	c2.Quit()
	return out
}

// DNS asks resolver (host:port; "": the system's) for name's records of
// type qtype: A (with AAAA), MX, TXT, PTR (name is an address), CNAME, NS.
func DNS(ctx context.Context, resolver, name, qtype string) ([]string, error) {
	r := services.NewResolver(resolver)
	via := "the system's resolver"
	if resolver != "" {
		via = resolver
	}
	start := time.Now()
	var out []string
	var err error
	switch strings.ToUpper(qtype) {
	case "", "A", "AAAA":
		var addrs []string
		addrs, err = r.LookupHost(ctx, name)
		out = addrs
	case "MX":
		var mxs []*net.MX
		mxs, err = r.LookupMX(ctx, name)
		for _, m := range mxs {
			out = append(out, fmt.Sprintf("%d %s", m.Pref, m.Host))
		}
	case "TXT":
		out, err = r.LookupTXT(ctx, name)
	case "PTR":
		out, err = r.LookupAddr(ctx, name)
	case "CNAME":
		var c string
		c, err = r.LookupCNAME(ctx, name)
		out = []string{c}
	case "NS":
		var nss []*net.NS
		nss, err = r.LookupNS(ctx, name)
		for _, n := range nss {
			out = append(out, n.Host)
		}
	default:
		return nil, fmt.Errorf("TYPE is A, AAAA, MX, TXT, PTR, CNAME or NS")
	}
	took := time.Since(start).Round(time.Millisecond)
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return []string{fmt.Sprintf("%s %s: no such name or no such record (asked %s, %s)", name, strings.ToUpper(qtype), via, took)}, nil
	case err != nil:
		return nil, fmt.Errorf("%s %s via %s: %w", name, strings.ToUpper(qtype), via, err)
	}
	return append([]string{fmt.Sprintf("%s %s via %s in %s:", name, strings.ToUpper(qtype), via, took)}, out...), nil
}
