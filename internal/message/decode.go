package message

import (
	"bytes"
	"io"
	"strings"
)

// transferDecoder undoes a Content-Transfer-Encoding as leniently as mail
// clients do (RFC 2045 6; the rules of Python's email package, the
// differential test's reference, where a choice had to be made). Unknown
// encodings leave the body as it is, as clients show it.
type transferDecoder struct {
	io.Reader
	b64 *base64Reader // when the encoding is base64
	uu  *uuReader     // when it is uuencode
	// Unknown is the encoding's name when it is none the walk knows.
	Unknown string
}

func newTransferDecoder(cte string, body io.Reader, maxUU int64) *transferDecoder {
	switch enc := strings.ToLower(strings.TrimSpace(stripComments(cte))); enc {
	case "base64":
		b := newBase64Reader(body)
		return &transferDecoder{Reader: b, b64: b}
	case "quoted-printable":
		return &transferDecoder{Reader: newQPReader(body)}
	case "x-uuencode", "uuencode", "x-uue", "uue":
		u := newUUReader(body, maxUU)
		return &transferDecoder{Reader: u, uu: u}
	case "", "7bit", "8bit", "binary":
		return &transferDecoder{Reader: body}
	default:
		return &transferDecoder{Reader: body, Unknown: enc}
	}
}

// qpReader decodes quoted-printable (RFC 2045 6.7) the way
// binascii.a2b_qp does: "=XX" with two hex digits is a byte, "=" before a
// line end (or at the very end) is a soft line break, "==" is "=", and an
// "=" followed by anything else stays as it is; trailing white space is
// kept. Runs without "=" are copied at once.
type qpReader struct {
	r        io.Reader
	in       []byte // input read and not yet decoded: in[:n]
	n        int
	rerr     error
	skipToLF bool // inside "=\r…\n", a soft line break
	out      []byte
	dec      []byte
	err      error
}

func newQPReader(r io.Reader) *qpReader { return &qpReader{r: r, in: make([]byte, 32*1024)} }

func (q *qpReader) Read(p []byte) (int, error) {
	for len(q.out) == 0 {
		if q.err != nil {
			return 0, q.err
		}
		q.fill()
	}
	n := copy(p, q.out)
	q.out = q.out[n:]
	return n, nil
}

func (q *qpReader) fill() {
	if q.rerr == nil {
		m, err := q.r.Read(q.in[q.n:])
		q.n += m
		q.rerr = err
	}
	eof := q.rerr != nil
	used := q.decode(q.in[:q.n], eof)
	q.n = copy(q.in, q.in[used:q.n])
	if eof {
		q.err = q.rerr
	}
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// decode decodes in onto q.out and returns how much of in it used (an "="
// near the end waits for more input unless eof).
func (q *qpReader) decode(in []byte, eof bool) int {
	out := q.dec[:0]
	i := 0
	for i < len(in) {
		if q.skipToLF {
			j := bytes.IndexByte(in[i:], '\n')
			if j < 0 {
				i = len(in)
				break
			}
			i += j + 1
			q.skipToLF = false
			continue
		}
		j := bytes.IndexByte(in[i:], '=')
		if j < 0 {
			out = append(out, in[i:]...)
			i = len(in)
			break
		}
		out = append(out, in[i:i+j]...)
		i += j
		if i+1 >= len(in) {
			if eof {
				i = len(in) // "=" at the very end: a soft line break
			}
			break
		}
		switch c := in[i+1]; {
		case c == '\n':
			i += 2
		case c == '\r':
			q.skipToLF = true
			i++
		case c == '=':
			out = append(out, '=')
			i += 2
		case isHex(c):
			if i+2 >= len(in) {
				if !eof {
					q.dec, q.out = out, out
					return i // wait for the second digit
				}
				out = append(out, '=')
				i++
				continue
			}
			if isHex(in[i+2]) {
				out = append(out, unhex(c)<<4|unhex(in[i+2]))
				i += 3
			} else {
				out = append(out, '=')
				i++
			}
		default:
			out = append(out, '=')
			i++
		}
	}
	q.dec, q.out = out, out
	return i
}

// uuReader decodes a body in the uuencode format (Content-Transfer-Encoding
// x-uuencode) as Python's email package does: the lines after "begin MODE
// [NAME]" up to "end" or the end of the body. A body it cannot decode (no
// begin line, an empty line before the end, a character outside the
// format) is given as it is, undecoded, as there. The body is read into
// memory first (up to max bytes; the encoding is rare and old).
type uuReader struct {
	r      io.Reader
	max    int64
	out    *bytes.Reader
	Raw    bool // not decodable: given undecoded
	TooBig bool // longer than max: the rest was not read
}

func newUUReader(r io.Reader, max int64) *uuReader { return &uuReader{r: r, max: max} }

func (u *uuReader) Read(p []byte) (int, error) {
	if u.out == nil {
		u.decode()
	}
	return u.out.Read(p)
}

func (u *uuReader) decode() {
	raw, _ := io.ReadAll(io.LimitReader(u.r, u.max+1))
	if int64(len(raw)) > u.max {
		raw, u.TooBig = raw[:u.max], true
	}
	out, ok := uuDecode(raw)
	if !ok {
		out, u.Raw = raw, true
	}
	u.out = bytes.NewReader(out)
}

// uuDecode decodes a whole uuencoded body; false: it cannot.
func uuDecode(raw []byte) ([]byte, bool) {
	var out []byte
	begun := false
	for rest := raw; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case !begun:
			_, begun = uuBegin(line)
		case len(line) == 0:
			return nil, false // "truncated input"
		case uuEnd(line):
			return out, true
		default:
			if !uuLegal(line) {
				return nil, false
			}
			out = uuDecodeLine(out, line)
		}
	}
	return out, begun
}

// uuLegal: the characters a line's byte count asks for are in the format's
// range (space to backquote).
func uuLegal(line []byte) bool {
	n := int((line[0] - 32) & 63)
	need := (n*4 + 2) / 3
	for i := 1; i <= need && i < len(line); i++ {
		if line[i] < ' ' || line[i] > '`' {
			return false
		}
	}
	return true
}

// uuBegin recognises "begin MODE [NAME]" (MODE in octal) and returns NAME.
func uuBegin(line []byte) (string, bool) {
	s, ok := strings.CutPrefix(strings.TrimRight(string(line), "\r\n"), "begin ")
	if !ok {
		return "", false
	}
	mode, name, _ := strings.Cut(s, " ")
	if mode == "" || len(mode) > 6 {
		return "", false
	}
	for _, c := range mode {
		if c < '0' || c > '7' {
			return "", false
		}
	}
	return strings.TrimSpace(name), true
}

func uuEnd(line []byte) bool { return string(bytes.TrimSpace(line)) == "end" }

// uuDecodeLine decodes one uuencoded line onto out: its first character
// gives the byte count; characters are (c-32)&63; a short line is padded
// with zeros; what follows the counted bytes is ignored (as Python's uu
// does after binascii.a2b_uu refuses it).
func uuDecodeLine(out, line []byte) []byte {
	line = bytes.TrimRight(line, "\r\n")
	if len(line) == 0 {
		return out
	}
	n := int((line[0] - 32) & 63)
	data := line[1:]
	for got, i := 0, 0; got < n; i += 4 {
		var v uint32
		for k := 0; k < 4; k++ {
			v <<= 6
			if i+k < len(data) {
				v |= uint32((data[i+k] - 32) & 63)
			}
		}
		for k := 0; k < 3 && got < n; k++ {
			out = append(out, byte(v>>(16-8*k)))
			got++
		}
	}
	return out
}
