package delivery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"
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

	mu   sync.Mutex
	idle map[string][]*clientConn // kept connections by host:port
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
	notFound := func(err error) bool {
		var dnsErr *net.DNSError
		return errors.As(err, &dnsErr) && dnsErr.IsNotFound
	}
	mxs, err := res.LookupMX(ctx, domain)
	if err != nil && !notFound(err) {
		return nil, fmt.Errorf("MX lookup for %s: %w", domain, err)
	}
	if len(mxs) == 0 {
		// No MX: the domain's own address is the implicit MX (RFC 5321 5.1).
		if _, err := res.LookupHost(ctx, domain); notFound(err) {
			return nil, &permanentError{fmt.Sprintf("domain %s has no MX and no address", domain)}
		} else if err != nil {
			return nil, fmt.Errorf("address lookup for %s: %w", domain, err)
		}
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

// deliverTo runs one SMTP transaction on a kept or a new connection.
// decided is false when the host never got as far as answering recipients
// (connection or greeting failure, a temporary error at MAIL): then the
// next host may be tried.
func (t *SMTP) deliverTo(ctx context.Context, host string, env *Envelope) (res []Result, decided bool) {
	n := len(env.To)
	fresh := false
	for {
		c := (*clientConn)(nil)
		if !fresh {
			c = t.take(host)
		}
		if c == nil {
			var err error
			if c, err = dialSMTP(ctx, t.Resolver, host, t.Hostname, t.TLS, t.ConnectTimeout, t.CommandTimeout); err != nil {
				return allResults(n, err, false), false
			}
			fresh = true
		}
		res, decided, reusable, err := c.transaction(env, !fresh)
		if errors.Is(err, errStale) {
			c.conn.Close()
			fresh = true
			continue
		}
		if err != nil {
			c.conn.Close()
			return allResults(n, err, false), false
		}
		if reusable {
			t.put(c)
		} else {
			c.close()
		}
		return res, decided
	}
}

// Connections are kept after a transaction for the next message to the
// same host, like Postfix's connection cache, for a short while.
const (
	idleLimit      = 5 * time.Second
	maxIdlePerHost = 32
)

func (t *SMTP) take(host string) *clientConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	for l := t.idle[host]; len(l) > 0; l = t.idle[host] {
		c := l[len(l)-1]
		t.idle[host] = l[:len(l)-1]
		if time.Since(c.idleFrom) < idleLimit {
			return c
		}
		go c.close()
	}
	return nil
}

func (t *SMTP) put(c *clientConn) {
	c.idleFrom = time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.idle == nil {
		t.idle = map[string][]*clientConn{}
	}
	if len(t.idle[c.host]) >= maxIdlePerHost {
		go c.close()
		return
	}
	t.idle[c.host] = append(t.idle[c.host], c)
}

// Close ends every kept connection.
func (t *SMTP) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for h, l := range t.idle {
		for _, c := range l {
			c.close()
		}
		delete(t.idle, h)
	}
}
