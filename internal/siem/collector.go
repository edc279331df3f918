package siem

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Target is one entry of siem.servers: udp://, tcp:// or tls://host:port,
// with ?format=cef|leef|rfc5424-json (cef when not given).
type Target struct {
	Network string // udp, tcp or tls
	Addr    string // host:port
	Format  string
	Raw     string // the entry as written
}

// ParseTarget reads one siem.servers entry.
func ParseTarget(s string) (Target, error) {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil {
		return Target{}, fmt.Errorf("%q: %v", s, err)
	}
	t := Target{Network: strings.ToLower(u.Scheme), Addr: u.Host, Format: FormatCEF, Raw: s}
	switch t.Network {
	case "udp", "tcp", "tls":
	default:
		return Target{}, fmt.Errorf("%q: say udp://, tcp:// or tls://host:port", s)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return Target{}, fmt.Errorf("%q: a host and a port are needed (tls://siem.example.com:6514)", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return Target{}, fmt.Errorf("%q: bad port %q", s, port)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return Target{}, fmt.Errorf("%q: only scheme://host:port?format=… is understood", s)
	}
	for k, v := range u.Query() {
		if k != "format" || len(v) != 1 {
			return Target{}, fmt.Errorf("%q: unknown parameter %q (format=cef|leef|rfc5424-json)", s, k)
		}
		switch f := strings.ToLower(v[0]); f {
		case FormatCEF, FormatLEEF, FormatJSON:
			t.Format = f
		default:
			return Target{}, fmt.Errorf("%q: format %q: say cef, leef or rfc5424-json", s, v[0])
		}
	}
	return t, nil
}

// Name is the collector's name in metrics and show status: what it
// reaches and how.
func (t Target) Name() string { return t.Network + "://" + t.Addr + " " + t.Format }

// dir is the collector's queue directory: readable, and new when the
// format changes (records already queued are in the old one).
func (t Target) dir() string {
	sum := sha256.Sum256([]byte(t.Network + " " + t.Addr + " " + t.Format))
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, strings.ToLower(t.Network+"_"+t.Addr))
	return clean + "-" + hex.EncodeToString(sum[:4])
}

// Collector sends one queue's records to one collector, in order, until
// its context ends.
type Collector struct {
	Target
	Queue *Queue
	TLS   *tls.Config // for tls://
	// Settle is how long a record must have been out on a connection
	// that still lives before it counts as arrived. Syslog has no
	// acknowledgement: a collector that goes away loses what sat in its
	// socket, and a connection's end is seen only after the fact. Records
	// written within Settle of a connection's end are sent again on the
	// next one; a collector may see a record twice (its eventId says so),
	// never miss one.
	Settle                 time.Duration
	MinBackoff, MaxBackoff time.Duration
	Log                    *slog.Logger

	sent      atomic.Uint64
	connected atomic.Bool
	mu        sync.Mutex
	lastErr   string
}

// CollectorStats is what show status and the metrics say of a collector.
type CollectorStats struct {
	Name      string `json:"name"`
	Connected bool   `json:"connected"`
	Sent      uint64 `json:"sent"`
	Dropped   uint64 `json:"dropped"`
	Pending   int64  `json:"pending_bytes"`
	LastError string `json:"last_error,omitempty"`
}

// Stats reports the collector's state.
func (c *Collector) Stats() CollectorStats {
	q := c.Queue.Stats()
	c.mu.Lock()
	defer c.mu.Unlock()
	return CollectorStats{Name: c.Name(), Connected: c.connected.Load(), Sent: c.sent.Load(), Dropped: q.Dropped,
		Pending: q.Pending, LastError: c.lastErr}
}

func (c *Collector) setErr(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.lastErr = ""
		return
	}
	c.lastErr = time.Now().UTC().Format(time.RFC3339) + " " + err.Error()
}

// Run connects, sends, and reconnects with a doubling back-off after a
// failure, until ctx ends.
func (c *Collector) Run(ctx context.Context) {
	backoff := c.MinBackoff
	for ctx.Err() == nil {
		conn, err := c.dial(ctx)
		if err == nil {
			c.connected.Store(true)
			c.setErr(nil)
			began := time.Now()
			err = c.pump(ctx, conn)
			c.connected.Store(false)
			conn.Close()
			if time.Since(began) > c.MaxBackoff {
				backoff = c.MinBackoff
			}
		}
		if ctx.Err() != nil {
			return
		}
		c.setErr(err)
		c.Log.Warn("siem: collector unreachable; events wait in its queue", "collector", c.Name(), "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, c.MaxBackoff)
	}
}

func (c *Collector) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	switch c.Network {
	case "tls":
		td := &tls.Dialer{NetDialer: d, Config: c.TLS}
		return td.DialContext(ctx, "tcp", c.Addr)
	default:
		return d.DialContext(ctx, c.Network, c.Addr)
	}
}

// frame is a record as it goes on the wire: alone in a UDP datagram,
// octet-counted on a stream (RFC 6587 3.4.1, RFC 5425 4.3).
func (c *Collector) frame(rec []byte) []byte {
	if c.Network == "udp" {
		return rec
	}
	return append([]byte(strconv.Itoa(len(rec))+" "), rec...)
}

// pump sends records until the connection fails or ctx ends.
func (c *Collector) pump(ctx context.Context, conn net.Conn) error {
	// A collector never writes: a read ends only when the connection
	// does (FIN, RST, or for UDP the ICMP of a closed port).
	dead := make(chan error, 1)
	go func() {
		buf := make([]byte, 512)
		for {
			if _, err := conn.Read(buf); err != nil {
				dead <- fmt.Errorf("connection ended: %w", err)
				return
			}
		}
	}()
	type flight struct {
		end Pos
		at  time.Time
	}
	var inflight []flight
	pos := c.Queue.Cursor()
	tick := time.NewTicker(c.Settle / 4)
	defer tick.Stop()
	for {
		now := time.Now()
		k := 0
		for k < len(inflight) && now.Sub(inflight[k].at) >= c.Settle {
			k++
		}
		if k > 0 {
			if err := c.Queue.Commit(inflight[k-1].end); err != nil {
				return err
			}
			inflight = inflight[k:]
		}
		select {
		case err := <-dead:
			return err
		case <-ctx.Done():
			// Stopping with the connection alive: what was written
			// reaches the collector before the close does.
			if len(inflight) > 0 {
				c.Queue.Commit(inflight[len(inflight)-1].end)
			}
			return nil
		default:
		}
		rec, next, ok, err := c.Queue.Read(pos)
		if err != nil {
			return err
		}
		if !ok {
			select {
			case err := <-dead:
				return err
			case <-ctx.Done():
			case <-c.Queue.Notify():
			case <-tick.C:
			}
			continue
		}
		conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := conn.Write(c.frame(rec)); err != nil {
			return err
		}
		c.sent.Add(1)
		inflight = append(inflight, flight{next, time.Now()})
		pos = next
	}
}
