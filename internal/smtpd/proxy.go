package smtpd

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// proxyConn reads the PROXY protocol v1 line (HAProxy's proxy-protocol.txt,
// section 2.1) that a load balancer in smtp.proxy_networks puts before the
// SMTP conversation, and from then on reports the client address it gave.
// The line is read on the first Read, in the session's own goroutine, so a
// slow balancer holds up only its own connection.
type proxyConn struct {
	net.Conn
	once   sync.Once
	br     *bufio.Reader
	remote net.Addr
	err    error
	// admit judges the client by the address the line gives (the
	// balancer's for PROXY UNKNOWN): "" lets it on, else the reply that
	// refuses it is written and the connection ends.
	admit    func(netip.Addr) string
	mu       sync.Mutex // client and admitted: set in the session, read on close
	client   netip.Addr
	admitted bool // counted for client's address: release it on close
}

// counted is the client address the connection was counted for, if any.
func (c *proxyConn) counted() (netip.Addr, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.client, c.admitted
}

// maxProxyLine is the longest v1 line the specification allows.
const maxProxyLine = 107

func (c *proxyConn) Read(p []byte) (int, error) {
	c.once.Do(c.readHeader)
	if c.err != nil {
		return 0, c.err
	}
	return c.br.Read(p)
}

func (c *proxyConn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return c.Conn.RemoteAddr()
}

func (c *proxyConn) readHeader() {
	c.br = bufio.NewReader(c.Conn)
	c.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.Conn.SetReadDeadline(time.Time{})
	var line []byte
	for len(line) <= maxProxyLine {
		b, err := c.br.ReadByte()
		if err != nil {
			c.err = fmt.Errorf("proxy protocol: %w", err)
			return
		}
		line = append(line, b)
		if b == '\n' {
			break
		}
	}
	addr, err := parseProxyV1(string(line))
	if err != nil {
		c.err = err
		return
	}
	if addr.IsValid() {
		c.remote = net.TCPAddrFromAddrPort(addr)
	}
	if c.admit == nil {
		return
	}
	client := remoteAddr(c)
	if reply := c.admit(client); reply != "" {
		c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.Conn.Write([]byte(reply))
		c.err = errors.New("proxy protocol: client refused: " + strings.TrimSpace(reply))
		return
	}
	c.mu.Lock()
	c.client, c.admitted = client, true
	c.mu.Unlock()
}

// parseProxyV1 parses "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" or
// "PROXY UNKNOWN…\r\n" (then the address stays the balancer's).
func parseProxyV1(line string) (netip.AddrPort, error) {
	bad := errors.New("proxy protocol: malformed v1 header")
	if !strings.HasSuffix(line, "\r\n") || len(line) > maxProxyLine {
		return netip.AddrPort{}, bad
	}
	f := strings.Split(strings.TrimSuffix(line, "\r\n"), " ")
	if len(f) < 2 || f[0] != "PROXY" {
		return netip.AddrPort{}, bad
	}
	if f[1] == "UNKNOWN" {
		return netip.AddrPort{}, nil
	}
	if len(f) != 6 || (f[1] != "TCP4" && f[1] != "TCP6") {
		return netip.AddrPort{}, bad
	}
	src, err := netip.ParseAddr(f[2])
	if err != nil || src.Is4() != (f[1] == "TCP4") {
		return netip.AddrPort{}, bad
	}
	port, err := strconv.ParseUint(f[4], 10, 16)
	if err != nil {
		return netip.AddrPort{}, bad
	}
	return netip.AddrPortFrom(src, uint16(port)), nil
}
