package message

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/textproto"
	"golang.org/x/net/html"
)

// RewriteLinks writes to out a copy of a message in which every link a
// mail client could follow, or a remote resource it could load, leads
// where rewrite says instead, and the ones that run code are made inert:
//
//   - web links (http, https, ftp; written scheme-relative "//host",
//     with backslashes "http:\\host", or as "www.") go to rewrite(their
//     normal form);
//   - links to files and other programs (file:, UNC paths "\\host\share",
//     ms-msdt:, search-ms: and every other scheme but mailto:, tel:, sms:
//     and cid:) go to rewrite(the link as written), which the link pages
//     show as text only;
//   - javascript:, vbscript: and data: links (but data: images) become
//     about:blank.
//
// In HTML: every link and resource attribute (a and area href, form
// action, formaction, img src and srcset, iframe, embed, object, media,
// link href, background, meta refresh, SVG href, CSS url() in style), the
// first <base href> for relative ones, Outlook's conditional comments;
// URLs written as text in text and HTML bodies. The MIME structure, every
// header and every other part stay as they came; text parts are streamed
// (none is cut, whatever its size) and go out as UTF-8, quoted-printable.
// A message the walk could not rebuild the way clients read it (a blind
// spot) is refused whole: the caller holds it instead. It returns how many
// links it rewrote.
func RewriteLinks(r io.Reader, lim Limits, rewrite func(link string) string, out io.Writer) (int, error) {
	lr := &linkRewriter{lim: lim, rewrite: rewrite}
	bw := bufio.NewWriterSize(out, 64<<10)
	if err := lr.entity(r, bw, 0); err != nil {
		return 0, err
	}
	return lr.n, bw.Flush()
}

// errNotRebuilt: the message holds something the rewriter would not copy
// the way clients read it.
var errNotRebuilt = errors.New("links: cannot be rewritten safely")

type linkRewriter struct {
	lim     Limits
	rewrite func(string) string
	// clicks, when set, makes this the click rewriter (RewriteClicks):
	// only links a person clicks change, through it.
	clicks func(ClickLink) (string, bool)
	// htmlText: the click rewriter reads URLs in HTML text as well.
	htmlText bool
	n        int
	parts    int
}

func (lr *linkRewriter) refuse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errNotRebuilt, fmt.Sprintf(format, args...))
}

func (lr *linkRewriter) entity(r io.Reader, w *bufio.Writer, depth int) error {
	if depth > lr.lim.MaxDepth {
		return lr.refuse("nesting deeper than %d", lr.lim.MaxDepth)
	}
	br := bufio.NewReaderSize(r, 16<<10)
	hr := readHeader(br, lr.lim.MaxHeaderBytes)
	if hr.tooBig || hr.spaced {
		return lr.refuse("a header block clients may read differently")
	}
	h := hr.h
	values := h.Values("Content-Type")
	ct := mediaType{Type: "text/plain", Params: map[string]string{}}
	if len(values) > 1 {
		return lr.refuse("%d Content-Type fields", len(values))
	}
	if len(values) == 1 {
		ct = parseMediaType(values[0])
		if len(ct.Ambiguous) > 0 {
			return lr.refuse("a Content-Type clients may read differently")
		}
		if strings.Count(ct.Type, "/") != 1 {
			ct.Type = "text/plain"
		}
	}
	cte := strings.ToLower(strings.TrimSpace(rawValue(h, "Content-Transfer-Encoding")))
	identity := cte == "" || cte == "7bit" || cte == "8bit" || cte == "binary"
	switch {
	case strings.HasPrefix(ct.Type, "multipart/"):
		b := ct.Params["boundary"]
		if b == "" {
			return lr.refuse("a multipart without a boundary")
		}
		if err := textproto.WriteHeader(w, h); err != nil {
			return err
		}
		return lr.multipart(hr.body, b, w, depth)
	case strings.HasPrefix(ct.Type, "message/"):
		if !identity {
			return lr.refuse("an attached message in a transfer encoding")
		}
		if err := textproto.WriteHeader(w, h); err != nil {
			return err
		}
		return lr.entity(hr.body, w, depth+1)
	}
	if lr.parts++; lr.parts > lr.lim.MaxParts {
		return lr.refuse("more than %d parts", lr.lim.MaxParts)
	}
	if ct.Type != "text/plain" && ct.Type != "text/html" {
		if err := textproto.WriteHeader(w, h); err != nil {
			return err
		}
		_, err := io.Copy(w, hr.body)
		return err
	}
	switch cte {
	case "", "7bit", "8bit", "binary", "base64", "quoted-printable":
	default:
		return lr.refuse("a text in the transfer encoding %q", cte)
	}
	var text io.Reader = newTransferDecoder(cte, hr.body, lr.lim.MaxEmbeddedBytes)
	if cs := ct.Params["charset"]; cs != "" && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
		conv, err := charset.Reader(cs, text)
		if err != nil {
			return lr.refuse("a text in the unknown charset %q", cs)
		}
		text = conv
	}
	ct.Params["charset"] = "utf-8"
	h.Set("Content-Type", mime.FormatMediaType(ct.Type, ct.Params))
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	if err := textproto.WriteHeader(w, h); err != nil {
		return err
	}
	qw := quotedprintable.NewWriter(w)
	var err error
	if ct.Type == "text/html" {
		err = lr.html(text, qw, nil)
	} else {
		err = lr.plain(text, qw)
	}
	if err != nil {
		return err
	}
	return qw.Close()
}

func (lr *linkRewriter) multipart(body io.Reader, boundary string, w *bufio.Writer, depth int) error {
	mr := newMultipartReader(body, boundary, 0)
	defer mr.release()
	for {
		part, err := mr.NextPart()
		if err == errNoDelimiter {
			return lr.refuse("a multipart with no delimiter line")
		}
		if err != nil {
			break
		}
		fmt.Fprintf(w, "--%s\r\n", boundary)
		if err := lr.entity(part, w, depth+1); err != nil {
			return err
		}
		w.WriteString("\r\n")
	}
	_, err := fmt.Fprintf(w, "--%s--\r\n", boundary)
	return err
}

// plain rewrites a text body as it streams: in pieces that end at a byte no
// link can hold, so that no link is cut.
func (lr *linkRewriter) plain(r io.Reader, w io.Writer) error {
	return pieces(r, func(b []byte) error {
		_, err := w.Write(lr.text(b, nil))
		return err
	})
}

// maxPiece bounds a run of text without a byte that ends a link: past it
// the text is refused rather than a link cut in two.
const maxPiece = 1 << 20

// pieces calls f with the whole of r, in pieces of at least 32 KiB (but
// the last) that end just after white space or another byte no link holds.
func pieces(r io.Reader, f func([]byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for {
		chunk := make([]byte, 32<<10)
		n, err := io.ReadFull(br, chunk)
		buf = append(buf, chunk[:n]...)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return err
		}
		if err != nil {
			if len(buf) > 0 {
				return f(buf)
			}
			return nil
		}
		cut := bytes.LastIndexAny(buf, linkEnd)
		if cut < 0 {
			if len(buf) > maxPiece {
				return errors.New("links: a run of text over 1 MiB without a break")
			}
			continue
		}
		if err := f(buf[:cut+1]); err != nil {
			return err
		}
		buf = append(buf[:0:0], buf[cut+1:]...)
	}
}

// linkEnd are the bytes no link written as text holds: a piece of text
// may end after one.
const linkEnd = " \t\r\n<>\"'`{}|^[]"

// text replaces the links written in a text: longest first, so that a link
// that is the start of another is not cut out of it.
func (lr *linkRewriter) text(b []byte, base *url.URL) []byte {
	spans := textLinks(b)
	if len(spans) == 0 {
		return b
	}
	var out []byte
	last := 0
	for _, s := range spans {
		if s.start < last {
			continue
		}
		target, ok := lr.target(string(b[s.start:s.end]), base, false)
		if !ok {
			continue
		}
		out = append(out, b[last:s.start]...)
		out = append(out, target...)
		last = s.end
	}
	return append(out, b[last:]...)
}

// span is a link written in text, b[start:end].
type span struct{ start, end int }

// textSchemes start a link written in text that clients make clickable:
// web links (findTextURLs), and links to files and programs.
var textSchemes = regexp.MustCompile(`(?i)(?:\b(?:file|ms-[a-z-]+|search-ms|search|smb|webdav|shell|vbscript|javascript):|\b(?:https?|ftp):[/\\]*\\|\\\\[a-z0-9_.$-]+\\)`)

// textLinks finds the links written in a text, in order, not overlapping.
func textLinks(b []byte) []span {
	spans := findTextURLSpans(b, maxURLs)
	for _, m := range textSchemes.FindAllIndex(b, maxURLs) {
		end := m[0]
		for end < len(b) && !strings.ContainsRune(" \t\r\n<>\"'`{}|^[]", rune(b[end])) {
			end++
		}
		raw := trimTrailing(string(b[m[0]:end]))
		spans = append(spans, span{m[0], m[0] + len(raw)})
	}
	// In order; of two that overlap, the one that starts first and is
	// longest.
	sort.Slice(spans, func(i, j int) bool {
		return spans[i].start < spans[j].start || spans[i].start == spans[j].start && spans[i].end > spans[j].end
	})
	return spans
}

// target is what a link leads to after the rewrite; false: leave it.
// image says the link loads an image (data: images are kept).
func (lr *linkRewriter) target(raw string, base *url.URL, image bool) (string, bool) {
	if lr.clicks != nil {
		return lr.clickTarget(raw, raw, "text", base)
	}
	clean := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1 // browsers drop tabs and newlines inside URLs
		}
		return r
	}, strings.TrimSpace(raw))
	lower := strings.ToLower(clean)
	switch {
	case clean == "" || strings.HasPrefix(clean, "#"):
		return "", false
	case strings.HasPrefix(lower, "mailto:"), strings.HasPrefix(lower, "tel:"), strings.HasPrefix(lower, "sms:"),
		strings.HasPrefix(lower, "cid:"), strings.HasPrefix(lower, "about:blank"):
		return "", false
	case strings.HasPrefix(lower, "javascript:"), strings.HasPrefix(lower, "vbscript:"), strings.HasPrefix(lower, "livescript:"):
		lr.n++
		return "about:blank", true
	case strings.HasPrefix(lower, "data:"):
		if image && strings.HasPrefix(lower, "data:image/") {
			return "", false
		}
		lr.n++
		return "about:blank", true
	}
	if n, ok := NormalizeLink(clean, base); ok {
		lr.n++
		return lr.rewrite(n), true
	}
	if isFileOrHandler(lower) {
		lr.n++
		return lr.rewrite(clean), true
	}
	return "", false // a relative link with no base: it leads nowhere
}

// isFileOrHandler: a link to a file (file:, a UNC path) or to a program
// (any scheme but the web's).
func isFileOrHandler(lower string) bool {
	if strings.HasPrefix(lower, `\\`) || strings.HasPrefix(lower, "//") || strings.HasPrefix(lower, `/\`) || strings.HasPrefix(lower, `\/`) {
		return true
	}
	i := strings.IndexByte(lower, ':')
	if i < 1 {
		return false
	}
	for _, c := range lower[:i] {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return lower[0] >= 'a' && lower[0] <= 'z'
}

// linkAttrs are the attributes that hold a link or a resource, by element;
// "*" applies to every element.
var linkAttrs = map[string][]string{
	"*":      {"href", "xlink:href", "background", "formaction", "action"},
	"img":    {"src", "lowsrc", "dynsrc", "longdesc"},
	"image":  {"src"},
	"input":  {"src"},
	"iframe": {"src"}, "frame": {"src"}, "embed": {"src"}, "script": {"src"},
	"object": {"data", "codebase"}, "applet": {"code", "codebase", "archive"},
	"video": {"src", "poster"}, "audio": {"src"}, "source": {"src"}, "track": {"src"},
}

// srcsetAttrs hold comma-separated lists of links with descriptors.
var srcsetAttrs = map[string]bool{"srcset": true, "imagesrcset": true}

// imageTags load what their src names as an image.
var imageTags = map[string]bool{"img": true, "image": true, "input": true, "source": true, "video": true}

// cssURL finds url(...) in CSS (style attributes and elements).
var cssURL = regexp.MustCompile(`(?i)url\(\s*(['"]?)([^'")\s]+)(['"]?)\s*\)`)

// html rewrites an HTML body as it streams; base is the <base href> in
// force (from an enclosing document, for a conditional comment).
func (lr *linkRewriter) html(r io.Reader, w io.Writer, base *url.URL) error {
	z := html.NewTokenizer(r)
	inStyle := false
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if err := z.Err(); err != io.EOF {
				return err
			}
			return nil
		}
		raw := z.Raw()
		var out []byte
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			switch {
			case tok.Data == "base":
				out, base = raw, firstBase(&tok, base)
			case lr.clicks != nil:
				out = lr.clickTag(&tok, raw, base)
			default:
				out = lr.tag(&tok, raw, base)
			}
			inStyle = tok.Data == "style" && tt == html.StartTagToken
		case html.EndTagToken:
			inStyle = false
			out = raw
		case html.TextToken:
			if lr.clicks != nil && (inStyle || !lr.htmlText) {
				out = raw // a URL written in HTML text is no link until a client makes one
			} else if inStyle {
				out = lr.css(raw, base)
			} else {
				out = lr.text(raw, base)
			}
		case html.CommentToken:
			out = lr.comment(raw, base)
		default:
			out = raw
		}
		if _, err := w.Write(out); err != nil {
			return err
		}
	}
}

// firstBase is the base in force after a <base> tag: the first absolute
// href of the document's, as browsers take it.
func firstBase(tok *html.Token, base *url.URL) *url.URL {
	for _, a := range tok.Attr {
		if a.Key == "href" && base == nil {
			if b, err := url.Parse(strings.TrimSpace(a.Val)); err == nil && b.IsAbs() {
				base = b
			}
		}
	}
	return base
}

// tag rewrites one start tag's link attributes; it returns the tag as it
// goes out.
func (lr *linkRewriter) tag(tok *html.Token, raw []byte, base *url.URL) []byte {
	changed := false
	for i, a := range tok.Attr {
		key := a.Key
		if a.Namespace != "" {
			key = a.Namespace + ":" + a.Key
		}
		var v string
		var ok bool
		switch {
		case inList(linkAttrs["*"], key) || inList(linkAttrs[tok.Data], key):
			v, ok = lr.target(a.Val, base, imageTags[tok.Data] && key == "src")
		case srcsetAttrs[key]:
			v, ok = lr.srcset(a.Val, base)
		case key == "style":
			if s := string(lr.css([]byte(a.Val), base)); s != a.Val {
				v, ok = s, true
			}
		case tok.Data == "meta" && key == "content" && hasAttr(tok, "http-equiv", "refresh"):
			v, ok = lr.refresh(a.Val, base)
		}
		if ok {
			tok.Attr[i].Val, changed = v, true
		}
	}
	if !changed {
		return raw
	}
	return []byte(tok.String())
}

func inList(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func hasAttr(tok *html.Token, key, val string) bool {
	for _, a := range tok.Attr {
		if a.Key == key && strings.EqualFold(strings.TrimSpace(a.Val), val) {
			return true
		}
	}
	return false
}

// srcset rewrites each link of a srcset list ("a.png 1x, b.png 2x").
func (lr *linkRewriter) srcset(v string, base *url.URL) (string, bool) {
	items := strings.Split(v, ",")
	changed := false
	for i, it := range items {
		f := strings.Fields(it)
		if len(f) == 0 {
			continue
		}
		if t, ok := lr.target(f[0], base, true); ok {
			f[0], changed = t, true
			items[i] = strings.Join(f, " ")
		}
	}
	return strings.Join(items, ", "), changed
}

// refresh rewrites the link of a meta refresh ("5; url=…").
func (lr *linkRewriter) refresh(v string, base *url.URL) (string, bool) {
	i := strings.Index(strings.ToLower(v), "url=")
	if i < 0 {
		return "", false
	}
	link := strings.Trim(strings.TrimSpace(v[i+4:]), `'"`)
	t, ok := lr.target(link, base, false)
	if !ok {
		return "", false
	}
	return v[:i] + "url=" + t, true
}

// css rewrites the url(...) of a style sheet or style attribute.
func (lr *linkRewriter) css(b []byte, base *url.URL) []byte {
	return cssURL.ReplaceAllFunc(b, func(m []byte) []byte {
		sub := cssURL.FindSubmatch(m)
		t, ok := lr.target(string(sub[2]), base, true)
		if !ok {
			return m
		}
		return []byte(`url("` + strings.ReplaceAll(t, `"`, "%22") + `")`)
	})
}

// comment rewrites what Outlook renders of a conditional comment
// ("<!--[if mso]>…<![endif]-->"); other comments stay.
func (lr *linkRewriter) comment(raw []byte, base *url.URL) []byte {
	inner, ok := bytes.CutPrefix(raw, []byte("<!--"))
	if !ok || !bytes.HasPrefix(bytes.TrimSpace(inner), []byte("[if")) {
		return raw
	}
	var b bytes.Buffer
	b.WriteString("<!--")
	if err := lr.html(bytes.NewReader(inner), &b, base); err != nil {
		return raw
	}
	return b.Bytes()
}

// NormalizeLink is Normalize for a link as a browser reads it: backslashes
// in a web link are slashes, "//host" takes the base's scheme (http when
// there is none), "www." is http.
func NormalizeLink(raw string, base *url.URL) (string, bool) {
	return Normalize(browserForm(raw, base), base)
}

// browserForm applies the WHATWG URL parser's repairs that matter for
// where a web link goes.
func browserForm(raw string, base *url.URL) string {
	lower := strings.ToLower(raw)
	for _, scheme := range []string{"http:", "https:", "ftp:"} {
		if strings.HasPrefix(lower, scheme) {
			rest := raw[len(scheme):]
			host := strings.TrimLeft(rest, `/\`)
			if i := strings.IndexAny(host, "?#"); i >= 0 {
				return scheme + "//" + strings.ReplaceAll(host[:i], `\`, "/") + host[i:]
			}
			return scheme + "//" + strings.ReplaceAll(host, `\`, "/")
		}
	}
	if strings.HasPrefix(raw, "//") || strings.HasPrefix(raw, `\\`) || strings.HasPrefix(raw, `/\`) || strings.HasPrefix(raw, `\/`) {
		switch {
		case base != nil && (base.Scheme == "http" || base.Scheme == "https" || base.Scheme == "ftp"):
			return base.Scheme + "://" + strings.ReplaceAll(strings.TrimLeft(raw, `/\`), `\`, "/")
		case strings.HasPrefix(raw, "//") && !strings.Contains(raw, `\`):
			return "http:" + raw // as a web page (webmail) reads it
		}
		// No web base: "\\host\share" is a file share to a mail client;
		// leave it to the file-or-program rule.
		return raw
	}
	return raw
}
