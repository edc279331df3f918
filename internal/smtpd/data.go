package smtpd

import (
	"errors"
	"io"
	"net"
	"time"
)

// errBareLF is returned by lineEndings in reject mode.
var errBareLF = errors.New("bare LF or CR in message data")

// lineEndings enforces CRLF line endings in message data (RFC 5321 2.3.8).
// go-smtp already ends DATA only on <CRLF>.<CRLF>; this closes the other half
// of SMTP smuggling: a bare LF (or CR) that a downstream MTA might read as a
// line end, so that "<LF>.<CR><LF>" hidden in one message becomes the end of
// data and the start of a second, forged one. In reject mode the message is
// refused; in normalize mode each bare LF or CR becomes CRLF.
type lineEndings struct {
	r         io.Reader
	normalize bool
	prevCR    bool   // the last byte seen was CR
	pending   []byte // normalized output not yet returned
	out       []byte // backing array of pending
	buf       []byte
	err       error
}

func (l *lineEndings) Read(p []byte) (int, error) {
	for len(l.pending) == 0 {
		if l.err != nil {
			return 0, l.err
		}
		if cap(l.buf) == 0 {
			l.buf = make([]byte, 32*1024)
		}
		n, err := l.r.Read(l.buf[:min(len(p), len(l.buf))])
		if cerr := l.check(l.buf[:n]); cerr != nil {
			return 0, cerr
		}
		if err == io.EOF && l.prevCR {
			// A bare CR just before the end of data.
			if !l.normalize {
				return 0, errBareLF
			}
			l.prevCR = false
			l.pending = append(l.pending, '\n')
		}
		l.err = err
	}
	n := copy(p, l.pending)
	l.pending = l.pending[n:]
	return n, nil
}

func (l *lineEndings) check(b []byte) error {
	out := l.out[:0]
	for _, c := range b {
		switch {
		case c == '\n' && !l.prevCR:
			if !l.normalize {
				return errBareLF
			}
			out = append(out, '\r', '\n')
		case c != '\n' && l.prevCR:
			if !l.normalize {
				return errBareLF
			}
			out = append(out, '\n', c)
		default:
			out = append(out, c)
		}
		l.prevCR = c == '\r'
	}
	// A CR at the end of this chunk is decided by the next byte.
	l.out, l.pending = out, out
	return nil
}

// idleDeadline extends the connection's read deadline before every read, so
// the data timeout is the idle time between reads, not the whole transfer.
type idleDeadline struct {
	r       io.Reader
	conn    net.Conn
	timeout time.Duration
}

func (d *idleDeadline) Read(p []byte) (int, error) {
	if d.timeout > 0 {
		d.conn.SetReadDeadline(time.Now().Add(d.timeout))
	}
	return d.r.Read(p)
}
