package smtpd

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mailinspector/internal/spool"
	"mailinspector/internal/store"
)

type harness struct {
	srv   *Server
	db    *store.DB
	spool *spool.Spool
	addr  string
	mu    sync.Mutex
	ids   []string
	// handed is what Expect was given and whether the row was already
	// committed then ("id committed=false").
	handed []string
}

func defaultConfig() Config {
	return Config{
		Hostname: "mi.test", Listen: "127.0.0.1:0", MaxConnections: 50, MaxConnectionsIP: 50, MaxRecipients: 5,
		MaxLineLength: 2000, MaxMessageBytes: 10000, CommandTimeout: 5 * time.Second, DataTimeout: 5 * time.Second,
		TrustedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	}
}

func newHarness(t testing.TB, mod func(*Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(filepath.Join(dir, "spool"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	h := &harness{db: db, spool: sp}
	h.srv = New(cfg, sp, db, Handoff{Accepted: func(id string) {
		h.mu.Lock()
		h.ids = append(h.ids, id)
		h.mu.Unlock()
	}, Expect: func(m *store.Message) {
		_, err := db.GetMessage(context.Background(), m.ID)
		h.mu.Lock()
		h.handed = append(h.handed, fmt.Sprintf("%s committed=%v", m.ID, err == nil))
		h.mu.Unlock()
	}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := h.srv.Listen(); err != nil {
		t.Fatal(err)
	}
	h.addr = h.srv.Addr().String()
	go h.srv.Serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		h.srv.Shutdown(ctx)
		cancel()
		db.Close()
	})
	return h
}

func (h *harness) accepted() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ids...)
}

// rawConn is a client that speaks bytes, so tests can send exactly the
// sequences a library would refuse to produce.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

// reply reads one (possibly multi-line) reply and returns it joined.
func (r *rawConn) reply() string {
	r.t.Helper()
	var lines []string
	for {
		l, err := r.r.ReadString('\n')
		if err != nil {
			if len(lines) == 0 {
				return "EOF"
			}
			break
		}
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			break
		}
	}
	return strings.Join(lines, "\n")
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatal(err)
	}
}

// cmd sends a line and returns the reply.
func (r *rawConn) cmd(line string) string {
	r.send(line + "\r\n")
	return r.reply()
}

func (r *rawConn) expect(line, prefix string) string {
	r.t.Helper()
	got := r.cmd(line)
	if !strings.HasPrefix(got, prefix) {
		r.t.Fatalf("%s: got %q, want %s…", line, got, prefix)
	}
	return got
}

func (r *rawConn) greet() {
	r.t.Helper()
	if g := r.reply(); !strings.HasPrefix(g, "220 mi.test ESMTP") {
		r.t.Fatalf("greeting %q", g)
	}
	r.expect("EHLO client.test", "250")
}

func TestEHLOAdvertisesTheExtensions(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.TLS, _ = LoadOrCreateCert("", "", t.TempDir(), "mi.test")
	})
	r := dialRaw(t, h.addr)
	r.reply()
	ehlo := r.cmd("EHLO client.test")
	for _, ext := range []string{"PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE 10000", "STARTTLS", "ENHANCEDSTATUSCODES"} {
		if !strings.Contains(ehlo, ext) {
			t.Errorf("EHLO reply lacks %s:\n%s", ext, ehlo)
		}
	}
}

func TestSTARTTLSWithTheSelfSignedCertificate(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, func(c *Config) {
		var err error
		c.TLS, err = LoadOrCreateCert("", "", dir, "mi.test")
		if err != nil {
			t.Fatal(err)
		}
	})
	for _, f := range []string{"cert.pem", "key.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("self-signed %s not written: %v", f, err)
		}
	}
	r := dialRaw(t, h.addr)
	r.greet()
	r.expect("STARTTLS", "220")
	tc := tls.Client(r.c, &tls.Config{InsecureSkipVerify: true, ServerName: "mi.test"})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if cn := tc.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "mi.test" {
		t.Fatalf("certificate CN %q", cn)
	}
	r.c, r.r = tc, bufio.NewReader(tc)
	r.expect("EHLO client.test", "250")
	r.expect("MAIL FROM:<a@example.org>", "250")
	r.expect("RCPT TO:<b@example.com>", "250")
	r.expect("DATA", "354")
	r.expect("Subject: tls\r\n\r\nhi\r\n.", "250 2.0.0 OK queued as ")
	m, err := h.db.GetMessage(context.Background(), h.accepted()[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.TLS, "TLS 1.3") {
		t.Fatalf("message TLS %q", m.TLS)
	}
	f, _ := h.spool.Open(m.ID)
	b, _ := io.ReadAll(f)
	f.Close()
	if !strings.Contains(string(b), "with ESMTPS id") {
		t.Fatalf("Received header does not say ESMTPS: %q", b[:200])
	}
}

func TestOversizeMessageGets552AndNothingIsKept(t *testing.T) {
	h := newHarness(t, nil)
	r := dialRaw(t, h.addr)
	r.greet()
	// Declared too big: refused at MAIL.
	r.expect("MAIL FROM:<a@example.org> SIZE=20000", "552 5.3.4")
	// Undeclared, then too big: refused after the data, session goes on.
	r.expect("MAIL FROM:<a@example.org>", "250")
	r.expect("RCPT TO:<b@example.com>", "250")
	r.expect("DATA", "354")
	r.expect("Subject: big\r\n\r\n"+strings.Repeat(strings.Repeat("x", 98)+"\r\n", 150)+".", "552 5.3.4")
	r.expect("NOOP", "250")
	if ids := h.accepted(); len(ids) != 0 {
		t.Fatalf("accepted %v", ids)
	}
	if ids, _ := h.spool.IDs(); len(ids) != 0 {
		t.Fatalf("spool keeps %v", ids)
	}
}

func TestRelayControl(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.TrustedNetworks = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} // 127.0.0.1 is not trusted here
		c.AcceptedDomains = []string{"example.com", ".corp.example"}
	})
	r := dialRaw(t, h.addr)
	r.greet()
	r.expect("MAIL FROM:<a@example.org>", "250")
	r.expect("RCPT TO:<b@example.com>", "250")
	r.expect("RCPT TO:<b@EXAMPLE.COM>", "250")
	r.expect("RCPT TO:<c@mail.corp.example>", "250")
	r.expect("RCPT TO:<victim@elsewhere.example>", "550 5.7.1")
	r.expect("RCPT TO:<victim@example.com.evil.example>", "550 5.7.1")
	r.expect("RCPT TO:<x@corp.example>", "550 5.7.1")

	h2 := newHarness(t, nil) // 127.0.0.1 trusted: may relay anywhere
	r2 := dialRaw(t, h2.addr)
	r2.greet()
	r2.expect("MAIL FROM:<a@example.org>", "250")
	r2.expect("RCPT TO:<anyone@elsewhere.example>", "250")
}

func TestRecipientLimitGets452(t *testing.T) {
	h := newHarness(t, nil)
	r := dialRaw(t, h.addr)
	r.greet()
	r.expect("MAIL FROM:<a@example.org>", "250")
	for i := 0; i < 5; i++ {
		r.expect("RCPT TO:<b"+string(rune('0'+i))+"@example.com>", "250")
	}
	r.expect("RCPT TO:<b9@example.com>", "452 4.5.3")
}

func TestLongCommandLineIsRefused(t *testing.T) {
	h := newHarness(t, nil)
	r := dialRaw(t, h.addr)
	r.greet()
	r.expect("MAIL FROM:<"+strings.Repeat("a", 3000)+"@example.org>", "500 5.4.0")
}

func TestDenyAndAllowNetworksRefuseAtConnect(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DenyNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	r := dialRaw(t, h.addr)
	if g := r.reply(); !strings.HasPrefix(g, "554 5.7.1") {
		t.Fatalf("denied client got %q", g)
	}
	h2 := newHarness(t, func(c *Config) { c.AllowNetworks = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} })
	r2 := dialRaw(t, h2.addr)
	if g := r2.reply(); !strings.HasPrefix(g, "554 5.7.1") {
		t.Fatalf("client outside the allow list got %q", g)
	}
	h3 := newHarness(t, func(c *Config) { c.AllowNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	dialRaw(t, h3.addr).greet()
}

func TestConnectionLimitsOverallAndPerIP(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxConnectionsIP = 2 })
	a, b := dialRaw(t, h.addr), dialRaw(t, h.addr)
	a.greet()
	b.greet()
	c := dialRaw(t, h.addr)
	if g := c.reply(); !strings.HasPrefix(g, "421 4.7.0") {
		t.Fatalf("third connection from one IP got %q", g)
	}
	a.expect("QUIT", "221")
	// The slot frees when a session ends.
	deadline := time.Now().Add(5 * time.Second)
	for {
		d := dialRaw(t, h.addr)
		g := d.reply()
		if strings.HasPrefix(g, "220") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not freed: %q", g)
		}
		time.Sleep(20 * time.Millisecond)
	}

	h2 := newHarness(t, func(c *Config) { c.MaxConnections = 1 })
	dialRaw(t, h2.addr).greet()
	if g := dialRaw(t, h2.addr).reply(); !strings.HasPrefix(g, "421 4.7.0") {
		t.Fatalf("over the overall limit got %q", g)
	}
}

func TestIdleClientIsDisconnected(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.CommandTimeout = 300 * time.Millisecond; c.DataTimeout = 300 * time.Millisecond })
	r := dialRaw(t, h.addr)
	r.greet()
	if g := r.reply(); !strings.HasPrefix(g, "421 4.4.2") {
		t.Fatalf("idle client got %q", g)
	}
	// Stalling inside DATA ends the session too, and nothing is accepted.
	r2 := dialRaw(t, h.addr)
	r2.greet()
	r2.expect("MAIL FROM:<a@example.org>", "250")
	r2.expect("RCPT TO:<b@example.com>", "250")
	r2.expect("DATA", "354")
	r2.send("Subject: stall\r\n\r\npart of a body")
	if g := r2.reply(); !strings.HasPrefix(g, "421") {
		t.Fatalf("stalled DATA got %q", g)
	}
	if len(h.accepted()) != 0 {
		t.Fatal("a stalled message was accepted")
	}
}

func TestRequireHeloDomain(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RequireHeloDomain = true })
	r := dialRaw(t, h.addr)
	r.reply()
	r.expect("EHLO notadomain", "501 5.5.2")
	r.expect("EHLO [127.0.0.1]", "250")
	r2 := dialRaw(t, h.addr)
	r2.reply()
	r2.expect("EHLO mail.example.org", "250")
}

func TestAcceptedMessageIsDurableBefore250(t *testing.T) {
	h := newHarness(t, nil)
	r := dialRaw(t, h.addr)
	r.greet()
	r.expect("MAIL FROM:<a@example.org>", "250")
	r.expect("RCPT TO:<b@example.com>", "250")
	r.expect("RCPT TO:<B@example.com>", "250") // the same mailbox once
	r.expect("DATA", "354")
	got := r.expect("Subject: durable\r\n\r\nbody\r\n.", "250 2.0.0 OK queued as ")
	id := strings.TrimPrefix(got, "250 2.0.0 OK queued as ")
	// By the time the client reads 250, the row and the file exist.
	m, err := h.db.GetMessage(context.Background(), id)
	if err != nil {
		t.Fatalf("no row for %s: %v", id, err)
	}
	if m.State != store.StateReceived || m.From != "a@example.org" || len(m.To) != 1 || m.ClientIP != "127.0.0.1" || m.Helo != "client.test" {
		t.Fatalf("row %+v", m)
	}
	data, err := os.ReadFile(h.spool.Path(id))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(data), "\r\nSubject: durable\r\n\r\nbody\r\n") || int64(len(data)) != m.Size {
		t.Fatalf("spool file %q (size %d, row %d)", data, len(data), m.Size)
	}
}

// The analysis is handed the row before it is committed (it may find the
// committed row by itself before Accepted arrives) and told Accepted only
// after; a message refused after its data (too big) is handed to nobody.
func TestRowIsHandedOverBeforeItsCommitAndAcceptedAfter(t *testing.T) {
	h := newHarness(t, nil)
	r := dialRaw(t, h.addr)
	r.greet()
	for _, m := range []struct{ body, reply string }{
		{"Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 98)+"\r\n", 150) + ".", "552 5.3.4"},
		{"Subject: hi\r\n\r\nbody\r\n.", "250 2.0.0"},
	} {
		r.expect("MAIL FROM:<a@example.org>", "250")
		r.expect("RCPT TO:<b@example.com>", "250")
		r.expect("DATA", "354")
		r.expect(m.body, m.reply)
	}
	ids := h.accepted()
	if len(ids) != 1 {
		t.Fatalf("accepted %v", ids)
	}
	if m, err := h.db.GetMessage(context.Background(), ids[0]); err != nil || m.From != "a@example.org" {
		t.Fatalf("row %+v, %v", m, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if want := ids[0] + " committed=false"; len(h.handed) != 1 || h.handed[0] != want {
		t.Fatalf("handed %q, want [%s]", h.handed, want)
	}
}
