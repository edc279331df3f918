package smtpd

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
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
	err       error
}

// Read passes clean data through without copying; only a chunk with a bare
// line end takes the slow path (refused, or normalized byte by byte).
func (l *lineEndings) Read(p []byte) (int, error) {
	if len(l.pending) > 0 {
		n := copy(p, l.pending)
		l.pending = l.pending[n:]
		return n, nil
	}
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	chunk := p[:n]
	if clean(chunk, l.prevCR) {
		if n > 0 {
			l.prevCR = chunk[n-1] == '\r'
		}
		if err == io.EOF && l.prevCR {
			// A bare CR just before the end of data.
			if !l.normalize {
				return 0, errBareLF
			}
			l.prevCR = false
			l.pending = append(l.out[:0], '\n')
			l.err = err
			return n, nil
		}
		return n, err
	}
	if !l.normalize {
		return 0, errBareLF
	}
	l.check(chunk)
	if err == io.EOF && l.prevCR {
		l.prevCR = false
		l.pending = append(l.pending, '\n')
	}
	l.err = err
	m := copy(p, l.pending)
	l.pending = l.pending[m:]
	return m, nil
}

// clean reports whether b holds no bare CR or LF, given whether the byte
// before it was a CR. A CR at the end of b is decided by the next chunk.
// bytes.IndexByte and bytes.Count keep this at memory speed.
func clean(b []byte, prevCR bool) bool {
	if len(b) == 0 {
		return true
	}
	if prevCR && b[0] != '\n' {
		return false
	}
	lfs := 0
	for off := 0; ; {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			break
		}
		i += off
		if (i == 0 && !prevCR) || (i > 0 && b[i-1] != '\r') {
			return false
		}
		lfs++
		off = i + 1
	}
	paired := lfs
	if prevCR {
		paired-- // the first LF pairs with the previous chunk's CR
	}
	if b[len(b)-1] == '\r' {
		paired++
	}
	return bytes.Count(b, []byte{'\r'}) == paired
}

// check normalizes b into pending, one byte at a time.
func (l *lineEndings) check(b []byte) {
	out := l.out[:0]
	for _, c := range b {
		switch {
		case c == '\n' && !l.prevCR:
			out = append(out, '\r', '\n')
		case c != '\n' && l.prevCR:
			out = append(out, '\n', c)
		default:
			out = append(out, c)
		}
		l.prevCR = c == '\r'
	}
	// A CR at the end of this chunk is decided by the next byte.
	l.out, l.pending = out, out
}

// Errors of lineCheck.
var (
	errLineTooLong = errors.New("a line of message data is too long")
	errNUL         = errors.New("NUL byte in message data")
)

// lineCheck refuses message data with a line longer than max bytes (RFC
// 5321 4.5.3.1.6 allows 1000; smtp.max_line_length gives slack) or a NUL
// byte (RFC 5322 2.3 allows none; downstreams and clients cut a message
// there differently). It applies to DATA and BDAT alike: go-smtp reads a
// BDAT chunk whole, whatever its lines.
type lineCheck struct {
	r    io.Reader
	max  int
	line int // bytes of the current line so far
}

func (l *lineCheck) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	b := p[:n]
	if bytes.IndexByte(b, 0) >= 0 {
		return 0, errNUL
	}
	if l.max <= 0 {
		return n, err
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			l.line += len(b)
			break
		}
		if l.line+i+1 > l.max {
			return 0, errLineTooLong
		}
		l.line = 0
		b = b[i+1:]
	}
	if l.line > l.max {
		return 0, errLineTooLong
	}
	return n, err
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

// dataBufs holds the buffers message data is copied to the spool through.
// go-smtp's reader fills a buffer whole before it returns, so 256 KB means
// one write system call for most messages where io.Copy's 32 KB made one
// per 32 KB (three or four for the harness's 100 KB average).
var dataBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}
