// Package message takes a message apart as a stream (go-message): headers,
// text and HTML bodies, attachments with their true type and hashes,
// attached messages walked as messages, and the URLs found in the text and
// the HTML. Malformed input is walked as far as it goes and says what was
// wrong; limits keep time and memory bounded whatever the input.
package message

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // charsets beyond UTF-8 and Latin-1 (RFC 2047, RFC 2046 4.1.2)
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Limits bound the walk.
type Limits struct {
	MaxDepth       int   // nesting of multiparts and attached messages
	MaxParts       int   // leaf parts in all
	MaxHeaderBytes int64 // one header block
	MaxTextBytes   int64 // text or HTML read for URLs, per part
}

// DefaultLimits suit mail up to the default size limit.
var DefaultLimits = Limits{MaxDepth: 20, MaxParts: 1000, MaxHeaderBytes: 256 * 1024, MaxTextBytes: 4 << 20}

// Part is one leaf of the MIME tree.
type Part struct {
	Path         string // "1.2.1": where in the tree (RFC 3501 section numbers)
	Depth        int
	ContentType  string // declared, lower case
	Disposition  string
	Filename     string // decoded (RFC 2231, RFC 2047); never used as a path
	DeclaredType string // what the file name's extension or the Content-Type claims
	TrueType     string // from the first bytes
	Size         int64  // decoded bytes
	SHA1         string
	SHA256       string
	Attachment   bool // a file rather than a body text
	InMessage    int  // how many message/rfc822 levels in
}

// URL is a link found in the message.
type URL struct {
	URL   string // normalised
	Raw   string // as written
	Where string // part path and what held it (text, a href, img src, …)
}

// Result is what the walk found.
type Result struct {
	Parts     []Part
	URLs      []URL
	Malformed []string // what was wrong, in order found

	texts     []bodyText // the text and HTML bodies, for PasswordHints
	hintsOnce sync.Once
	hints     []string
}

type bodyText struct {
	b    []byte
	html bool
}

// PasswordHints are words the text offers as a password ("password:
// x7Gh2"), for encrypted attachments. They are looked for on the first
// call only: most messages have no encrypted archive, and the search (the
// HTML's visible text, then every cue) was a twentieth of the daemon's CPU
// when the walk did it for every message.
func (r *Result) PasswordHints() []string {
	r.hintsOnce.Do(func() {
		for _, t := range r.texts {
			r.hints = appendHints(r.hints, t.b, t.html)
		}
		r.texts = nil
	})
	return r.hints
}

// Visit is called for every leaf part with its decoded content; content
// must be read (or not) before Visit returns. It may be nil.
type Visit func(p *Part, content io.Reader) error

// Walk reads a whole message from r. It returns an error only when visit
// does; anything wrong with the message itself is in Result.Malformed.
func Walk(r io.Reader, lim Limits, visit Visit) (*Result, error) {
	w := &walker{lim: lim, visit: visit, res: &Result{}}
	err := w.message(r, "", 0, 0)
	return w.res, err
}

type walker struct {
	lim    Limits
	visit  Visit
	res    *Result
	leaves int
}

type visitError struct{ err error }

func (e visitError) Error() string { return e.err.Error() }
func (e visitError) Unwrap() error { return e.err }

func (w *walker) malformed(where, format string, args ...any) {
	if len(w.res.Malformed) < 100 {
		msg := fmt.Sprintf(format, args...)
		if where != "" {
			msg = where + ": " + msg
		}
		w.res.Malformed = append(w.res.Malformed, msg)
	}
}

// message walks one message (the top level or an attached one).
func (w *walker) message(r io.Reader, where string, depth, inMsg int) error {
	e, err := readEntity(r, w.lim.MaxHeaderBytes)
	if e == nil {
		w.malformed(where, "header does not parse: %v", err)
		// What follows cannot be told apart from the header: look at it
		// as one text part so that its URLs and bytes are still seen.
		return w.leaf(&Part{Path: pathOr(where, "1"), Depth: depth, ContentType: "text/plain", InMessage: inMsg}, r)
	}
	if err != nil {
		w.malformed(where, "%v", err)
	}
	return w.entity(e, pathOr(where, ""), depth, inMsg)
}

func pathOr(p, def string) string {
	if p == "" {
		return def
	}
	return p
}

func (w *walker) entity(e *gomessage.Entity, where string, depth, inMsg int) error {
	if depth > w.lim.MaxDepth {
		w.malformed(where, "nesting deeper than %d: not walked further", w.lim.MaxDepth)
		io.Copy(io.Discard, e.Body)
		return nil
	}
	ct, params, err := e.Header.ContentType()
	if err != nil && e.Header.Get("Content-Type") != "" {
		w.malformed(where, "Content-Type %q: %v", e.Header.Get("Content-Type"), err)
	}
	ct = strings.ToLower(ct)
	if ct == "" {
		ct = "text/plain" // RFC 2045 5.2
	}
	if strings.HasPrefix(ct, "multipart/") {
		if params["boundary"] == "" {
			w.malformed(where, "multipart without a boundary")
		}
		mr := textproto.NewMultipartReader(e.Body, params["boundary"])
		n := 0
		for {
			p, err := nextPart(mr)
			if err == io.EOF {
				break
			}
			if err != nil && p == nil {
				if n == 0 {
					w.malformed(where, "multipart: %v", err)
				} else {
					w.malformed(where, "multipart ends without its closing boundary (%v)", err)
				}
				break
			}
			if err != nil {
				w.malformed(where, "%v", err)
			}
			n++
			if err := w.entity(p, child(where, n), depth+1, inMsg); err != nil {
				return err
			}
		}
		if n == 0 {
			w.malformed(where, "multipart with no parts")
		}
		return nil
	}
	if ct == "message/rfc822" || ct == "message/global" {
		// An attached message is walked as a message (RFC 2046 5.2.1).
		return w.message(e.Body, pathOr(where, "1"), depth+1, inMsg+1)
	}
	p := &Part{Path: pathOr(where, "1"), Depth: depth, ContentType: ct, InMessage: inMsg}
	h := mail.AttachmentHeader{Header: e.Header}
	disp, _, derr := h.ContentDisposition()
	if derr != nil && e.Header.Get("Content-Disposition") != "" {
		w.malformed(where, "Content-Disposition %q: %v", e.Header.Get("Content-Disposition"), derr)
	}
	p.Disposition = strings.ToLower(disp)
	name, _ := h.Filename()
	p.Filename = cleanName(name)
	p.Attachment = p.Disposition == "attachment" || p.Filename != "" ||
		!(strings.HasPrefix(ct, "text/plain") || strings.HasPrefix(ct, "text/html"))
	p.DeclaredType = declaredType(p.Filename, ct)
	return w.leaf(p, e.Body)
}

func child(where string, n int) string {
	if where == "" {
		return strconv.Itoa(n)
	}
	return where + "." + strconv.Itoa(n)
}

// cleanName keeps a file name for display and matching: control characters
// and path separators go, so it can never name a path.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return '_'
		}
		return r
	}, s)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "_")
	}
	if len(s) > 255 {
		s = s[:255]
	}
	return s
}

func (w *walker) leaf(p *Part, body io.Reader) error {
	w.leaves++
	if w.leaves > w.lim.MaxParts {
		if w.leaves == w.lim.MaxParts+1 {
			w.malformed(p.Path, "more than %d parts: the rest is not walked", w.lim.MaxParts)
		}
		io.Copy(io.Discard, body)
		return nil
	}
	h1, h256 := sha1.New(), sha256.New()
	head := &headBuffer{max: 512}
	text := p.ContentType == "text/plain" || p.ContentType == "text/html"
	var textBuf *bytes.Buffer
	sinks := []io.Writer{h1, h256, head}
	if text {
		textBuf = &bytes.Buffer{}
		sinks = append(sinks, &capWriter{w: textBuf, max: w.lim.MaxTextBytes})
	}
	counted := &CountingReader{R: body}
	src := io.TeeReader(counted, io.MultiWriter(sinks...))
	var err error
	if w.visit != nil {
		err = w.visit(p, src)
	}
	// Whatever visit left unread still counts for hashes and size.
	if _, cerr := io.Copy(io.Discard, src); cerr != nil && counted.Err == nil {
		counted.Err = cerr
	}
	if counted.Err != nil {
		// A damaged body (bad base64, cut short): what visit made of the
		// broken read is not visit's own failure.
		w.malformed(p.Path, "body: %v", counted.Err)
		err = nil
	}
	p.Size = counted.N
	p.SHA1, p.SHA256 = hex.EncodeToString(h1.Sum(nil)), hex.EncodeToString(h256.Sum(nil))
	p.TrueType = TrueType(head.b)
	if text {
		html := p.ContentType == "text/html"
		w.res.URLs = append(w.res.URLs, ExtractURLs(textBuf.Bytes(), html, p.Path)...)
		w.res.texts = append(w.res.texts, bodyText{textBuf.Bytes(), html})
	}
	w.res.Parts = append(w.res.Parts, *p)
	if err != nil {
		return visitError{err}
	}
	return nil
}

// declaredType is what the sender claims: the file name's extension if it
// has a known one, else the Content-Type.
func declaredType(name, ct string) string {
	if t, ok := extTypes[strings.ToLower(path.Ext(name))]; ok {
		return t
	}
	return ct
}

type headBuffer struct {
	b   []byte
	max int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.max - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

type capWriter struct {
	w   *bytes.Buffer
	max int64
}

func (c *capWriter) Write(p []byte) (int, error) {
	if room := c.max - int64(c.w.Len()); room > 0 {
		c.w.Write(p[:min(room, int64(len(p)))])
	}
	return len(p), nil
}

// CountingReader counts the bytes read through it (N) and remembers a
// read error other than EOF (Err): after a consumer gave up, it tells a
// damaged source from a failing consumer.
type CountingReader struct {
	R   io.Reader
	N   int64
	Err error
}

func (c *CountingReader) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N += int64(n)
	if err != nil && err != io.EOF {
		c.Err = err
	}
	return n, err
}
