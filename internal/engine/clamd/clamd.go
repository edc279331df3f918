// Package clamd is a client for ClamAV's clamd: INSTREAM scans over a unix
// socket or TCP, each call under the caller's deadline. The protocol is
// clamd's own (clamd(8), "INSTREAM"): a z-prefixed, NUL-terminated command,
// then chunks each preceded by its length as a 4-byte big-endian number,
// ended by a zero length; one NUL-terminated reply line.
package clamd

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// Client talks to one clamd.
type Client struct {
	network, addr string
}

// New parses "unix:/path/clamd.ctl" or "host:port".
func New(spec string) (*Client, error) {
	if p, ok := strings.CutPrefix(spec, "unix:"); ok {
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("clamd %q: want unix:/absolute/path", spec)
		}
		return &Client{network: "unix", addr: p}, nil
	}
	if _, _, err := net.SplitHostPort(spec); err != nil {
		return nil, fmt.Errorf("clamd %q: want unix:/path or host:port: %w", spec, err)
	}
	return &Client{network: "tcp", addr: spec}, nil
}

// Result of one scan.
type Result struct {
	Infected  bool
	Signature string // e.g. "Eicar-Test-Signature"
}

// ErrSizeLimit: clamd refused the stream as longer than its
// StreamMaxLength, so it was not scanned.
var ErrSizeLimit = errors.New("clamd: stream longer than its StreamMaxLength")

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, c.network, c.addr)
	if err != nil {
		return nil, fmt.Errorf("clamd: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// Close the connection when ctx ends, so a clamd that accepts and never
	// answers cannot hold the caller past its deadline.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	return &ctxConn{Conn: conn, stop: stop}, nil
}

type ctxConn struct {
	net.Conn
	stop func() bool
}

func (c *ctxConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

func (c *Client) command(ctx context.Context, cmd string) (string, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "z"+cmd+"\x00"); err != nil {
		return "", fmt.Errorf("clamd %s: %w", cmd, err)
	}
	return readReply(conn, cmd)
}

func readReply(conn net.Conn, cmd string) (string, error) {
	reply, err := bufio.NewReaderSize(io.LimitReader(conn, 64*1024), 4096).ReadString(0)
	if err != nil {
		return "", fmt.Errorf("clamd %s: reading the reply: %w", cmd, err)
	}
	return strings.TrimSuffix(reply, "\x00"), nil
}

// Ping checks that clamd answers.
func (c *Client) Ping(ctx context.Context) error {
	r, err := c.command(ctx, "PING")
	if err != nil {
		return err
	}
	if r != "PONG" {
		return fmt.Errorf("clamd PING: unexpected reply %q", r)
	}
	return nil
}

// Version is clamd's version and signature database line.
func (c *Client) Version(ctx context.Context) (string, error) {
	return c.command(ctx, "VERSION")
}

// Reload has clamd read its database directory again. clamd answers
// RELOADING at once and loads in the background, scanning with the old
// databases until the new ones are in (a caller that needs to know scans
// a canary until it is found).
func (c *Client) Reload(ctx context.Context) error {
	r, err := c.command(ctx, "RELOAD")
	if err != nil {
		return err
	}
	if r != "RELOADING" {
		return fmt.Errorf("clamd RELOAD: unexpected reply %q", r)
	}
	return nil
}

// chunkSize is the most data one INSTREAM chunk carries.
const chunkSize = 64 * 1024

// chunkBufs holds write buffers of the command, one chunk with its length
// and the terminator: a message's parts are scanned one after another and
// each would otherwise allocate (and zero) its own.
var chunkBufs = sync.Pool{New: func() any { b := make([]byte, len("zINSTREAM\x00")+4+chunkSize+4); return &b }}

// Scan streams r to clamd and returns its verdict. Each chunk goes out in
// one write with its length before it; the command rides with the first
// and the zero-length terminator with the last.
func (c *Client) Scan(ctx context.Context, r io.Reader) (Result, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return Result{}, err
	}
	defer conn.Close()
	bp := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(bp)
	buf := *bp
	off := copy(buf, "zINSTREAM\x00")
	for {
		n, rerr := io.ReadFull(r, buf[off+4:off+4+chunkSize])
		end := rerr == io.EOF || rerr == io.ErrUnexpectedEOF
		if rerr != nil && !end {
			return Result{}, fmt.Errorf("reading what to scan: %w", rerr)
		}
		if n > 0 {
			binary.BigEndian.PutUint32(buf[off:], uint32(n))
			off += 4 + n
		}
		if end {
			binary.BigEndian.PutUint32(buf[off:], 0)
			off += 4
		}
		if _, err := conn.Write(buf[:off]); err != nil {
			// clamd closes early when the stream passes its limit: its
			// reply says why.
			return c.scanReply(conn, fmt.Errorf("clamd INSTREAM: %w", err))
		}
		if end {
			return c.scanReply(conn, nil)
		}
		off = 0
	}
}

func (c *Client) scanReply(conn net.Conn, writeErr error) (Result, error) {
	reply, err := readReply(conn, "INSTREAM")
	if err != nil {
		if writeErr != nil {
			return Result{}, writeErr
		}
		return Result{}, err
	}
	return parseReply(reply)
}

// parseReply reads "stream: OK", "stream: NAME FOUND" or "… ERROR".
func parseReply(reply string) (Result, error) {
	body := strings.TrimPrefix(reply, "stream: ")
	switch {
	case body == "OK":
		return Result{}, nil
	case strings.HasSuffix(body, " FOUND"):
		return Result{Infected: true, Signature: strings.TrimSuffix(body, " FOUND")}, nil
	case strings.Contains(reply, "size limit exceeded"):
		return Result{}, ErrSizeLimit
	}
	return Result{}, fmt.Errorf("clamd INSTREAM: %s", reply)
}
