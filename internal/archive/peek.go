package archive

import (
	"bytes"
	"io"

	"mailinspector/internal/message"
)

// Peeked is content after a look at its first bytes: an archive is read
// into memory (within the limit) so it can be opened; anything else stays
// a stream.
type Peeked struct {
	TrueType string
	Data     []byte    // the whole archive, when it is one and fits
	TooBig   bool      // an archive larger than the limit
	Stream   io.Reader // the whole content from its first byte
}

// Peek reads the first bytes of r to learn its true type and, for an
// archive of at most maxInMemory bytes, the whole of it.
func Peek(r io.Reader, maxInMemory int64) (Peeked, error) {
	if m, ok := r.(inMemory); ok {
		return peekBytes(m.Bytes(), maxInMemory), nil
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(r, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return Peeked{}, err
	}
	head = head[:n]
	p := Peeked{TrueType: message.TrueType(head), Stream: io.MultiReader(bytes.NewReader(head), r)}
	if !IsArchive(p.TrueType) {
		return p, nil
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(p.Stream, maxInMemory+1)); err != nil {
		return Peeked{}, err
	}
	if int64(buf.Len()) > maxInMemory {
		p.TooBig = true
		p.Stream = io.MultiReader(&buf, r)
		return p, nil
	}
	p.Data = buf.Bytes()
	p.Stream = bytes.NewReader(p.Data)
	return p, nil
}

// inMemory is content already in memory (a *bytes.Buffer, a kept part):
// Bytes returns what is left to read. Peek then copies nothing.
type inMemory interface{ Bytes() []byte }

func peekBytes(b []byte, maxInMemory int64) Peeked {
	p := Peeked{TrueType: message.TrueType(b[:min(len(b), 512)]), Stream: bytes.NewReader(b)}
	if !IsArchive(p.TrueType) {
		return p
	}
	if int64(len(b)) > maxInMemory {
		p.TooBig = true
		return p
	}
	p.Data = b
	return p
}
