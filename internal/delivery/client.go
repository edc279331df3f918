package delivery

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"time"
)

// The outbound SMTP client. go-smtp's client writes message data through
// net/textproto's byte-at-a-time dot writer and has no STARTTLS on an open
// session nor pipelining; on the relay hot path those cost more CPU than the
// rest of a delivery together, so the client side is ours: EHLO, STARTTLS
// (RFC 3207), PIPELINING (RFC 2920), SIZE, 8BITMIME, SMTPUTF8, line-wise dot
// stuffing, and connections kept for the next message to the same host.

// replyError is a downstream's non-success reply.
type replyError struct {
	Host string
	Code int
	Msg  string
}

func (e *replyError) Error() string {
	return fmt.Sprintf("%s said: %d %s", e.Host, e.Code, strings.ReplaceAll(e.Msg, "\n", " "))
}

func (e *replyError) permanent() bool { return e.Code >= 500 }

// clientConn is an open SMTP session after EHLO (and STARTTLS).
type clientConn struct {
	host     string
	conn     net.Conn
	r        *textproto.Reader
	w        *bufio.Writer
	ext      map[string]string
	timeout  time.Duration
	idleFrom time.Time
}

// dialSMTP connects, reads the greeting, says EHLO (HELO if EHLO is
// refused), and upgrades with STARTTLS as tlsMode asks.
func dialSMTP(ctx context.Context, res *net.Resolver, host, helo, tlsMode string, connectTimeout, cmdTimeout time.Duration) (*clientConn, error) {
	d := net.Dialer{Timeout: connectTimeout, Resolver: res}
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("%s: connect: %w", host, err)
	}
	c := &clientConn{host: host, timeout: cmdTimeout}
	c.attach(nc)
	nc.SetDeadline(time.Now().Add(connectTimeout))
	if _, err := c.reply(220); err != nil {
		nc.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if err := c.hello(helo); err != nil {
		nc.Close()
		return nil, err
	}
	_, offered := c.ext["STARTTLS"]
	switch {
	case tlsMode == "none" || (!offered && tlsMode == "opportunistic"):
		return c, nil
	case !offered:
		nc.Close()
		return nil, fmt.Errorf("%s: STARTTLS not offered and delivery.tls is required", host)
	}
	if err := c.cmd(220, "STARTTLS"); err != nil {
		nc.Close()
		return nil, err
	}
	name, _, _ := net.SplitHostPort(host)
	cfg := &tls.Config{ServerName: name, MinVersion: tls.VersionTLS12}
	if tlsMode == "opportunistic" {
		// RFC 7435: encryption without authentication beats cleartext.
		cfg.InsecureSkipVerify = true
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("%s: TLS handshake: %w", host, err)
	}
	c.attach(tc)
	// RFC 3207 4.2: forget what was learnt before TLS, say EHLO again.
	if err := c.hello(helo); err != nil {
		tc.Close()
		return nil, err
	}
	return c, nil
}

func (c *clientConn) attach(nc net.Conn) {
	c.conn = nc
	c.r = textproto.NewReader(bufio.NewReaderSize(nc, 4096))
	c.w = bufio.NewWriterSize(nc, 64*1024)
}

func (c *clientConn) hello(name string) error {
	msg, err := c.send(250, "EHLO "+name)
	if err != nil {
		var re *replyError
		if !errors.As(err, &re) {
			return err
		}
		_, err = c.send(250, "HELO "+name)
		c.ext = map[string]string{}
		return err
	}
	c.ext = map[string]string{}
	for _, l := range strings.Split(msg, "\n")[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(l), " ")
		c.ext[strings.ToUpper(k)] = v
	}
	return nil
}

// reply reads one reply and checks its code class against want (the first
// digit) or exact code.
func (c *clientConn) reply(want int) (string, error) {
	code, msg, err := c.r.ReadResponse(0)
	if err != nil {
		return "", fmt.Errorf("%s: %w", c.host, err)
	}
	if code != want && !(want < 10 && code/100 == want) {
		return msg, &replyError{Host: c.host, Code: code, Msg: msg}
	}
	return msg, nil
}

func (c *clientConn) send(want int, line string) (string, error) {
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	c.w.WriteString(line + "\r\n")
	if err := c.w.Flush(); err != nil {
		return "", fmt.Errorf("%s: %w", c.host, err)
	}
	return c.reply(want)
}

func (c *clientConn) cmd(want int, line string) error {
	_, err := c.send(want, line)
	return err
}

func (c *clientConn) close() {
	c.conn.SetDeadline(time.Now().Add(time.Second))
	c.w.WriteString("QUIT\r\n")
	c.w.Flush()
	c.conn.Close()
}

// errStale marks a failure on a kept connection before the server answered
// anything: the server closed it while idle, so a fresh one may be tried.
var errStale = errors.New("kept connection was closed by the server")

// transaction sends one message. It returns one result per recipient;
// decided is false when no recipient was answered (MAIL refused
// temporarily, or the connection broke), so another host may be tried.
// reusable says whether the session can carry another message.
func (c *clientConn) transaction(env *Envelope, reused bool) (res []Result, decided, reusable bool, err error) {
	n := len(env.To)
	mail := "MAIL FROM:<" + PathAddress(env.From) + ">"
	if _, ok := c.ext["SIZE"]; ok && env.Size > 0 {
		mail += fmt.Sprintf(" SIZE=%d", env.Size)
	}
	if _, ok := c.ext["8BITMIME"]; ok {
		mail += " BODY=8BITMIME"
	}
	if env.UTF8 {
		if _, ok := c.ext["SMTPUTF8"]; !ok {
			return allResults(n, &replyError{Host: c.host, Code: 553, Msg: "5.6.7 downstream lacks SMTPUTF8, which this message needs"}, true), true, true, nil
		}
		mail += " SMTPUTF8"
	}
	_, pipelining := c.ext["PIPELINING"]
	c.conn.SetDeadline(time.Now().Add(c.timeout))

	// RFC 2920: MAIL, every RCPT and DATA go out in one write when the
	// server pipelines; otherwise each command waits for its reply.
	var mailErr, dataErr error
	c.w.WriteString(mail + "\r\n")
	if !pipelining {
		if mailErr = c.flushReply(2); mailErr != nil {
			return c.mailFailed(n, mailErr, reused)
		}
	}
	res = make([]Result, n)
	for i, r := range env.To {
		c.w.WriteString("RCPT TO:<" + PathAddress(r) + ">\r\n")
		if !pipelining {
			if res[i], err = rcptResult(c.flushReply(2)); err != nil {
				return nil, false, false, c.ioErr(err, reused)
			}
		}
	}
	if pipelining {
		c.w.WriteString("DATA\r\n")
		if err := c.w.Flush(); err != nil {
			return nil, false, false, c.ioErr(err, reused)
		}
		if _, mailErr = c.reply(2); mailErr != nil && (!isReply(mailErr) || reused && replyCode(mailErr) == 421) {
			// Broken, or a kept session the server timed out (its 421,
			// RFC 5321 3.8, is read as the answer to MAIL).
			return nil, false, false, c.ioErr(mailErr, reused)
		}
		for i := range env.To {
			if res[i], err = rcptResult(c.replyErr(2)); err != nil {
				return nil, false, false, c.ioErr(err, reused)
			}
		}
		dataErr = c.replyErr(354)
		if mailErr != nil {
			return c.mailFailed(n, mailErr, reused)
		}
	}
	accepted := 0
	for i := range res {
		if res[i].Err == nil {
			accepted++
		}
	}
	if !pipelining {
		if accepted == 0 {
			return res, true, c.cmd(2, "RSET") == nil, nil
		}
		c.w.WriteString("DATA\r\n")
		dataErr = c.flushReply(354)
	}
	switch {
	case dataErr != nil && !isReply(dataErr):
		return nil, false, false, dataErr
	case dataErr != nil && accepted == 0:
		return res, true, c.cmd(2, "RSET") == nil, nil
	case dataErr != nil:
		return failAccepted(res, dataErr), true, c.cmd(2, "RSET") == nil, nil
	case accepted == 0:
		// 354 with no recipient (RFC 2920 3.1 asks servers not to): end
		// the empty data at once.
		c.w.WriteString(".\r\n")
		c.flushReply(0)
		return res, true, true, nil
	}
	if err := c.writeData(env); err != nil {
		return nil, false, false, err
	}
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	msg, err := c.reply(250)
	if err != nil {
		// A reply refuses the data; no reply at all leaves it unknown
		// whether the message was taken: retrying may deliver twice, which
		// is better than losing it.
		return failAccepted(res, err), true, isReply(err), nil
	}
	if env.Trace != nil {
		env.Trace(fmt.Sprintf("%s said: 250 %s", c.host, strings.ReplaceAll(msg, "\n", " ")))
	}
	return res, true, true, nil
}

func replyCode(err error) int {
	var re *replyError
	if errors.As(err, &re) {
		return re.Code
	}
	return 0
}

func isReply(err error) bool {
	var re *replyError
	return errors.As(err, &re)
}

// flushReply sends what is buffered and reads one reply.
func (c *clientConn) flushReply(want int) error {
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("%s: %w", c.host, err)
	}
	_, err := c.reply(want)
	return err
}

func (c *clientConn) replyErr(want int) error {
	_, err := c.reply(want)
	return err
}

func (c *clientConn) ioErr(err error, reused bool) error {
	if reused {
		return errStale
	}
	return fmt.Errorf("%s: %w", c.host, err)
}

// mailFailed turns a MAIL FROM refusal into results: a 5xx decides for
// every recipient; a 4xx or a broken connection lets the next host try.
func (c *clientConn) mailFailed(n int, err error, reused bool) ([]Result, bool, bool, error) {
	var re *replyError
	if !errors.As(err, &re) || (reused && re.Code == 421) {
		// A kept session the server timed out: see above.
		return nil, false, false, c.ioErr(err, reused)
	}
	return allResults(n, re, re.permanent()), re.permanent(), c.cmd(2, "RSET") == nil, nil
}

// rcptResult turns a RCPT reply into a result; a broken connection is
// returned as an error.
func rcptResult(err error) (Result, error) {
	if err == nil {
		return Result{}, nil
	}
	var re *replyError
	if !errors.As(err, &re) {
		return Result{}, err
	}
	return Result{Err: re, Permanent: re.permanent()}, nil
}

func failAccepted(res []Result, err error) []Result {
	var re *replyError
	perm := errors.As(err, &re) && re.permanent()
	for i := range res {
		if res[i].Err == nil {
			res[i] = Result{Err: err, Permanent: perm}
		}
	}
	return res
}

// writeData streams the spool file with dot stuffing (RFC 5321 4.5.2) and
// the end-of-data line. Spool files have CRLF line ends only (smtpd
// refuses or normalizes bare ones), so stuffing works line by line.
func (c *clientConn) writeData(env *Envelope) error {
	f, err := env.Open()
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 64*1024)
	bol := true
	for {
		n, rerr := f.Read(buf)
		c.conn.SetDeadline(time.Now().Add(c.timeout))
		b := buf[:n]
		for len(b) > 0 {
			if bol && b[0] == '.' {
				c.w.WriteByte('.')
			}
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				c.w.Write(b)
				bol = false
				break
			}
			c.w.Write(b[:i+1])
			b = b[i+1:]
			bol = true
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("spool: %w", rerr)
		}
	}
	if !bol {
		c.w.WriteString("\r\n")
	}
	c.w.WriteString(".\r\n")
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("%s: %w", c.host, err)
	}
	return nil
}
