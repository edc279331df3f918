package analysis

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// Parts keeps the decoded content of a message's parts for the stages
// after the extraction, so that each part is decoded once (decoding the
// same base64 in every stage was the largest cost of analysis). Content
// stays in memory up to a bound, then moves to one scratch file.
type Parts struct {
	dir    string // where a scratch file goes
	maxMem int64
	mem    []byte
	file   *os.File
	size   int64
	spans  []span
}

type span struct{ off, n int64 }

// NewParts makes a store that spills to a file in dir past maxMem bytes.
// sizeHint is the message's size: decoding only shrinks it (base64 by a
// quarter), so reserving that much up front spares the copies of a slice
// grown by doubling (about 5% of the daemon's CPU under the harness).
func NewParts(dir string, maxMem, sizeHint int64) *Parts {
	p := &Parts{dir: dir, maxMem: maxMem}
	if n := min(sizeHint, maxMem); n > 0 {
		p.mem = make([]byte, 0, n)
	}
	return p
}

// Add stores the next part's content and returns its index.
func (p *Parts) Add(r io.Reader) (int, error) {
	start := p.size
	buf := make([]byte, 32*1024)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if err := p.write(buf[:n]); err != nil {
				return 0, err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			// A damaged body: keep what came, the walk reports the rest.
			break
		}
	}
	p.spans = append(p.spans, span{start, p.size - start})
	return len(p.spans) - 1, nil
}

func (p *Parts) write(b []byte) error {
	if p.file == nil && p.size+int64(len(b)) > p.maxMem {
		f, err := os.CreateTemp(p.dir, "parts-*")
		if err != nil {
			return fmt.Errorf("scratch file: %w", err)
		}
		os.Remove(f.Name()) // gone from the directory; gone for good on Close
		if _, err := f.Write(p.mem); err != nil {
			f.Close()
			return err
		}
		p.file, p.mem = f, nil
	}
	if p.file != nil {
		if _, err := p.file.WriteAt(b, p.size); err != nil {
			return err
		}
	} else {
		p.mem = append(p.mem, b...)
	}
	p.size += int64(len(b))
	return nil
}

// Len is the number of parts stored.
func (p *Parts) Len() int { return len(p.spans) }

// Open returns part i's content.
func (p *Parts) Open(i int) io.Reader {
	s := p.spans[i]
	if p.file != nil {
		return io.NewSectionReader(p.file, s.off, s.n)
	}
	b := p.mem[s.off : s.off+s.n : s.off+s.n]
	return &memPart{Reader: bytes.NewReader(b), b: b}
}

// memPart is a kept part in memory. Bytes (what is left to read) lets
// archive.Peek take an archive as it is instead of copying it.
type memPart struct {
	*bytes.Reader
	b []byte
}

func (m *memPart) Bytes() []byte { return m.b[len(m.b)-m.Len():] }

// Close drops the content.
func (p *Parts) Close() {
	if p.file != nil {
		p.file.Close()
	}
	p.mem, p.file, p.spans = nil, nil, nil
}
