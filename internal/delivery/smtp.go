package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// SMTP delivers to a downstream MTA: a list of smarthosts tried in order,
// or the MX hosts of each recipient domain (RFC 5321 5.1).
type SMTP struct {
	Hostname       string
	Smarthosts     []string // host:port in priority order; empty: MX routing
	TLS            string   // opportunistic | required | none
	ConnectTimeout time.Duration
	CommandTimeout time.Duration
	Resolver       *net.Resolver
	Port           string // for MX routing; "25" unless a test says otherwise
}

func (t *SMTP) Deliver(ctx context.Context, env *Envelope) []Result {
	if len(t.Smarthosts) > 0 {
		return t.tryHosts(ctx, t.Smarthosts, env)
	}
	// MX routing: group recipients by domain, deliver each group.
	byDomain := map[string][]int{}
	for i, r := range env.To {
		_, d, _ := strings.Cut(r, "@")
		d = strings.ToLower(d)
		byDomain[d] = append(byDomain[d], i)
	}
	out := make([]Result, len(env.To))
	for d, idx := range byDomain {
		sub := *env
		sub.To = nil
		for _, i := range idx {
			sub.To = append(sub.To, env.To[i])
		}
		var res []Result
		hosts, err := t.mxHosts(ctx, d)
		if err != nil {
			var perm *permanentError
			res = allResults(len(idx), err, errors.As(err, &perm))
		} else {
			res = t.tryHosts(ctx, hosts, &sub)
		}
		for j, i := range idx {
			out[i] = res[j]
		}
	}
	return out
}

type permanentError struct{ msg string }

func (e *permanentError) Error() string { return e.msg }

// mxHosts returns host:port targets for a domain in preference order:
// its MX hosts, or the domain itself when it has none (RFC 5321 5.1).
// A null MX (RFC 7505) is a permanent failure.
func (t *SMTP) mxHosts(ctx context.Context, domain string) ([]string, error) {
	res := t.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	port := t.Port
	if port == "" {
		port = "25"
	}
	mxs, err := res.LookupMX(ctx, domain)
	var dnsErr *net.DNSError
	if err != nil && !(errors.As(err, &dnsErr) && dnsErr.IsNotFound && len(mxs) == 0) {
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return nil, &permanentError{fmt.Sprintf("domain %s does not exist", domain)}
		}
		return nil, fmt.Errorf("MX lookup for %s: %w", domain, err)
	}
	if len(mxs) == 0 {
		return []string{net.JoinHostPort(domain, port)}, nil
	}
	sort.SliceStable(mxs, func(i, j int) bool { return mxs[i].Pref < mxs[j].Pref })
	if len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "") {
		return nil, &permanentError{fmt.Sprintf("domain %s accepts no mail (null MX, RFC 7505)", domain)}
	}
	var out []string
	for _, mx := range mxs {
		out = append(out, net.JoinHostPort(strings.TrimSuffix(mx.Host, "."), port))
	}
	return out, nil
}

// tryHosts tries each host in turn until one gives an answer about the
// recipients; a host that cannot be reached, or fails before any recipient
// was answered, passes the message to the next one.
func (t *SMTP) tryHosts(ctx context.Context, hosts []string, env *Envelope) []Result {
	var last []Result
	for _, h := range hosts {
		res, decided := t.deliverTo(ctx, h, env)
		if decided {
			return res
		}
		last = res
		if env.Trace != nil && len(res) > 0 && res[0].Err != nil {
			env.Trace(res[0].Err.Error())
		}
	}
	return last
}

// deliverTo runs one SMTP transaction. decided is false when the host never
// got as far as answering recipients (connection or greeting failure, a
// temporary error at MAIL): then the next host may be tried.
func (t *SMTP) deliverTo(ctx context.Context, host string, env *Envelope) (res []Result, decided bool) {
	n := len(env.To)
	d := net.Dialer{Timeout: t.ConnectTimeout}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return allResults(n, fmt.Errorf("%s: connect: %w", host, err), false), false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(t.ConnectTimeout))
	hostname, _, _ := net.SplitHostPort(host)
	conn, err = t.startTLS(conn, hostname)
	if err != nil {
		return allResults(n, fmt.Errorf("%s: %w", host, err), false), false
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout = t.CommandTimeout
	c.SubmissionTimeout = t.CommandTimeout
	defer c.Close()
	if err := c.Hello(t.Hostname); err != nil {
		return allResults(n, fmt.Errorf("%s", replyText(host, err)), false), false
	}
	conn.SetDeadline(time.Time{})
	opts := &smtp.MailOptions{Size: env.Size}
	if ok, _ := c.Extension("8BITMIME"); ok {
		opts.Body = smtp.Body8BitMIME
	}
	if env.UTF8 {
		if ok, _ := c.Extension("SMTPUTF8"); !ok {
			return allResults(n, &permanentError{host + " does not support SMTPUTF8, which this message needs"}, true), true
		}
		opts.UTF8 = true
	}
	if err := c.Mail(env.From, opts); err != nil {
		perm := isPermanent(err)
		return allResults(n, errors.New(replyText(host, err)), perm), perm
	}
	res = make([]Result, n)
	accepted := 0
	for i, r := range env.To {
		if err := c.Rcpt(r, nil); err != nil {
			res[i] = Result{Err: errors.New(replyText(host, err)), Permanent: isPermanent(err)}
			continue
		}
		accepted++
	}
	if accepted == 0 {
		c.Reset()
		return res, true
	}
	fail := func(err error) []Result {
		for i := range res {
			if res[i].Err == nil {
				res[i] = Result{Err: errors.New(replyText(host, err)), Permanent: isPermanent(err)}
			}
		}
		return res
	}
	w, err := c.Data()
	if err != nil {
		return fail(err), true
	}
	body, err := env.Open()
	if err != nil {
		w.Close()
		return fail(fmt.Errorf("spool: %w", err)), true
	}
	defer body.Close()
	if _, err := io.Copy(w, body); err != nil {
		return fail(err), true
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return fail(err), true
	}
	if env.Trace != nil {
		env.Trace(fmt.Sprintf("%s said: 250 %s", host, resp.StatusText))
	}
	c.Quit()
	return res, true
}

// startTLS greets the server and upgrades the connection with STARTTLS
// (RFC 3207) when it is offered and delivery.tls allows it. go-smtp's client
// has no public STARTTLS on an open session, so this first part is ours;
// the returned connection replays a greeting so that go-smtp's client starts
// its session (EHLO again, as RFC 3207 4.2 requires after TLS) on it.
func (t *SMTP) startTLS(conn net.Conn, hostname string) (net.Conn, error) {
	tp := textproto.NewConn(conn)
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if err := tp.PrintfLine("EHLO %s", t.Hostname); err != nil {
		return nil, err
	}
	_, msg, err := tp.ReadResponse(250)
	if err != nil {
		return nil, fmt.Errorf("EHLO: %w", err)
	}
	offered := false
	for _, l := range strings.Split(msg, "\n")[1:] {
		if strings.EqualFold(strings.TrimSpace(l), "STARTTLS") {
			offered = true
		}
	}
	switch {
	case t.TLS == "none" || (!offered && t.TLS == "opportunistic"):
		return &replayConn{Conn: conn, r: tp.R, prefix: []byte("220 " + hostname + " ready\r\n")}, nil
	case !offered:
		return nil, errors.New("STARTTLS not offered and delivery.tls is required")
	}
	if err := tp.PrintfLine("STARTTLS"); err != nil {
		return nil, err
	}
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, fmt.Errorf("STARTTLS: %w", err)
	}
	cfg := &tls.Config{ServerName: hostname, MinVersion: tls.VersionTLS12}
	if t.TLS == "opportunistic" {
		// RFC 7435: encryption without authentication beats cleartext.
		cfg.InsecureSkipVerify = true
	}
	tc := tls.Client(conn, cfg)
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return &replayConn{Conn: tc, r: tc, prefix: []byte("220 " + hostname + " ready\r\n")}, nil
}

// replayConn yields a prefix, then whatever is left in r (bytes already
// buffered by our textproto reader, then the connection).
type replayConn struct {
	net.Conn
	r      io.Reader
	prefix []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.r.Read(p)
}
