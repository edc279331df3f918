package message

import (
	"bufio"
	"bytes"
	"io"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// ClickLink is a link a person can click, as the click rewriter meets it.
type ClickLink struct {
	URL   string // normalised (NormalizeLink): what is judged
	Raw   string // as written: the attribute's value with its entities, or the text
	Where string // "a href", "area href", "form action", "text"
}

// RewriteClicks writes to out a copy of a message in which each web link a
// person can click — a and area href, form action and formaction in HTML
// parts (after the first <base href>, in Outlook's conditional comments
// too), web URLs written in text parts — leads where wrap says instead
// (false: it stays). Only the link's own bytes change: in HTML the
// attribute's value is replaced inside the tag as written (its quoting,
// its other attributes, their order and spelling kept), in text the URL's
// span; so putting each link's Raw back where its replacement is gives the
// part's text byte for byte. What a client loads by itself (images, style
// sheets, frames) is no click and stays, as do mailto:, tel:, in-page
// anchors and links to files and programs (the block-links action is for
// those). The MIME structure and every other part stay as they came; text
// parts are streamed (none is cut, whatever its size) and go out as UTF-8,
// quoted-printable (lines of at most 76). A message the walk could not
// rebuild the way clients read it is refused whole, as RewriteLinks
// refuses it. It returns how many links it rewrote.
func RewriteClicks(r io.Reader, lim Limits, wrap func(ClickLink) (string, bool), out io.Writer) (int, error) {
	return rewriteClicks(&linkRewriter{lim: lim, clicks: wrap}, r, out)
}

// UnwrapClicks is RewriteClicks for links being taken back out of their
// wrapper (a reply or a forward that quotes a wrapped link): the URLs
// written in HTML text are read too, as a client shows them there.
func UnwrapClicks(r io.Reader, lim Limits, unwrap func(ClickLink) (string, bool), out io.Writer) (int, error) {
	return rewriteClicks(&linkRewriter{lim: lim, clicks: unwrap, htmlText: true}, r, out)
}

func rewriteClicks(lr *linkRewriter, r io.Reader, out io.Writer) (int, error) {
	bw := bufio.NewWriterSize(out, 64<<10)
	if err := lr.entity(r, bw, 0); err != nil {
		return 0, err
	}
	return lr.n, bw.Flush()
}

// clickAttrs are the attributes of a click, by element.
var clickAttrs = map[string]map[string]bool{
	"a": {"href": true}, "area": {"href": true}, "form": {"action": true},
	"button": {"formaction": true}, "input": {"formaction": true},
}

// clickTarget is a click's replacement; false: it stays.
func (lr *linkRewriter) clickTarget(val, raw, where string, base *url.URL) (string, bool) {
	clean := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1 // browsers drop tabs and newlines inside URLs
		}
		return r
	}, strings.TrimSpace(val))
	lower := strings.ToLower(clean)
	if clean == "" || strings.HasPrefix(clean, "#") || !isWebLink(lower, base) {
		return "", false
	}
	n, ok := NormalizeLink(clean, base)
	if !ok {
		return "", false
	}
	t, ok := lr.clicks(ClickLink{URL: n, Raw: raw, Where: where})
	if ok {
		lr.n++
	}
	return t, ok
}

// isWebLink: an http, https or ftp link, written whole ("http:", "//",
// "www.") or relative to a web base.
func isWebLink(lower string, base *url.URL) bool {
	for _, p := range []string{"http:", "https:", "ftp:", "www."} {
		if strings.HasPrefix(lower, p) {
			return true
		}
	}
	if strings.HasPrefix(lower, "//") {
		return true
	}
	if isFileOrHandler(lower) || strings.HasPrefix(lower, `\\`) {
		return false
	}
	return base != nil && (base.Scheme == "http" || base.Scheme == "https" || base.Scheme == "ftp")
}

// clickTag rewrites the click attributes of one start tag in its raw
// bytes; it returns the tag as it goes out.
func (lr *linkRewriter) clickTag(tok *html.Token, raw []byte, base *url.URL) []byte {
	want := clickAttrs[tok.Data]
	if want == nil {
		return raw
	}
	var out []byte
	last := 0
	seen := map[string]bool{}
	for _, a := range rawAttrs(raw) {
		if !want[a.name] || seen[a.name] {
			continue // a repeated attribute is not the one browsers take
		}
		seen[a.name] = true
		v := string(raw[a.start:a.end])
		t, ok := lr.clickTarget(attrValue(raw[a.start:a.end]), v, tok.Data+" "+a.name, base)
		if !ok {
			continue
		}
		// An attribute's value, escaped: a wrapped link has nothing to
		// escape (its raw form comes back byte for byte), an unwrapped
		// one may.
		t = html.EscapeString(t)
		out = append(append(out, raw[last:a.start]...), t...)
		last = a.end
	}
	if out == nil {
		return raw
	}
	return append(out, raw[last:]...)
}

// asciiLower is an attribute's name as the tokenizer gives it: A to Z
// lowered (any other byte, valid UTF-8 or not, stays), NUL made U+FFFD.
func asciiLower(b []byte) string {
	out := []byte(string(b))
	for i, c := range out {
		if c >= 'A' && c <= 'Z' {
			out[i] = c + 'a' - 'A'
		}
	}
	return strings.ReplaceAll(string(out), "\x00", "\uFFFD")
}

// attrValue is an attribute's value as the tokenizer gives it: entities
// decoded, NUL made U+FFFD.
func attrValue(raw []byte) string {
	return strings.ReplaceAll(html.UnescapeString(string(raw)), "\x00", "\uFFFD")
}

// rawAttr is an attribute of a raw start tag: its lower-case name and
// where its value is (inside the quotes, if any).
type rawAttr struct {
	name       string
	start, end int
	quoted     bool
}

// rawAttrs reads the attributes of a raw start tag the way the HTML
// tokenizer does (names end at white space, "/", ">" or "="; values are
// quoted with ' or ", or run to white space or ">").
func rawAttrs(raw []byte) []rawAttr {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
	i := 1
	for i < len(raw) && !isSpace(raw[i]) && raw[i] != '/' && raw[i] != '>' {
		i++ // the tag's name
	}
	var out []rawAttr
	for i < len(raw) {
		for i < len(raw) && (isSpace(raw[i]) || raw[i] == '/') {
			i++
		}
		if i >= len(raw) || raw[i] == '>' {
			break
		}
		ns := i
		i++ // a name may start with "="
		for i < len(raw) && !isSpace(raw[i]) && raw[i] != '/' && raw[i] != '>' && raw[i] != '=' {
			i++
		}
		a := rawAttr{name: asciiLower(raw[ns:i]), start: i, end: i}
		for i < len(raw) && isSpace(raw[i]) {
			i++
		}
		if i < len(raw) && raw[i] == '=' {
			i++
			for i < len(raw) && isSpace(raw[i]) {
				i++
			}
			if i < len(raw) && (raw[i] == '"' || raw[i] == '\'') {
				q := raw[i]
				e := bytes.IndexByte(raw[i+1:], q)
				if e < 0 {
					e = len(raw) - i - 1
				}
				a.start, a.end, a.quoted = i+1, i+1+e, true
				i = a.end + 1
			} else {
				a.start = i
				for i < len(raw) && !isSpace(raw[i]) && raw[i] != '>' {
					i++
				}
				a.end = i
			}
		}
		out = append(out, a)
	}
	return out
}
