package message

import (
	"bytes"
	"encoding/base64"
	"io"
)

// base64Reader decodes a base64 body (RFC 2045 6.8) in blocks. go-message
// decodes base64 through three readers that each touch every byte (one
// turning spaces into LFs, encoding/base64's newline filter, its decoder);
// on mail that is mostly base64 attachments that was a tenth of the
// daemon's CPU. Here whole lines go to base64.StdEncoding.Decode at once
// (it skips CR and LF itself); only a block it refuses (a space or tab, a
// line not a multiple of 4, bad bytes) takes the slow path, which drops the
// white space byte by byte and decodes the whole quanta.
//
// What it accepts is what go-message accepts: CR, LF, space and tab
// anywhere are ignored (go-message turns a space or tab into a line break
// for continuation indents), anything else outside the alphabet is an
// error, returned after the bytes decoded before the block it is in.
type base64Reader struct {
	r     io.Reader
	buf   []byte // raw input; buf[:n] read and not yet decoded
	n     int
	rerr  error  // from r: the input ends
	clean []byte // slow path: white space removed, not yet decoded (fewer than 4 bytes between blocks)
	out   []byte // decoded, not yet returned
	dec   []byte // backing array of out
	err   error  // returned once out is empty
}

const base64Block = 32 * 1024

func newBase64Reader(r io.Reader) *base64Reader {
	return &base64Reader{r: r, buf: make([]byte, base64Block)}
}

// isSpace64 marks the bytes a base64 body may hold between its characters.
var isSpace64 = [256]bool{'\r': true, '\n': true, ' ': true, '\t': true}

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
	if len(b.clean) == 0 && len(block) > 0 {
		b.grow(len(block))
		if m, err := base64.StdEncoding.Decode(b.dec, block); err == nil {
			b.out = b.dec[:m]
			return
		}
	}
	for _, c := range block {
		if !isSpace64[c] {
			b.clean = append(b.clean, c)
		}
	}
	q := len(b.clean)
	if !end {
		q -= q % 4
	}
	if q == 0 {
		return
	}
	b.grow(q)
	m, err := base64.StdEncoding.Decode(b.dec, b.clean[:q])
	b.out = b.dec[:m]
	if err != nil {
		b.err = err
		return
	}
	b.clean = append(b.clean[:0], b.clean[q:]...)
}

func (b *base64Reader) grow(encoded int) {
	if n := base64.StdEncoding.DecodedLen(encoded); cap(b.dec) < n {
		b.dec = make([]byte, n)
	}
	b.dec = b.dec[:cap(b.dec)]
}
