package message

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sync"
)

// multipartReader splits a multipart body into its parts (RFC 2046 5.1.1)
// as leniently as mail clients do: a delimiter is a line "--boundary",
// optional white space and a line end (CRLF or LF); "--boundary--" closes;
// the line end before a delimiter belongs to it. Each part is handed over
// raw, header and body, so that the walk reads its header leniently too
// (go-message's reader stops at a part header it cannot parse, and what
// followed was never seen). A body without a closing delimiter ends its
// last part at the end of input. Nested multiparts read through their
// parent's part, so a parent's delimiter ends them too, as in clients.
type multipartReader struct {
	br     *bufio.Reader
	dash   []byte // "--" + boundary
	nlDash []byte // "\n--" + boundary
	part   *partReader
	parts  int
	closed bool
	// preamble holds what came before the first delimiter, up to
	// maxPreamble bytes (for a body that turns out to have none).
	preamble    []byte
	maxPreamble int64
	preambleCut bool
	closedFirst bool // a closing delimiter came before any other
}

// errNoDelimiter: the body has no delimiter line at all.
var errNoDelimiter = errors.New("no delimiter line for the boundary")

// multipartBuf is the read buffer of one multipart level; a delimiter line
// must fit in it to be recognised (boundaries are at most 70 characters,
// RFC 2046 5.1.1).
const multipartBuf = 32 * 1024

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, multipartBuf) }}

func newMultipartReader(r io.Reader, boundary string, maxPreamble int64) *multipartReader {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	return &multipartReader{br: br, dash: []byte("--" + boundary), nlDash: []byte("\n--" + boundary), maxPreamble: maxPreamble}
}

// release returns the read buffer; the reader must not be used after.
func (m *multipartReader) release() {
	if m.br != nil {
		m.br.Reset(nil)
		readers.Put(m.br)
		m.br = nil
	}
}

// NextPart returns the next part, raw, from its first header line to the
// line end before the next delimiter. io.EOF: no more parts (closed, or the
// input ended); errNoDelimiter: the body had no delimiter line, or a
// closing one first (preamble then holds what came before).
func (m *multipartReader) NextPart() (io.Reader, error) {
	if m.part != nil {
		io.Copy(io.Discard, m.part)
		m.part = nil
	}
	if m.closed {
		return nil, io.EOF
	}
	if m.parts == 0 {
		if err := m.skipPreamble(); err != nil {
			return nil, err
		}
	} else {
		line, _, _, _ := readLine(m.br)
		switch m.delimiter(line, true) {
		case delimClose:
			m.closed = true
			return nil, io.EOF
		case delimOpen:
		default:
			return nil, io.EOF // the input ended inside the last part
		}
	}
	if m.closed {
		return nil, io.EOF
	}
	m.parts++
	m.part = &partReader{m: m, start: true}
	return m.part, nil
}

// skipPreamble reads up to and through the first delimiter line.
func (m *multipartReader) skipPreamble() error {
	lineStart := true
	for {
		line, err := m.br.ReadSlice('\n')
		if lineStart {
			switch m.delimiter(line, err != nil && err != bufio.ErrBufferFull) {
			case delimOpen:
				return nil
			case delimClose:
				// Closed before it opened: clients show the preamble,
				// or the parts after it, or both.
				m.closedFirst = true
				return errNoDelimiter
			}
		}
		if int64(len(m.preamble)+len(line)) <= m.maxPreamble {
			m.preamble = append(m.preamble, line...)
		} else {
			m.preambleCut = true
		}
		lineStart = err == nil
		if err != nil && err != bufio.ErrBufferFull {
			return errNoDelimiter
		}
	}
}

const (
	delimNone = iota
	delimOpen
	delimClose
	delimUndecided // the line goes on past what is buffered
)

// delimiter says whether line (from its start) is a delimiter line.
// atEOF: nothing follows what line holds.
func (m *multipartReader) delimiter(line []byte, atEOF bool) int {
	if len(line) < len(m.dash) {
		if !atEOF && bytes.HasPrefix(m.dash, line) {
			return delimUndecided
		}
		return delimNone
	}
	if !bytes.HasPrefix(line, m.dash) {
		return delimNone
	}
	rest := line[len(m.dash):]
	kind := delimOpen
	switch {
	case bytes.HasPrefix(rest, []byte("--")):
		kind, rest = delimClose, rest[2:]
	case len(rest) == 1 && rest[0] == '-' && !atEOF:
		return delimUndecided
	}
	j := 0
	for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t') {
		j++
	}
	switch {
	case j == len(rest) && atEOF:
		return kind
	case j == len(rest):
		return delimUndecided
	case rest[j] == '\n':
		return kind
	case rest[j] == '\r' && j+1 < len(rest) && rest[j+1] == '\n':
		return kind
	case rest[j] == '\r' && j+1 == len(rest):
		if atEOF {
			return kind
		}
		return delimUndecided
	}
	return delimNone
}

// partReader reads one part: up to (not including) the line end before
// the next delimiter line.
type partReader struct {
	m       *multipartReader
	start   bool // nothing scanned yet: the part may be empty
	n       int  // bytes at the front of m.br that belong to the part
	end     bool // the part ends after those n bytes
	discard int  // then this many bytes (the line end before the delimiter) are dropped
	done    bool
}

func (p *partReader) Read(b []byte) (int, error) {
	for p.n == 0 {
		if p.done {
			return 0, io.EOF
		}
		if p.end {
			p.m.br.Discard(p.discard)
			p.done = true
			return 0, io.EOF
		}
		if err := p.scan(); err != nil {
			p.done = true
			return 0, err
		}
	}
	if len(b) > p.n {
		b = b[:p.n]
	}
	n, err := p.m.br.Read(b)
	p.n -= n
	if err != nil && p.n > 0 {
		return n, err
	}
	return n, nil
}

// scan looks at what is buffered and decides how much of it is the part's.
func (p *partReader) scan() error {
	buf, err := p.m.br.Peek(multipartBuf)
	atEOF := err != nil && err != bufio.ErrBufferFull
	if atEOF && len(buf) == 0 {
		if err == io.EOF {
			return io.EOF // the input ended: the last part ends with it
		}
		return err
	}
	if p.start {
		p.start = false
		if k := p.m.delimiter(buf, atEOF); k == delimOpen || k == delimClose {
			p.end = true // an empty part (no header, no line end)
			return nil
		}
	}
	for off := 0; ; {
		i := bytes.Index(buf[off:], p.m.nlDash)
		if i < 0 {
			break
		}
		i += off
		end := i
		if end > 0 && buf[end-1] == '\r' {
			end--
		}
		switch p.m.delimiter(buf[i+1:], atEOF) {
		case delimOpen, delimClose:
			p.n, p.end, p.discard = end, true, i+1-end
			return nil
		case delimUndecided:
			if end > 0 {
				p.n = end // the rest is looked at again with more buffered
				return nil
			}
			// The undecided line fills the buffer: too long to be a
			// delimiter; it is data.
		}
		off = i + 1
	}
	if atEOF {
		// The input ends inside the part: as clients do, its last line
		// end goes, as it would before a delimiter.
		end := len(buf)
		if end > 0 && buf[end-1] == '\n' {
			end--
			if end > 0 && buf[end-1] == '\r' {
				end--
			}
		}
		p.n, p.end, p.discard = end, true, len(buf)-end
		return nil
	}
	// The last bytes may begin a delimiter (with its CR): keep them.
	p.n = len(buf) - len(p.m.nlDash) - 1
	return nil
}
