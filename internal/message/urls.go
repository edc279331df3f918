package message

import (
	"bytes"
	"net"
	"net/url"
	"sort"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/idna"
)

// maxURLs bounds the URLs kept from one part.
const maxURLs = 2000

// urlEnd are the bytes that end a URL written in text.
const urlEnd = " \t\r\n<>\"'`{}|\\^[]"

// findTextURLs finds URLs written in text: "http://", "https://",
// "ftp://" or "www." up to the first byte that cannot be in one. It scans
// with bytes.Index rather than a regular expression: on the relay's hot
// path a case-insensitive regexp over every text part cost more than the
// rest of the MIME walk together.
func findTextURLs(text []byte, limit int) []string {
	var out []string
	for _, s := range findTextURLSpans(text, limit) {
		out = append(out, string(text[s.start:s.end]))
	}
	return out
}

// findTextURLSpans is findTextURLs with where each URL lies, in order.
func findTextURLSpans(text []byte, limit int) []span {
	lower := ASCIILower(text)
	var starts []int
	for _, marker := range []string{"://", "www."} {
		for off := 0; len(starts) < 4*limit; {
			i := bytes.Index(lower[off:], []byte(marker))
			if i < 0 {
				break
			}
			i += off
			off = i + len(marker)
			start := i
			if marker == "://" {
				switch {
				case i >= 5 && string(lower[i-5:i]) == "https":
					start = i - 5
				case i >= 4 && string(lower[i-4:i]) == "http":
					start = i - 4
				case i >= 3 && string(lower[i-3:i]) == "ftp":
					start = i - 3
				default:
					continue
				}
			} else if i >= 3 && string(lower[i-3:i]) == "://" {
				continue // the www. of a URL found by its scheme
			}
			if start > 0 && isWordByte(lower[start-1]) {
				continue
			}
			starts = append(starts, start)
		}
	}
	sort.Ints(starts)
	var out []span
	for _, st := range starts {
		end := st
		for end < len(text) && !strings.ContainsRune(urlEnd, rune(text[end])) {
			end++
		}
		if u := trimTrailing(string(text[st:end])); len(u) > 4 {
			out = append(out, span{st, st + len(u)})
		}
		if len(out) >= limit {
			break
		}
	}
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// urlAttrs are the HTML attributes that hold links, by element.
var urlAttrs = map[string][]string{
	"a": {"href"}, "area": {"href"}, "link": {"href"},
	"img": {"src"}, "script": {"src"}, "iframe": {"src"}, "frame": {"src"}, "embed": {"src"}, "source": {"src"},
	"form": {"action"}, "button": {"formaction"}, "input": {"formaction", "src"}, "object": {"data"},
}

// ExtractURLs finds the links in a text or HTML body. In HTML it reads the
// link attributes with a real parser (golang.org/x/net/html), applies the
// first <base href> to relative links and reads backslashes and
// scheme-relative links as browsers do (NormalizeLink), and also looks for
// URLs written as text. where names the part.
func ExtractURLs(body []byte, isHTML bool, where string) []URL {
	var out []URL
	seen := map[string]bool{}
	add := func(raw, what string, base *url.URL) {
		if len(out) >= maxURLs {
			return
		}
		n, ok := NormalizeLink(raw, base)
		if !ok || seen[n+"\x00"+what] {
			return
		}
		seen[n+"\x00"+what] = true
		out = append(out, URL{URL: n, Raw: raw, Where: where + " " + what})
		// The link inside another vendor's wrapper is where the reader
		// goes: it is judged as well.
		for _, in := range InnerURLs(n) {
			if len(out) < maxURLs && !seen[in+"\x00"+what+" wrapped"] {
				seen[in+"\x00"+what+" wrapped"] = true
				out = append(out, URL{URL: in, Raw: raw, Where: where + " " + what + " (inside a wrapped link)"})
			}
		}
	}
	if !isHTML {
		for _, m := range findTextURLs(body, maxURLs) {
			add(m, "text", nil)
		}
		return out
	}
	var base *url.URL
	z := html.NewTokenizer(bytes.NewReader(body))
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return out
		case html.TextToken:
			for _, m := range findTextURLs(z.Text(), maxURLs) {
				add(m, "html text", base)
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				key := string(k)
				if tag == "base" && key == "href" && base == nil {
					if b, err := url.Parse(strings.TrimSpace(string(v))); err == nil && b.IsAbs() {
						base = b
					}
					continue
				}
				for _, a := range urlAttrs[tag] {
					if key == a {
						add(string(v), tag+" "+key, base)
					}
				}
			}
		}
	}
}

func trimTrailing(s string) string {
	return strings.TrimRight(s, ".,;:!?)'\"")
}

// Normalize puts a URL in one canonical form so that the same link written
// two ways compares equal: scheme and host lower case, host in IDNA ASCII
// form, default port dropped, empty path as "/", percent-encoding as Go's
// url package writes it, no fragment. Relative links resolve against base.
// Only http, https and ftp links are kept.
func Normalize(raw string, base *url.URL) (string, bool) {
	raw = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1 // browsers drop tabs and newlines inside URLs
		}
		return r
	}, strings.TrimSpace(raw))
	if raw == "" {
		return "", false
	}
	if strings.HasPrefix(strings.ToLower(raw), "www.") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	if !u.IsAbs() {
		if base == nil {
			return "", false
		}
		u = base.ResolveReference(u)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch u.Scheme {
	case "http", "https", "ftp":
	default:
		return "", false
	}
	host, port := strings.TrimSuffix(strings.ToLower(u.Hostname()), "."), u.Port()
	if host == "" {
		return "", false
	}
	if net.ParseIP(host) == nil {
		ascii, err := idna.Lookup.ToASCII(host)
		if err != nil {
			ascii, err = idna.Punycode.ToASCII(host)
			if err != nil {
				return "", false
			}
		}
		host = ascii
		for _, label := range strings.Split(host, ".") {
			if label == "" {
				return "", false // "a..b", ".a": no such host name
			}
		}
	}
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") || (u.Scheme == "ftp" && port == "21") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	if !strings.Contains(strings.ToLower(u.RawPath), "%2f") {
		u.RawPath = "" // re-encode the path the canonical way
	}
	if u.Path == "" {
		u.Path = "/"
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String(), true
}

// ASCIILower lower-cases A-Z only, so that positions in the copy are
// positions in the original (bytes.ToLower changes the length of some
// UTF-8 and of invalid bytes; the fuzzer found it), and it costs far less.
func ASCIILower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}
