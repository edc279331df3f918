package smtpd

import (
	"bytes"
	"errors"
	"io"

	"mailinspector/internal/headerline"
)

// errHeaderTooBig is returned by headerGuard past its limit.
var errHeaderTooBig = errors.New("header block too large")

// ownPrefix names the appliance's own header fields: whatever a sender put
// in that namespace is removed on receipt, so that no recipient (and no
// later stage) ever reads a forged X-MailInspector-Risk, -ERS or -Queue-ID.
var ownPrefix = []byte("x-mailinspector-")

// headerGuard reads a message's header block as it arrives: it removes
// every field in the appliance's own namespace (with its continuation
// lines) and refuses a header block larger than max bytes (it would be read
// blind). The header ends where mail clients end it: at an empty line, or
// at a line that is neither a field nor a continuation (an mbox "From "
// first line is read past, as the MIME walk does). After the header,
// reads go straight through.
type headerGuard struct {
	r        io.Reader
	max      int
	n        int    // header bytes so far
	line     []byte // a header line not yet ended
	out      []byte // filtered, not yet returned
	body     bool   // past the header
	dropping bool   // inside a field of our own namespace
	first    bool   // no line seen yet
	err      error
}

func newHeaderGuard(r io.Reader, max int) *headerGuard {
	return &headerGuard{r: r, max: max, first: true}
}

func (g *headerGuard) Read(p []byte) (int, error) {
	for len(g.out) == 0 {
		if g.body {
			return g.r.Read(p)
		}
		if g.err != nil {
			return 0, g.err
		}
		n, err := g.r.Read(p)
		g.filter(p[:n])
		if err != nil && g.err == nil {
			if err == io.EOF && !g.body {
				g.endLine() // a last line without a line end
			}
			g.err = err
		}
		if g.body && len(g.out) == 0 && g.err != nil {
			return 0, g.err
		}
	}
	n := copy(p, g.out)
	g.out = g.out[n:]
	return n, nil
}

// filter takes a chunk of input while in the header.
func (g *headerGuard) filter(b []byte) {
	for len(b) > 0 && !g.body && g.err == nil {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			g.line = append(g.line, b...)
			g.count(len(b))
			return
		}
		g.line = append(g.line, b[:i+1]...)
		g.count(i + 1)
		b = b[i+1:]
		g.endLine()
	}
	if g.body {
		g.out = append(g.out, b...)
	}
}

func (g *headerGuard) count(n int) {
	if g.n += n; g.n > g.max {
		g.err = errHeaderTooBig
	}
}

// endLine decides what one header line is.
func (g *headerGuard) endLine() {
	line := g.line
	g.line = g.line[:0]
	first := g.first
	g.first = false
	switch {
	case len(line) == 0:
		return
	case headerline.IsBlank(line):
		g.body = true
	case headerline.IsContinuation(line):
		if g.dropping {
			return
		}
	case first && bytes.HasPrefix(line, []byte("From ")), line[0] == ':':
		g.dropping = false
	case headerline.IsField(line):
		g.dropping = len(line) >= len(ownPrefix) && bytes.EqualFold(line[:len(ownPrefix)], ownPrefix)
		if g.dropping {
			return
		}
	default:
		g.body = true
	}
	g.out = append(g.out, line...)
}
