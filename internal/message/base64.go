package message

import (
	"bytes"
	"encoding/base64"
	"io"
)

// base64Reader decodes a base64 body (RFC 2045 6.8) in blocks, and as
// leniently as mail clients do: what a client decodes and shows, the walk
// must decode and scan (a single bad byte used to end our decoding where
// clients went on). The rules are those of Python's email package
// (binascii.a2b_base64 without strict mode, the differential test's
// reference):
//
//   - bytes outside the alphabet (white space, junk) are skipped;
//   - "=" completes the quantum it pads; what follows a completed pad is
//     not decoded (a client that went on would see more: Blind says so);
//   - "=" where no quantum can be padded (first or second character) is
//     skipped; a lone "=" after two characters waits for a second one;
//   - an incomplete last quantum of two or three characters decodes to the
//     bytes it holds.
//
// The fast path hands whole lines to base64.StdEncoding.Decode at once (it
// skips CR and LF itself); only a block it refuses takes the slow path,
// byte by byte. go-message decoded base64 through three readers that each
// touched every byte: on mail that is mostly attachments that was a tenth
// of the daemon's CPU.
type base64Reader struct {
	r     io.Reader
	buf   []byte // raw input; buf[:n] read and not yet decoded
	n     int
	rerr  error  // from r: the input ends
	quad  []byte // slow path: alphabet characters not yet decoded (< 4)
	pads  int    // "=" seen after a quantum's second or third character
	ended bool   // a pad completed the data: the rest is not decoded
	out   []byte // decoded, not yet returned
	dec   []byte // backing array of out
	err   error  // returned once out is empty

	// Junk counts bytes outside the alphabet (not white space) that were
	// skipped; AfterPad is set when alphabet characters follow a completed
	// pad (clients differ on those); Dangling when one character was left
	// over at the end (nothing can be made of it).
	Junk     int
	AfterPad bool
	Dangling bool
}

const base64Block = 32 * 1024

func newBase64Reader(r io.Reader) *base64Reader {
	return &base64Reader{r: r, buf: make([]byte, base64Block)}
}

// isSpace64 marks the bytes a base64 body may hold between its characters.
var isSpace64 = [256]bool{'\r': true, '\n': true, ' ': true, '\t': true}

// b64val is the value of an alphabet byte; 0xff for any other byte.
var b64val = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		t[c] = byte(i)
	}
	return t
}()

func (b *base64Reader) Read(p []byte) (int, error) {
	for len(b.out) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		b.fill()
	}
	n := copy(p, b.out)
	b.out = b.out[n:]
	return n, nil
}

// fill reads more input and decodes its whole lines (all of it at the end).
func (b *base64Reader) fill() {
	if b.rerr == nil {
		m, err := b.r.Read(b.buf[b.n:])
		b.n += m
		b.rerr = err
	}
	end := b.rerr != nil
	block := b.buf[:b.n]
	if !end {
		i := bytes.LastIndexByte(block, '\n')
		if i < 0 && b.n < len(b.buf) {
			return // no whole line yet
		}
		if i >= 0 {
			block = block[:i+1]
		} // else a buffer with no line end: all of it, on the slow path
	}
	b.decode(block, end)
	b.n = copy(b.buf, b.buf[len(block):b.n])
	if end && b.err == nil {
		b.err = b.rerr
	}
}

func (b *base64Reader) decode(block []byte, end bool) {
	if b.ended {
		b.afterEnd(block)
		return
	}
	if len(b.quad) == 0 && b.pads == 0 && len(block) > 0 {
		b.grow(len(block))
		if m, err := base64.StdEncoding.Decode(b.dec, block); err == nil {
			b.out = b.dec[:m]
			// A pad at the end of the block completed the data.
			if t := bytes.TrimRight(block, " \t\r\n"); len(t) > 0 && t[len(t)-1] == '=' {
				b.ended = true
			}
			return
		}
	}
	b.grow(len(block) + len(b.quad))
	out := b.dec[:0]
	for i, c := range block {
		v := b64val[c]
		if v == 0xff {
			switch {
			case c == '=':
				switch q := len(b.quad); {
				case q == 3 || q == 2 && b.pads == 1:
					out = b.flush(out)
					b.ended = true
					b.afterEnd(block[i+1:])
					b.out = out
					return
				case q == 2:
					b.pads = 1
				}
			case !isSpace64[c]:
				b.Junk++
			}
			continue
		}
		b.pads = 0
		b.quad = append(b.quad, c)
		if len(b.quad) == 4 {
			out = b.flush(out)
		}
	}
	if end {
		if len(b.quad) == 1 {
			b.Dangling = true
			b.quad = b.quad[:0]
		}
		out = b.flush(out)
	}
	b.out = out
}

// flush decodes the characters of b.quad (2 to 4 of them) onto out.
func (b *base64Reader) flush(out []byte) []byte {
	q := b.quad
	if len(q) < 2 {
		b.quad = q[:0]
		return out
	}
	var v uint32
	for i := 0; i < 4; i++ {
		v <<= 6
		if i < len(q) {
			v |= uint32(b64val[q[i]])
		}
	}
	out = append(out, byte(v>>16))
	if len(q) > 2 {
		out = append(out, byte(v>>8))
	}
	if len(q) > 3 {
		out = append(out, byte(v))
	}
	b.quad, b.pads = q[:0], 0
	return out
}

// afterEnd looks at input after a completed pad: nothing is decoded, but
// alphabet characters there are remembered.
func (b *base64Reader) afterEnd(rest []byte) {
	if b.AfterPad {
		return
	}
	for _, c := range rest {
		if b64val[c] != 0xff {
			b.AfterPad = true
			return
		}
	}
}

func (b *base64Reader) grow(encoded int) {
	if n := base64.StdEncoding.DecodedLen(encoded) + 3; cap(b.dec) < n {
		b.dec = make([]byte, n)
	}
	b.dec = b.dec[:cap(b.dec)]
}
