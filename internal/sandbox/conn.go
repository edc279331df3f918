// Package sandbox is the virtual analyzer's orchestration: a connection to
// a libvirt host (local socket or a remote farm host), a pool of
// throw-away sandbox instances per guest image, and the queue of samples
// waiting for one.
//
// go-libvirt's calls take no context and can block forever (a frozen or
// overloaded libvirtd). Every call here runs under our own deadline; a call
// that does not return drops the connection (closing the socket fails
// every call still waiting on it) and the next call dials again. State
// comes from libvirt's lifecycle events, not from polling.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

// ErrStuck is a libvirt call that did not return within the deadline.
var ErrStuck = errors.New("libvirt call did not return")

// Event is a domain lifecycle event.
type Event struct {
	Domain string
	Type   libvirt.DomainEventType
	Detail int32
}

// Conn is the connection to one libvirt host.
type Conn struct {
	uri     *url.URL
	timeout time.Duration
	// OnEvent receives lifecycle events; OnDrop hears that the connection
	// was lost or dropped (instances on it are in an unknown state). Both
	// are set before the first call and must not block.
	OnEvent func(Event)
	OnDrop  func(error)

	mu      sync.Mutex
	lv      *libvirt.Libvirt
	raw     net.Conn
	stopEv  context.CancelFunc
	lastOK  time.Time
	lastErr string
	drops   int
}

// ParseURI checks a sandbox.libvirt setting: a libvirt URI
// (qemu:///system, qemu+ssh://host/system, qemu+tls://host/system,
// test+unix:///default?socket=PATH …) or the path of a unix socket, which
// means qemu:///system on that socket.
func ParseURI(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("no libvirt URI")
	}
	if s[0] == '/' {
		return &url.URL{Scheme: "qemu+unix", Path: "/system", RawQuery: url.Values{"socket": {s}}.Encode()}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("%q: a libvirt URI (qemu:///system, qemu+ssh://host/system …) or a socket path", s)
	}
	if _, err := dialerFor(u); err != nil {
		return nil, err
	}
	return u, nil
}

// dialerFor picks go-libvirt's dialer for the URI's transport.
func dialerFor(u *url.URL) (socket.Dialer, error) {
	transport := "unix"
	if _, t, ok := strings.Cut(u.Scheme, "+"); ok {
		transport = t
	} else if u.Host != "" {
		transport = "tls"
	}
	q := u.Query()
	switch transport {
	case "unix":
		var opts []dialers.LocalOption
		if s := q.Get("socket"); s != "" {
			opts = append(opts, dialers.WithSocket(s))
		}
		return dialers.NewLocal(opts...), nil
	case "tcp":
		var opts []dialers.RemoteOption
		if p := u.Port(); p != "" {
			opts = append(opts, dialers.UsePort(p))
		}
		return dialers.NewRemote(u.Hostname(), opts...), nil
	case "tls":
		var opts []dialers.TLSOption
		if p := u.Port(); p != "" {
			opts = append(opts, dialers.UseTLSPort(p))
		}
		if p := q.Get("pkipath"); p != "" {
			opts = append(opts, dialers.UsePKIPath(p))
		}
		return dialers.NewTLS(u.Hostname(), opts...), nil
	case "ssh":
		opts := []dialers.SSHOption{}
		if p := u.Port(); p != "" {
			opts = append(opts, dialers.UseSSHPort(p))
		}
		if n := u.User.Username(); n != "" {
			opts = append(opts, dialers.UseSSHUsername(n))
		}
		if k := q.Get("keyfile"); k != "" {
			opts = append(opts, dialers.UseKeyFile(k))
		}
		if k := q.Get("known_hosts"); k != "" {
			opts = append(opts, dialers.UseKnownHostsFile(k))
		}
		if s := q.Get("socket"); s != "" {
			opts = append(opts, dialers.WithRemoteSocket(s))
		}
		return dialers.NewSSH(u.Hostname(), opts...), nil
	}
	return nil, fmt.Errorf("libvirt transport %q: use unix, tcp, tls or ssh", transport)
}

// NewConn returns a connection that dials on first use. timeout bounds each
// libvirt call (and the dial).
func NewConn(u *url.URL, timeout time.Duration) *Conn {
	return &Conn{uri: u, timeout: timeout}
}

// recordingDialer keeps the socket it dialed so a stuck call can be cut by
// closing it.
type recordingDialer struct {
	inner socket.Dialer
	conn  chan net.Conn
}

func (d *recordingDialer) Dial() (net.Conn, error) {
	c, err := d.inner.Dial()
	if err == nil {
		d.conn <- c
	}
	return c, err
}

// ConnStatus is the connection's state for `show sandbox`.
type ConnStatus struct {
	URI       string    `json:"uri"`
	Connected bool      `json:"connected"`
	LastOK    time.Time `json:"last_ok,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	Drops     int       `json:"drops"`
}

// Status reports the connection.
func (c *Conn) Status() ConnStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return ConnStatus{URI: c.redacted(), Connected: c.lv != nil, LastOK: c.lastOK, LastError: c.lastErr, Drops: c.drops}
}

// Call runs f on the connection under the call deadline, dialing first if
// there is no connection. A call that does not return in time drops the
// connection and returns ErrStuck.
func (c *Conn) Call(ctx context.Context, what string, f func(*libvirt.Libvirt) error) error {
	return c.CallWithin(ctx, what, c.timeout, f)
}

// CallWithin is Call with a deadline of its own (shorter than the call
// timeout, for a call known to take milliseconds when it works).
func (c *Conn) CallWithin(ctx context.Context, what string, within time.Duration, f func(*libvirt.Libvirt) error) error {
	_, err := callWithin(ctx, c, what, within, func(l *libvirt.Libvirt) (struct{}, error) { return struct{}{}, f(l) })
	return err
}

// call is Call for a function with a result. The result travels back on
// a channel, never through a captured variable: a call that overruns its
// deadline still finishes (and writes) after we have given up on it.
func call[T any](ctx context.Context, c *Conn, what string, f func(*libvirt.Libvirt) (T, error)) (T, error) {
	return callWithin(ctx, c, what, c.timeout, f)
}

func callWithin[T any](ctx context.Context, c *Conn, what string, within time.Duration, f func(*libvirt.Libvirt) (T, error)) (T, error) {
	lv, err := c.get(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	return on(ctx, c, lv, what, within, f)
}

// on runs f on one given connection under the call deadline.
func on[T any](ctx context.Context, c *Conn, lv *libvirt.Libvirt, what string, within time.Duration, f func(*libvirt.Libvirt) (T, error)) (T, error) {
	var zero T
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f(lv)
		done <- result{v, err}
	}()
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case r := <-done:
		if r.err == nil {
			c.mu.Lock()
			c.lastOK = time.Now()
			c.mu.Unlock()
		} else if !lv.IsConnected() {
			c.drop(lv, fmt.Errorf("%s: connection lost: %w", what, r.err))
		}
		return r.v, r.err
	case <-t.C:
		err := fmt.Errorf("%s: %w within %s; connection dropped", what, ErrStuck, within)
		c.drop(lv, err)
		return zero, err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// get returns the live connection, dialing one under the deadline.
func (c *Conn) get(ctx context.Context) (*libvirt.Libvirt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lv != nil {
		return c.lv, nil
	}
	inner, err := dialerFor(c.uri)
	if err != nil {
		return nil, err
	}
	d := &recordingDialer{inner: inner, conn: make(chan net.Conn, 1)}
	lv := libvirt.NewWithDialer(d)
	done := make(chan error, 1)
	go func() { done <- lv.ConnectToURI(libvirt.RemoteURI(c.uri)) }()
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	var raw net.Conn
	select {
	case err = <-done:
	case <-t.C:
		err = fmt.Errorf("connect %s: %w within %s", c.redacted(), ErrStuck, c.timeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	select {
	case raw = <-d.conn:
	default:
	}
	if err != nil {
		if raw != nil {
			raw.Close()
		} else {
			// The dial may still succeed after we gave up: close what it
			// makes then, or the socket leaks.
			go func() {
				<-done
				select {
				case late := <-d.conn:
					late.Close()
				default:
				}
			}()
		}
		c.lastErr = err.Error()
		return nil, err
	}
	evCtx, stop := context.WithCancel(context.Background())
	c.lv, c.raw, c.stopEv = lv, raw, stop
	c.lastOK, c.lastErr = time.Now(), ""
	disc := lv.Disconnected()
	go func() {
		select {
		case <-disc:
			c.drop(lv, errors.New("connection to libvirtd lost"))
		case <-evCtx.Done():
		}
	}()
	// Subscribing is a call like any other: under the deadline, and without
	// c.mu (the drop it may cause takes it).
	go c.watchEvents(evCtx, lv)
	return lv, nil
}

// redacted is the URI without credentials, for messages.
func (c *Conn) redacted() string {
	u := *c.uri
	u.User = nil
	return u.String()
}

// watchEvents forwards lifecycle events until the connection goes. The
// channel is always drained: go-libvirt's stream blocks on a slow reader.
// It subscribes on its own connection, not on whatever connection is
// current by then (a redial in between would get a second subscription).
func (c *Conn) watchEvents(ctx context.Context, lv *libvirt.Libvirt) {
	ch, err := on(ctx, c, lv, "subscribe to lifecycle events", c.timeout, func(lv *libvirt.Libvirt) (<-chan libvirt.DomainEventLifecycleMsg, error) {
		return lv.LifecycleEvents(ctx)
	})
	if err != nil {
		c.drop(lv, fmt.Errorf("lifecycle events: %w", err))
		return
	}
	for m := range ch {
		if c.OnEvent != nil {
			c.OnEvent(Event{Domain: m.Dom.Name, Type: libvirt.DomainEventType(m.Event), Detail: m.Detail})
		}
	}
	// The stream ended while the connection lives: without events the pool
	// would be blind, so start over on a fresh connection.
	if ctx.Err() == nil {
		c.drop(lv, errors.New("lifecycle event stream ended"))
	}
}

// drop closes lv's socket if it is still the current connection.
func (c *Conn) drop(lv *libvirt.Libvirt, why error) {
	c.mu.Lock()
	if c.lv != lv || lv == nil {
		c.mu.Unlock()
		return
	}
	c.lv = nil
	if c.raw != nil {
		c.raw.Close()
	}
	c.stopEv()
	c.raw, c.stopEv = nil, nil
	c.lastErr = why.Error()
	c.drops++
	onDrop := c.OnDrop
	c.mu.Unlock()
	if onDrop != nil {
		onDrop(why)
	}
}

// Close drops the connection for good (the pool is stopping).
func (c *Conn) Close() {
	c.mu.Lock()
	lv := c.lv
	c.mu.Unlock()
	if lv != nil {
		c.drop(lv, errors.New("closed"))
	}
}
