// Package testutil holds real servers for tests: an SMTP sink on loopback
// built on go-smtp that records what it receives and can be told to fail.
package testutil

import (
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailinspector/internal/smtpd"
)

// Received is one message as the sink got it.
type Received struct {
	From string
	To   []string
	Data []byte
	TLS  bool // arrived over STARTTLS
}

// Sink is an SMTP server on 127.0.0.1 that keeps every message.
type Sink struct {
	Addr string

	mu       sync.Mutex
	msgs     []Received
	rejectTo map[string]*smtp.SMTPError // recipient -> error at RCPT
	srv      *smtp.Server
	ln       net.Listener
	arrived  chan struct{}
	tls      *tls.Config
	idle     time.Duration
}

// NewSink starts a sink; it stops when the test ends.
func NewSink(t testing.TB) *Sink {
	t.Helper()
	return newSink(t, nil)
}

// NewTLSSink starts a sink that offers STARTTLS with a self-signed
// certificate.
func NewTLSSink(t testing.TB) *Sink {
	t.Helper()
	cfg, err := smtpd.LoadOrCreateCert("", "", t.TempDir(), "sink.test")
	if err != nil {
		t.Fatal(err)
	}
	return newSink(t, cfg)
}

func newSink(t testing.TB, cfg *tls.Config) *Sink {
	s := &Sink{rejectTo: map[string]*smtp.SMTPError{}, arrived: make(chan struct{}, 1), tls: cfg}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	s.start(ln)
	t.Cleanup(s.Stop)
	return s
}

func (s *Sink) start(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s, c: c}, nil }))
	srv.Domain = "sink.test"
	srv.TLSConfig = s.tls
	srv.ReadTimeout = s.idle
	srv.AllowInsecureAuth = true
	srv.ErrorLog = nopLogger{}
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go srv.Serve(ln)
}

// Stop closes the sink: connections to Addr are refused until Restart.
func (s *Sink) Stop() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv != nil {
		ln.Close() // Serve may not have registered it with srv yet
		srv.Close()
	}
}

// SetIdleTimeout makes the sink drop idle sessions with 421 after d, from
// the next Restart on.
func (s *Sink) SetIdleTimeout(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idle = d
}

// Restart listens again on the same address.
func (s *Sink) Restart(t testing.TB) {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", s.Addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("sink restart: %v", err)
	}
	s.start(ln)
}

// RejectRcpt makes RCPT TO for rcpt fail with the given code and text.
func (s *Sink) RejectRcpt(rcpt string, code int, enh smtp.EnhancedCode, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectTo[strings.ToLower(rcpt)] = &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: text}
}

// Messages returns a copy of what has arrived.
func (s *Sink) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// WaitFor waits until at least n messages arrived or the timeout passes.
func (s *Sink) WaitFor(t testing.TB, n int, timeout time.Duration) []Received {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.arrived:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("sink: %d messages after %s, want %d", len(s.Messages()), timeout, n)
		}
	}
}

type sinkSession struct {
	s    *Sink
	c    *smtp.Conn
	from string
	to   []string
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }
func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	err := ss.s.rejectTo[strings.ToLower(to)]
	ss.s.mu.Unlock()
	if err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	_, isTLS := ss.c.TLSConnectionState()
	ss.s.msgs = append(ss.s.msgs, Received{From: ss.from, To: ss.to, Data: b, TLS: isTLS})
	ss.s.mu.Unlock()
	select {
	case ss.s.arrived <- struct{}{}:
	default:
	}
	return nil
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}
