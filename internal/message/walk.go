// Package message takes a message apart as a stream: headers, text and HTML
// bodies, attachments with their true type and hashes, attached messages
// walked as messages, files written into text bodies (uuencode, yEnc), and
// the URLs found in the text and the HTML. It reads as leniently as mail
// clients do, so that it sees at least what a client shows; malformed input
// is walked as far as it goes and says what was wrong; limits keep time and
// memory bounded, and what lies past one is named as a blind spot.
package message

import (
	"bufio"
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

	"github.com/emersion/go-message/charset" // charsets beyond UTF-8 and Latin-1 (RFC 2047, RFC 2046 4.1.2)
	"github.com/emersion/go-message/textproto"
)

// Limits bound the walk.
type Limits struct {
	MaxDepth       int   // nesting of multiparts and attached messages
	MaxParts       int   // leaf parts in all
	MaxHeaderBytes int64 // one header block
	MaxTextBytes   int64 // text or HTML read for URLs, per part
	// MaxEmbeddedBytes bounds one file decoded from a text body
	// (uuencode, yEnc).
	MaxEmbeddedBytes int64
}

// DefaultLimits suit mail up to the default size limit.
var DefaultLimits = Limits{MaxDepth: 20, MaxParts: 1000, MaxHeaderBytes: 256 * 1024, MaxTextBytes: 4 << 20, MaxEmbeddedBytes: 64 << 20}

// Part is one leaf of the MIME tree.
type Part struct {
	Path         string // "1.2.1": where in the tree (RFC 3501 section numbers); "1.uu1": a file written in text part 1
	Depth        int
	ContentType  string // declared, lower case
	Charset      string // the charset parameter of a text part, as declared
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
	// Blind names what the walk could not look at, and why: a limit it
	// reached, a part it could not read the way every client would. What
	// lies there was not judged: the message is unrated.
	Blind []string

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
// does; anything wrong with the message itself is in Result.Malformed, and
// anything it could not look at in Result.Blind.
func Walk(r io.Reader, lim Limits, visit Visit) (*Result, error) {
	w := &walker{lim: lim, visit: visit, res: &Result{}}
	err := w.entity(r, "", 0, 0)
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

// maxNotes bounds the notes of each kind kept for one message.
const maxNotes = 100

func (w *walker) malformed(where, format string, args ...any) {
	w.res.Malformed = note(w.res.Malformed, where, format, args...)
}

func (w *walker) blind(where, format string, args ...any) {
	w.res.Blind = note(w.res.Blind, where, format, args...)
}

func note(list []string, where, format string, args ...any) []string {
	if len(list) >= maxNotes {
		return list
	}
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg = "part " + where + ": " + msg
	}
	return append(list, msg)
}

var headerReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16*1024) }}

// entity walks one entity from its header on: the message, a part of a
// multipart, or an attached message.
func (w *walker) entity(r io.Reader, where string, depth, inMsg int) error {
	br := headerReaders.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() {
		br.Reset(nil)
		headerReaders.Put(br)
	}()
	hr := readHeader(br, w.lim.MaxHeaderBytes)
	for _, n := range hr.notes {
		w.malformed(where, "%s", n)
	}
	if hr.tooBig {
		w.blind(where, "header block larger than %d bytes: its fields past that were not read", w.lim.MaxHeaderBytes)
	}
	if hr.spaced {
		w.blind(where, "a header field with white space before its colon: clients disagree where such a header ends")
	}
	return w.body(hr.h, hr.body, where, depth, inMsg)
}

// body walks an entity's body by its Content-Type.
func (w *walker) body(h textproto.Header, body io.Reader, where string, depth, inMsg int) error {
	if depth > w.lim.MaxDepth {
		w.blind(where, "nesting deeper than %d: not walked further", w.lim.MaxDepth)
		io.Copy(io.Discard, body)
		return nil
	}
	ct := w.contentType(h, where)
	switch {
	case strings.HasPrefix(ct.Type, "multipart/"):
		if b := ct.Params["boundary"]; b != "" {
			return w.multipart(h, b, body, where, depth, inMsg)
		}
		// As clients do: a multipart without a boundary is shown as text.
		w.malformed(where, "multipart without a boundary: read as text")
		ct.Type = "text/plain"
	case strings.HasPrefix(ct.Type, "message/"):
		// An attached message is walked as a message (RFC 2046 5.2.1), as
		// clients read every message/ type; a transfer encoding on it (RFC
		// 2046 forbids one) is undone first.
		return w.entity(w.decoder(h, body, where), pathOr(where, "1"), depth+1, inMsg+1)
	}
	p := &Part{Path: pathOr(where, "1"), Depth: depth, ContentType: ct.Type, InMessage: inMsg}
	disp := parseMediaType(h.Get("Content-Disposition"))
	if disp.Problem != "" && h.Get("Content-Disposition") != "" {
		w.malformed(where, "Content-Disposition %q: %s", clipNote(h.Get("Content-Disposition")), disp.Problem)
	}
	p.Disposition = disp.Type
	name := disp.Params["filename"]
	if name == "" {
		name = ct.Params["name"]
	}
	p.Filename = cleanName(name)
	p.Attachment = p.Disposition == "attachment" || p.Filename != "" ||
		!(strings.HasPrefix(ct.Type, "text/plain") || strings.HasPrefix(ct.Type, "text/html"))
	p.DeclaredType = declaredType(p.Filename, ct.Type)
	if strings.HasPrefix(ct.Type, "text/") {
		p.Charset = ct.Params["charset"]
	}
	return w.leaf(p, w.decoder(h, body, where))
}

// contentType reads the Content-Type field leniently (RFC 2045 5.2: none,
// or one that names no type, is text/plain) and notes what was wrong with
// it; what clients could read two ways is a blind spot.
func (w *walker) contentType(h textproto.Header, where string) mediaType {
	values := h.Values("Content-Type")
	if len(values) == 0 {
		return mediaType{Type: "text/plain", Params: map[string]string{}}
	}
	ct := parseMediaType(values[0])
	if ct.Problem != "" {
		w.malformed(where, "Content-Type %q: %s", clipNote(values[0]), ct.Problem)
	}
	for _, a := range ct.Ambiguous {
		w.blind(where, "Content-Type can be read two ways (its %s): clients may read the message differently", a)
	}
	for _, v := range values[1:] {
		other := parseMediaType(v)
		if other.Type != ct.Type || other.Params["boundary"] != ct.Params["boundary"] {
			w.blind(where, "%d Content-Type fields that disagree: clients may read the message differently", len(values))
			break
		}
	}
	if strings.Count(ct.Type, "/") != 1 {
		if ct.Type != "" {
			w.malformed(where, "Content-Type %q names no type/subtype: read as text/plain", clipNote(values[0]))
		}
		ct.Type = "text/plain"
	}
	return ct
}

// decoder undoes the entity's transfer encoding.
func (w *walker) decoder(h textproto.Header, body io.Reader, where string) io.Reader {
	ctes := h.Values("Content-Transfer-Encoding")
	cte := ""
	if len(ctes) > 0 {
		cte = ctes[0]
		for _, other := range ctes[1:] {
			if !strings.EqualFold(strings.TrimSpace(other), strings.TrimSpace(cte)) {
				w.blind(where, "%d Content-Transfer-Encoding fields that disagree: clients may decode the part differently", len(ctes))
				break
			}
		}
	}
	if v := rawValue(h, "Content-Transfer-Encoding"); v != strings.TrimSpace(stripComments(v)) {
		// RFC 2045 allows a comment and white space here; clients that
		// compare the whole value do not decode such a part.
		w.blind(where, "Content-Transfer-Encoding %q has a comment or trailing space: clients may decode the part differently", clipNote(cte))
	}
	d := newTransferDecoder(cte, body, w.lim.MaxEmbeddedBytes)
	if d.Unknown != "" {
		w.malformed(where, "unknown Content-Transfer-Encoding %q: the body is taken as it is", clipNote(d.Unknown))
	}
	switch {
	case d.b64 != nil:
		return &base64Notes{base64Reader: d.b64, w: w, where: where}
	case d.uu != nil:
		return &uuNotes{uuReader: d.uu, w: w, where: where}
	}
	return d
}

// rawValue is the first field named k as it came, unfolded, without the
// white space after the colon (go-message's values are trimmed).
func rawValue(h textproto.Header, k string) string {
	raw, err := h.Raw(k)
	if err != nil {
		return ""
	}
	_, v, _ := bytes.Cut(raw, []byte(":"))
	v = bytes.ReplaceAll(bytes.ReplaceAll(v, []byte("\r\n"), nil), []byte("\n"), nil)
	return strings.TrimLeft(string(v), " \t")
}

// uuNotes reports what the uuencode decoder met, once it is done.
type uuNotes struct {
	*uuReader
	w     *walker
	where string
	told  bool
}

func (u *uuNotes) Read(p []byte) (int, error) {
	n, err := u.uuReader.Read(p)
	if err != nil && !u.told {
		u.told = true
		if u.Raw {
			u.w.malformed(u.where, "uuencoded body without its begin or end line: taken as it is")
		}
		if u.TooBig {
			u.w.blind(u.where, "uuencoded body larger than %d bytes: not decoded whole", u.w.lim.MaxEmbeddedBytes)
		}
	}
	return n, err
}

// base64Notes reports what the base64 decoder met, once it is done.
type base64Notes struct {
	*base64Reader
	w     *walker
	where string
	told  bool
}

func (b *base64Notes) Read(p []byte) (int, error) {
	n, err := b.base64Reader.Read(p)
	if err != nil && !b.told {
		b.told = true
		if b.Junk > 0 {
			b.w.malformed(b.where, "base64 body with %d bytes outside the alphabet (skipped)", b.Junk)
		}
		if b.AfterPad {
			b.w.blind(b.where, "base64 body goes on after its padding: clients may decode more than was scanned")
		}
		if b.Dangling {
			// Nothing decodes from one character; some clients then show
			// the body undecoded, which was not scanned.
			b.w.blind(b.where, "base64 body ends with a lone character: clients may show the body undecoded")
		}
	}
	return n, err
}

func (w *walker) multipart(h textproto.Header, boundary string, body io.Reader, where string, depth, inMsg int) error {
	mr := newMultipartReader(body, boundary, w.lim.MaxTextBytes)
	defer mr.release()
	n := 0
	for {
		part, err := mr.NextPart()
		if err == errNoDelimiter {
			// As clients do: the body is shown as one part, its transfer
			// encoding undone.
			w.malformed(where, "multipart with no delimiter line for its boundary: read as text")
			if mr.preambleCut {
				w.blind(where, "multipart with no delimiter line, larger than %d bytes: not read whole", w.lim.MaxTextBytes)
			}
			if mr.closedFirst {
				w.blind(where, "multipart closed before its first part: clients disagree on what it holds")
				io.Copy(io.Discard, body)
			}
			return w.leaf(&Part{Path: pathOr(where, "1"), Depth: depth, ContentType: "text/plain", InMessage: inMsg},
				w.decoder(h, bytes.NewReader(mr.preamble), where))
		}
		if err != nil {
			break
		}
		n++
		if err := w.entity(part, child(where, n), depth+1, inMsg); err != nil {
			return err
		}
	}
	switch {
	case n == 0:
		w.malformed(where, "multipart with no parts")
	case !mr.closed:
		w.malformed(where, "multipart ends without its closing delimiter")
	}
	return nil
}

func pathOr(p, def string) string {
	if p == "" {
		return def
	}
	return p
}

func child(where string, n int) string {
	if where == "" {
		return strconv.Itoa(n)
	}
	return where + "." + strconv.Itoa(n)
}

// clipNote keeps a header value short enough for a note.
func clipNote(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
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

// leaf hashes, types and visits one leaf part; a text body is also read
// for links, password hints and files written into it.
func (w *walker) leaf(p *Part, body io.Reader) error {
	w.leaves++
	if w.leaves > w.lim.MaxParts {
		if w.leaves == w.lim.MaxParts+1 {
			w.blind(p.Path, "more than %d parts: this one and those after it were not looked at", w.lim.MaxParts)
		}
		io.Copy(io.Discard, body)
		return nil
	}
	h1, h256 := sha1.New(), sha256.New()
	head := &headBuffer{max: 512}
	text := p.ContentType == "text/plain" || p.ContentType == "text/html"
	var textBuf *capWriter
	var files *embeddedFinder
	sinks := []io.Writer{h1, h256, head}
	if text {
		textBuf = &capWriter{w: &bytes.Buffer{}, max: w.lim.MaxTextBytes}
		sinks = append(sinks, textBuf)
		if p.ContentType == "text/plain" && !p.Attachment {
			files = &embeddedFinder{max: w.lim.MaxEmbeddedBytes}
			sinks = append(sinks, files)
		}
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
		// A damaged body (cut short): what visit made of the broken read is
		// not visit's own failure.
		w.malformed(p.Path, "body: %v", counted.Err)
		err = nil
	}
	p.Size = counted.N
	p.SHA1, p.SHA256 = hex.EncodeToString(h1.Sum(nil)), hex.EncodeToString(h256.Sum(nil))
	p.TrueType = TrueType(head.b)
	if text {
		if textBuf.cut {
			w.blind(p.Path, "text larger than %d bytes: links past that were not looked at", w.lim.MaxTextBytes)
		}
		html := p.ContentType == "text/html"
		t, ok := toUTF8Bytes(p.Charset, textBuf.w.Bytes())
		if !ok {
			w.malformed(p.Path, "unknown charset %q: the text is read as it is", clipNote(p.Charset))
		}
		w.res.URLs = append(w.res.URLs, ExtractURLs(t, html, p.Path)...)
		w.res.texts = append(w.res.texts, bodyText{t, html})
	}
	w.res.Parts = append(w.res.Parts, *p)
	if err != nil {
		return visitError{err}
	}
	if files != nil {
		files.Close()
		return w.embedded(p, files.Files)
	}
	return nil
}

// embedded walks the files found written in a text part as attachments of
// their own, right after it.
func (w *walker) embedded(text *Part, files []*embeddedFile) error {
	for i, f := range files {
		p := &Part{Path: fmt.Sprintf("%s.%s%d", text.Path, map[string]string{"uuencode": "uu", "yenc": "yenc"}[f.Kind], i+1),
			Depth: text.Depth + 1, ContentType: "application/octet-stream", Disposition: "attachment",
			Filename: cleanName(f.Name), Attachment: true, InMessage: text.InMessage}
		p.DeclaredType = declaredType(p.Filename, p.ContentType)
		if f.Cut {
			w.blind(p.Path, "%s block larger than %d bytes: not decoded whole", f.Kind, w.lim.MaxEmbeddedBytes)
		}
		if !f.Ended {
			w.malformed(p.Path, "%s block without its end line", f.Kind)
		}
		if err := w.leaf(p, bytes.NewReader(f.Data)); err != nil {
			return err
		}
	}
	return nil
}

// toUTF8Bytes converts a text body from its charset for reading links;
// false: the charset is unknown and b comes back as it is.
func toUTF8Bytes(cs string, b []byte) ([]byte, bool) {
	if cs == "" || strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "us-ascii") {
		return b, true
	}
	r, err := charset.Reader(cs, bytes.NewReader(b))
	if err != nil {
		return b, false
	}
	out, err := io.ReadAll(io.LimitReader(r, 4*int64(len(b))+16))
	if err != nil && len(out) == 0 {
		return b, true
	}
	return out, true
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
	cut bool // more was written than kept
}

func (c *capWriter) Write(p []byte) (int, error) {
	room := c.max - int64(c.w.Len())
	if room < int64(len(p)) {
		c.cut = true
	}
	if room > 0 {
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
