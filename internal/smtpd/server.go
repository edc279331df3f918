// Package smtpd is the inbound SMTP server on go-smtp: connection control,
// relay control, limits, STARTTLS, smuggling protection, and the durable
// hand-over: a message is in the spool and in the database before the
// client hears 250.
package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"mailinspector/internal/spool"
	"mailinspector/internal/store"
)

// Config is what the server needs from the settings.
type Config struct {
	Hostname         string
	Listen           string
	MaxConnections   int
	MaxConnectionsIP int
	MaxRecipients    int
	MaxLineLength    int
	MaxMessageBytes  int64
	// MaxHeaderBytes bounds a message's header block: a larger one is
	// refused (552 5.3.4) rather than analysed blind.
	MaxHeaderBytes    int
	CommandTimeout    time.Duration
	DataTimeout       time.Duration
	TLS               *tls.Config // nil: no STARTTLS
	AllowNetworks     []netip.Prefix
	DenyNetworks      []netip.Prefix
	TrustedNetworks   []netip.Prefix
	AcceptedDomains   []string
	NormalizeBareLF   bool
	RequireHeloDomain bool
	ProxyNetworks     []netip.Prefix
	// CheckClient is Email Reputation at the edge: asked once per session
	// for an untrusted public client, answered before MAIL FROM is. nil:
	// not checked.
	CheckClient func(ctx context.Context, ip netip.Addr) *store.ERSCheck
	// ERSAction is what a listed client gets: reject (550 5.7.1), defer
	// (450 4.7.1) or tag (accepted; the analysis records the listing).
	ERSAction string
	// ERSWait bounds the wait for CheckClient (its own deadline is the
	// service's; this is the backstop).
	ERSWait time.Duration
	// DiskFull, when set and true, has new mail answered 452 4.3.1 at
	// MAIL FROM: the data disk is past its high-water mark, and what is
	// accepted must be kept.
	DiskFull func() bool
}

// maxHeader is MaxHeaderBytes, 256 KiB when unset.
func (c Config) maxHeader() int {
	if c.MaxHeaderBytes > 0 {
		return c.MaxHeaderBytes
	}
	return 256 * 1024
}

// Stats are counters for status and metrics.
type Stats struct {
	Accepted  atomic.Int64
	Rejected  atomic.Int64
	Denied    atomic.Int64
	OverLimit atomic.Int64
}

func (s *Stats) add(c *atomic.Int64) { c.Add(1) }

// Server receives mail.
type Server struct {
	cfg   Config
	spool *spool.Spool
	db    *store.DB
	next  Handoff
	log   *slog.Logger
	srv   *smtp.Server
	ln    net.Listener
	Stats Stats
}

// Handoff is how accepted messages reach the analysis.
type Handoff struct {
	// Accepted is called with the id of each message once it is durable
	// (to wake the analysis pool).
	Accepted func(id string)
	// Expect, when set, is given the message's row before the row is
	// committed, so that the analysis need not read back what it is about
	// to be handed; Forget (with it) undoes that when the commit fails.
	// dispatch.Handover says why before, not after the commit.
	Expect func(m *store.Message)
	Forget func(id string)
}

// New makes a server that hands accepted messages over through next.
func New(cfg Config, sp *spool.Spool, db *store.DB, next Handoff, log *slog.Logger) *Server {
	s := &Server{cfg: cfg, spool: sp, db: db, next: next, log: log}
	srv := smtp.NewServer(s)
	srv.Domain = cfg.Hostname
	srv.MaxRecipients = cfg.MaxRecipients
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxLineLength = cfg.MaxLineLength
	srv.ReadTimeout = cfg.CommandTimeout
	srv.WriteTimeout = cfg.CommandTimeout
	srv.EnableSMTPUTF8 = true
	srv.TLSConfig = cfg.TLS
	srv.ErrorLog = slogPrinter{log}
	s.srv = srv
	return s
}

// Listen opens the listening socket; Serve then accepts on it. Split so the
// daemon reports ready only once the port is really open.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("smtp listen %s: %w", s.cfg.Listen, err)
	}
	s.ln = &connControl{Listener: ln, hostname: s.cfg.Hostname, max: s.cfg.MaxConnections, maxIP: s.cfg.MaxConnectionsIP,
		allow: s.cfg.AllowNetworks, deny: s.cfg.DenyNetworks, proxy: s.cfg.ProxyNetworks, perIP: map[netip.Addr]int{}, stats: &s.Stats}
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections until Shutdown.
func (s *Server) Serve() error {
	err := s.srv.Serve(s.ln)
	if errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting and waits for sessions to end (until ctx ends,
// then closes them: a client cut off before 250 retries, nothing is lost).
func (s *Server) Shutdown(ctx context.Context) error {
	// go-smtp learns of the listener only once Serve's goroutine runs; a
	// Shutdown before that would leave Accept waiting forever.
	s.ln.Close()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	return err
}

// NewSession is called by go-smtp on EHLO/HELO.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	helo := c.Hostname()
	if s.cfg.RequireHeloDomain && !validHelo(helo) {
		return nil, &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "HELO/EHLO needs a domain or address literal"}
	}
	ip := remoteAddr(c.Conn())
	ss := &session{s: s, conn: c, ip: ip, trusted: inNets(ip, s.cfg.TrustedNetworks)}
	if s.cfg.CheckClient != nil && !ss.trusted {
		// Asked now, while the client says EHLO; awaited at MAIL FROM.
		ch := make(chan *store.ERSCheck, 1)
		ss.ersDone = ch
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), max(s.cfg.ERSWait, time.Second))
			defer cancel()
			ch <- s.cfg.CheckClient(ctx, ip)
		}()
	}
	return ss, nil
}

// ersResult waits for the session's Email Reputation check.
func (ss *session) ersResult() *store.ERSCheck {
	if ss.ersDone != nil {
		ss.ers = <-ss.ersDone
		ss.ersDone = nil
	}
	return ss.ers
}

func validHelo(h string) bool {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		_, err := netip.ParseAddr(strings.TrimPrefix(strings.Trim(h, "[]"), "IPv6:"))
		return err == nil
	}
	if !strings.Contains(h, ".") || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r > 127) {
				return false
			}
		}
	}
	return true
}

// acceptsDomain says whether mail for domain is ours to take from anyone.
func (s *Server) acceptsDomain(domain string) bool {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	for _, d := range s.cfg.AcceptedDomains {
		if strings.HasPrefix(d, ".") {
			if strings.HasSuffix(domain, d) {
				return true
			}
		} else if domain == d {
			return true
		}
	}
	return false
}

type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) { p.l.Warn(fmt.Sprintf(format, v...)) }
func (p slogPrinter) Println(v ...any)               { p.l.Warn(fmt.Sprint(v...)) }

var (
	errRelayDenied = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "relaying denied"}
	errBadAddress  = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "bad address syntax"}
	errRouting     = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "sender-specified routing (%, ! or @ in the local part) refused"}
	errTooBig      = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "message too big"}
	errDiskFull    = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "insufficient system storage, try again later"}
	errBareLFReply = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "bare LF or CR in message data refused (RFC 5321 2.3.8)"}
	errHeaderReply = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "message header block too large"}
	errNULReply    = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "NUL byte in message data refused"}
	errTemporary   = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "local error, message not accepted, try again later"}
	errTimeout     = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "data timeout"}
)

type session struct {
	s       *Server
	conn    *smtp.Conn
	ip      netip.Addr
	trusted bool
	ersDone chan *store.ERSCheck
	ers     *store.ERSCheck
	from    string
	utf8    bool
	rcpts   []string
}

func (ss *session) Reset() {
	ss.from, ss.rcpts, ss.utf8 = "", nil, false
}

func (ss *session) Logout() error { return nil }

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	ss.Reset()
	if ss.s.cfg.DiskFull != nil && ss.s.cfg.DiskFull() {
		// RFC 3463 4.3.1: mail system full. The sender keeps the message
		// and tries again; nothing accepted is put at risk.
		ss.s.Stats.add(&ss.s.Stats.Rejected)
		return errDiskFull
	}
	if from != "" && !validAddress(from) {
		return errBadAddress
	}
	if c := ss.ersResult(); c != nil && c.Outcome == "finding" && ss.s.cfg.ERSAction != "tag" {
		ss.s.Stats.add(&ss.s.Stats.Rejected)
		ss.s.log.Info("client refused by email reputation", "client", ss.ip.String(), "listed", c.Detail, "action", ss.s.cfg.ERSAction)
		msg := fmt.Sprintf("client [%s] refused: %s", ss.ip, strings.Join(c.Listed, "; "))
		if ss.s.cfg.ERSAction == "defer" {
			return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: msg}
		}
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: msg}
	}
	if opts != nil {
		if opts.Size > ss.s.cfg.MaxMessageBytes {
			ss.s.Stats.add(&ss.s.Stats.Rejected)
			return errTooBig
		}
		ss.utf8 = opts.UTF8
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if !validAddress(to) {
		return errBadAddress
	}
	at := strings.LastIndexByte(to, '@')
	local, domain := to[:at], to[at+1:]
	if !ss.trusted && strings.ContainsAny(local, "%!@") {
		// user%other@ours or host!user@ours: the downstream may route it
		// onwards (Postfix's allow_untrusted_routing=no).
		ss.s.Stats.add(&ss.s.Stats.Rejected)
		ss.s.log.Info("sender-specified routing refused", "client", ss.ip.String(), "rcpt", sanitizeHeader(to))
		return errRouting
	}
	if !ss.trusted && !ss.s.acceptsDomain(domain) {
		ss.s.Stats.add(&ss.s.Stats.Rejected)
		ss.s.log.Info("relay denied", "client", ss.ip.String(), "from", ss.from, "rcpt", to)
		return errRelayDenied
	}
	for _, r := range ss.rcpts {
		if strings.EqualFold(r, to) {
			return nil // duplicate recipient: one delivery
		}
	}
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

// validAddress accepts local@domain with a domain of at least one label
// and no control characters anywhere (a CR, LF or NUL in a quoted local
// part would reach the downstream's command line and the DSN's header).
// go-smtp has already parsed the path syntax (RFC 5321 4.1.2) and taken
// the quotes off a quoted local part: delivery puts them back.
func validAddress(a string) bool {
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 || len(a) > 512 {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] < 0x20 || a[i] == 0x7f {
			return false
		}
	}
	return !strings.ContainsAny(a[at+1:], "@ \t<>")
}

func (ss *session) Data(r io.Reader) error {
	s := ss.s
	now := time.Now()
	id := store.NewID(now)
	f, err := s.spool.Create()
	if err != nil {
		s.log.Error("spool create", "err", err)
		return errTemporary
	}
	tlsInfo := ""
	if st, ok := ss.conn.TLSConnectionState(); ok {
		tlsInfo = tls.VersionName(st.Version) + " " + tls.CipherSuiteName(st.CipherSuite)
	}
	if _, err := io.WriteString(f, ss.received(id, now, tlsInfo)); err != nil {
		f.Abort()
		s.log.Error("spool write", "id", id, "err", err)
		return errTemporary
	}
	var body io.Reader = &lineEndings{r: &idleDeadline{r: r, conn: ss.conn.Conn(), timeout: s.cfg.DataTimeout}, normalize: s.cfg.NormalizeBareLF}
	body = &lineCheck{r: body, max: s.cfg.MaxLineLength}
	body = newHeaderGuard(body, s.cfg.maxHeader())
	bp := dataBufs.Get().(*[]byte)
	_, err = io.CopyBuffer(f, body, *bp)
	dataBufs.Put(bp)
	if err != nil {
		f.Abort()
		s.Stats.add(&s.Stats.Rejected)
		var se *smtp.SMTPError
		var ne net.Error
		switch {
		case errors.As(err, &se): // 552 from go-smtp's size limit
			s.log.Info("message refused", "client", ss.ip.String(), "from", ss.from, "reason", se.Message)
			return se
		case errors.Is(err, errBareLF):
			s.log.Info("message refused: bare LF", "client", ss.ip.String(), "from", ss.from)
			return errBareLFReply
		case errors.Is(err, errLineTooLong):
			s.log.Info("message refused: line too long", "client", ss.ip.String(), "from", ss.from, "max", s.cfg.MaxLineLength)
			return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
				Message: fmt.Sprintf("message has a line longer than %d bytes (RFC 5321 4.5.3.1.6)", s.cfg.MaxLineLength)}
		case errors.Is(err, errNUL):
			s.log.Info("message refused: NUL byte", "client", ss.ip.String(), "from", ss.from)
			return errNULReply
		case errors.Is(err, errHeaderTooBig):
			s.log.Info("message refused: header block too large", "client", ss.ip.String(), "from", ss.from, "max", s.cfg.maxHeader())
			return errHeaderReply
		case errors.As(err, &ne) && ne.Timeout():
			return errTimeout
		default:
			s.log.Warn("message data", "client", ss.ip.String(), "err", err)
			return errTemporary
		}
	}
	// Durable before 250: file fsynced, renamed, directory fsynced, row
	// committed (synchronous=FULL).
	if err := f.Commit(id); err != nil {
		s.log.Error("spool commit", "id", id, "err", err)
		return errTemporary
	}
	m := &store.Message{ID: id, Received: now, Kind: store.KindInbound, From: ss.from, To: ss.rcpts,
		ClientIP: ss.ip.String(), Helo: ss.conn.Hostname(), TLS: tlsInfo, Size: f.Size(), State: store.StateReceived, ERS: ss.ers}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if s.next.Expect != nil {
		s.next.Expect(m)
	}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return store.InsertMessage(tx, m) }); err != nil {
		if s.next.Forget != nil {
			s.next.Forget(id)
		}
		s.spool.Remove(id)
		s.log.Error("store message", "id", id, "err", err)
		return errTemporary
	}
	s.Stats.add(&s.Stats.Accepted)
	s.log.Info("message accepted", "id", id, "client", ss.ip.String(), "from", ss.from, "rcpts", len(ss.rcpts), "size", f.Size())
	if s.next.Accepted != nil {
		s.next.Accepted(id)
	}
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "OK queued as " + id}
}

// received is our trace header (RFC 5321 4.4), with the protocol names of
// RFC 3848.
func (ss *session) received(id string, now time.Time, tlsInfo string) string {
	proto := "ESMTP"
	if ss.utf8 {
		proto = "UTF8SMTP"
	}
	if tlsInfo != "" {
		proto += "S"
	}
	helo := sanitizeHeader(ss.conn.Hostname())
	var b strings.Builder
	fmt.Fprintf(&b, "Received: from %s ([%s])\r\n\tby %s (Mail Inspector) with %s id %s", helo, ss.ip, ss.s.cfg.Hostname, proto, id)
	if tlsInfo != "" {
		fmt.Fprintf(&b, "\r\n\t(%s)", tlsInfo)
	}
	if len(ss.rcpts) == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", sanitizeHeader(ss.rcpts[0]))
	}
	fmt.Fprintf(&b, ";\r\n\t%s\r\n", now.Format(time.RFC1123Z))
	return b.String()
}

// sanitizeHeader keeps client-supplied text from breaking our header.
func sanitizeHeader(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '(' || r == ')' || r == ';' {
			return '_'
		}
		return r
	}, s)
}
