package timeofclick

import (
	"crypto/tls"
	"net"
	"sync"
)

// BothListener serves HTTPS and HTTP on one address: a connection whose
// first byte opens a TLS handshake record (22) is TLS with cfg, any other
// plain HTTP. Recipients' links may then be https:// or http:// to the
// same click.listen. The first byte is read by the connection's first
// Read (the HTTP server's, under its deadline), not by Accept: a client
// that says nothing stalls no other.
func BothListener(ln net.Listener, cfg *tls.Config) net.Listener {
	return &bothListener{Listener: ln, cfg: cfg}
}

type bothListener struct {
	net.Listener
	cfg *tls.Config
}

func (l *bothListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, cfg: l.cfg}, nil
}

// sniffConn becomes plain or TLS at its first Read.
type sniffConn struct {
	net.Conn
	cfg  *tls.Config
	once sync.Once
	c    net.Conn
	err  error
}

func (s *sniffConn) decide() {
	s.once.Do(func() {
		b := make([]byte, 1)
		if _, err := s.Conn.Read(b); err != nil {
			s.err = err
			return
		}
		first := &prefixConn{Conn: s.Conn, b: b}
		if b[0] == 22 && s.cfg != nil { // a TLS handshake record
			s.c = tls.Server(first, s.cfg)
			return
		}
		s.c = first
	})
}

func (s *sniffConn) Read(p []byte) (int, error) {
	if s.decide(); s.err != nil {
		return 0, s.err
	}
	return s.c.Read(p)
}

func (s *sniffConn) Write(p []byte) (int, error) {
	if s.decide(); s.err != nil {
		return 0, s.err
	}
	return s.c.Write(p)
}

// prefixConn gives back the bytes read ahead before the rest.
type prefixConn struct {
	net.Conn
	b []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.b) > 0 {
		n := copy(b, p.b)
		p.b = p.b[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}
