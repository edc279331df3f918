package message

import (
	"fmt"
	"mime"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/emersion/go-message/charset"
)

// mediaType is a Content-Type or Content-Disposition value taken apart.
type mediaType struct {
	Type   string            // lower case; "" when the value names none
	Params map[string]string // names in lower case, values decoded (RFC 2231, RFC 2047)
	// Problem says what a strict reading (RFC 2045, RFC 2231) refused;
	// the value was then read leniently.
	Problem string
	// Ambiguous names parameters that lenient readers could take two
	// ways (given twice with different values, an unquoted value that one
	// reader ends at a special character and another at the next
	// semicolon, a boundary written as an encoded word): different
	// clients may show different things.
	Ambiguous []string
}

// parseMediaType reads a Content-Type or Content-Disposition value: strictly
// when it is well formed (mime.ParseMediaType), else as leniently as mail
// clients do (modelled on Python's email package):
//
//   - the type is what comes before the first semicolon, without comments
//     and white space, in lower case;
//   - parameters are separated by semicolons outside quoted strings; a
//     piece without "=" is ignored; white space may surround "=";
//   - a quoted value ends at its closing quote (backslash escapes the next
//     character) or, unterminated, at the end of the field;
//   - an unquoted value ends at white space, a semicolon, a quote or a
//     comment;
//   - RFC 2231 values (name*=charset'lang'%XX) and continuations (name*0,
//     name*1*) are joined and decoded;
//   - a parameter given twice keeps its first value.
func parseMediaType(v string) mediaType {
	mt, params, err := mime.ParseMediaType(v)
	if err == nil {
		res := mediaType{Type: mt, Params: params}
		for k, pv := range params {
			params[k] = decodeWords(pv)
			if k == "boundary" && strings.Contains(pv, "=?") {
				res.Ambiguous = appendOnce(res.Ambiguous, k)
			}
		}
		if b := params["boundary"]; strings.ContainsAny(b, "*'%") {
			// Go reads these in a token; RFC 2231 readers end it there.
			res.Ambiguous = append(res.Ambiguous, lenientMediaType(v).Ambiguous...)
		}
		if strings.Contains(strings.ToLower(v), "boundary*") {
			// No mailer writes a boundary in RFC 2231's forms; clients
			// join and decode it differently.
			res.Ambiguous = appendOnce(res.Ambiguous, "boundary")
		}
		return res
	}
	res := lenientMediaType(v)
	res.Problem = err.Error()
	return res
}

func lenientMediaType(v string) mediaType {
	typ, rest, _ := strings.Cut(v, ";")
	res := mediaType{Type: strings.ToLower(strings.Join(strings.Fields(stripComments(typ)), "")), Params: map[string]string{}}
	if t, sub, _ := strings.Cut(strings.TrimSpace(stripComments(typ)), "/"); !balanced(typ) || strings.ContainsAny(t+sub, "()<>@,;:\\\"[]?=/ \t") {
		// Not token/token: readers end the type, and begin the
		// parameters, in different places (an unclosed comment, a quote,
		// a space).
		res.Ambiguous = append(res.Ambiguous, "type")
	}
	type piece struct {
		name, value string
		extended    bool // name* or name*N*: percent-encoded, maybe with a charset
		section     int  // N of name*N; -1 when not a continuation
	}
	var pieces []piece
	seen := map[string]string{}
	// odd is set by a piece readers may take apart differently (junk
	// without "=", a quote or special in a name, junk after a value):
	// where such a piece ends is uncertain, so a boundary after it is too.
	odd := false
	for rest != "" {
		rest = strings.TrimLeft(rest, " \t\r\n;")
		if rest == "" {
			break
		}
		// The name runs to "=" or ";".
		i := strings.IndexAny(rest, "=;")
		if i < 0 || rest[i] == ';' {
			if i < 0 {
				break
			}
			odd = true
			rest = rest[i+1:]
			continue // junk without a value
		}
		rawName := strings.TrimSpace(rest[:i])
		name := strings.ToLower(strings.TrimSpace(stripComments(rawName)))
		rest = strings.TrimLeft(rest[i+1:], " \t\r\n")
		var value, strictValue, after string
		if strings.HasPrefix(rest, `"`) {
			value, rest = quotedString(rest[1:])
			strictValue = value
			after, rest = untilSemicolon(rest)
		} else {
			end := strings.IndexAny(rest, " \t\r\n;\"(")
			if end < 0 {
				end = len(rest)
			}
			value = rest[:end]
			// A strict reader ends a token at any RFC 2045 special, an
			// RFC 2231 one at "*", "'" and "%" too.
			if j := strings.IndexAny(value, `()<>@,;:\"/[]?=*'%`); j >= 0 {
				strictValue = value[:j]
			} else {
				strictValue = value
			}
			after, rest = untilSemicolon(rest[end:])
		}
		if name == "" {
			continue
		}
		oddPiece := strings.TrimSpace(after) != "" || strings.ContainsAny(rawName, `()<>@,;:\"/[]?= \t`)
		if name == "boundary" && (odd || oddPiece) {
			// Something odd in the name, after the value before the next
			// semicolon, or in a piece before: readers take the value
			// apart differently.
			res.Ambiguous = appendOnce(res.Ambiguous, name)
		}
		odd = odd || oddPiece
		p := piece{name: name, value: value, section: -1}
		if base, ext, ok := strings.Cut(name, "*"); ok {
			p.name = base
			p.extended = strings.HasSuffix(ext, "*") || ext == ""
			if n, err := strconv.Atoi(strings.TrimSuffix(ext, "*")); err == nil && n >= 0 && n < 1000 {
				p.section = n
			} else if ext != "" {
				continue // not a form of RFC 2231
			}
		}
		if p.name == "boundary" && (strictValue != value || strings.Contains(value, "=?")) {
			res.Ambiguous = appendOnce(res.Ambiguous, p.name)
		}
		key := fmt.Sprintf("%s*%d*%v", p.name, p.section, p.extended)
		if prev, dup := seen[key]; dup {
			if prev != value {
				res.Ambiguous = appendOnce(res.Ambiguous, p.name)
			}
			continue
		}
		seen[key] = value
		pieces = append(pieces, p)
	}
	// Plain values first; then RFC 2231 values, which win over a plain
	// value of the same name (as RFC 2231 4.1 intends).
	sections := map[string][]piece{}
	for _, p := range pieces {
		if p.name == "boundary" && (p.extended || p.section >= 0) {
			// No mailer writes a boundary in RFC 2231's forms; clients
			// join and decode it differently.
			res.Ambiguous = appendOnce(res.Ambiguous, "boundary")
		}
		switch {
		case p.section >= 0:
			sections[p.name] = append(sections[p.name], p)
		case p.extended:
			res.Params[p.name] = decode2231(p.value, true)
		default:
			if _, ok := res.Params[p.name]; !ok {
				res.Params[p.name] = decodeWords(p.value)
			}
		}
	}
	for name, ps := range sections {
		sort.Slice(ps, func(i, j int) bool { return ps[i].section < ps[j].section })
		var b strings.Builder
		cs := ""
		for i, p := range ps {
			if p.section != i {
				break // a gap: what follows it is not part of the value
			}
			v := p.value
			if p.extended {
				if i == 0 {
					if parts := strings.SplitN(v, "'", 3); len(parts) == 3 {
						cs, v = parts[0], parts[2]
					}
				}
				v = unescapePercent(v)
			}
			b.WriteString(v)
		}
		res.Params[name] = toUTF8(cs, b.String())
	}
	return res
}

// quotedString reads a quoted string's content (after the opening quote):
// backslash escapes the next character; an unterminated one runs to the
// end. It returns the content and what follows the closing quote.
func quotedString(s string) (string, string) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), ""
}

// untilSemicolon splits what follows a value at the next semicolon outside
// a quoted string: what comes before it (junk, a comment) and after it.
func untilSemicolon(s string) (string, string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && inQuote:
			i++
		case s[i] == '"':
			inQuote = !inQuote
		case s[i] == ';' && !inQuote:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// stripComments removes RFC 822 comments (nested parentheses).
func stripComments(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	var b strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// balanced: every comment's parentheses are closed.
func balanced(s string) bool {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			if depth == 0 {
				return false
			}
			depth--
		}
	}
	return depth == 0
}

// decode2231 decodes an RFC 2231 extended value (charset'lang'%XX…).
func decode2231(v string, withCharset bool) string {
	cs := ""
	if withCharset {
		if parts := strings.SplitN(v, "'", 3); len(parts) == 3 {
			cs, v = parts[0], parts[2]
		}
	}
	return toUTF8(cs, unescapePercent(v))
}

func unescapePercent(v string) string {
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// toUTF8 converts s from charset cs (empty: as it is).
func toUTF8(cs, s string) string {
	if cs == "" || strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "us-ascii") {
		return s
	}
	r, err := charset.Reader(cs, strings.NewReader(s))
	if err != nil {
		return s
	}
	var b strings.Builder
	buf := make([]byte, 512)
	for {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err != nil || b.Len() > 64*1024 {
			break
		}
	}
	return b.String()
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// decodeWords decodes RFC 2047 encoded words in a parameter value (not
// allowed there, but written by many mailers and read by every client).
func decodeWords(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
