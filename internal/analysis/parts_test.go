package analysis

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestPartsKeepContentInMemoryThenInAFile(t *testing.T) {
	p := NewParts(t.TempDir(), 100, 0)
	defer p.Close()
	contents := []string{"first part", strings.Repeat("x", 80), strings.Repeat("y", 500), ""}
	for i, c := range contents {
		if n, err := p.Add(strings.NewReader(c)); err != nil || n != i {
			t.Fatalf("add %d: %d %v", i, n, err)
		}
		if i == 1 && p.file != nil {
			t.Fatal("spilled to a file under the memory bound")
		}
	}
	if p.file == nil {
		t.Fatal("did not spill past the memory bound")
	}
	for i, c := range contents {
		got, err := io.ReadAll(p.Open(i))
		if err != nil || !bytes.Equal(got, []byte(c)) {
			t.Fatalf("part %d: %q %v", i, got[:min(len(got), 20)], err)
		}
	}
}

// TestPartInMemoryOffersItsBytes: a part kept in memory hands archive.Peek
// what is left to read, so an archive is opened without a copy.
func TestPartInMemoryOffersItsBytes(t *testing.T) {
	p := NewParts(t.TempDir(), 1<<20, 30)
	defer p.Close()
	p.Add(strings.NewReader("first"))
	p.Add(strings.NewReader("second part"))
	r, ok := p.Open(1).(interface{ Bytes() []byte })
	if !ok {
		t.Fatal("a part in memory has no Bytes")
	}
	if got := string(r.Bytes()); got != "second part" {
		t.Fatalf("Bytes %q", got)
	}
	io.ReadFull(r.(io.Reader), make([]byte, 7))
	if got := string(r.Bytes()); got != "part" {
		t.Fatalf("Bytes after 7 read: %q", got)
	}
}

// TestMLContentSameInMemoryAndOnDisk: the ML step scans a part in memory
// where it lies and reads a spilled one; both give the first mlPrefix
// bytes, and the in-memory slice cannot be appended into the kept parts.
func TestMLContentSameInMemoryAndOnDisk(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), mlPrefix/16+100) // past the prefix
	small := []byte("MZ small attachment")
	for _, maxMem := range []int64{64 << 20, 10} { // in memory; spilled at once
		p := NewParts(t.TempDir(), maxMem, 0)
		p.Add(bytes.NewReader(small))
		p.Add(bytes.NewReader(big))
		p.Add(bytes.NewReader(small))
		_, inMem := p.Open(0).(interface{ Bytes() []byte })
		if inMem != (maxMem > 10) {
			t.Fatalf("maxMem %d: in memory %v", maxMem, inMem)
		}
		for i, want := range [][]byte{small, big[:mlPrefix], small} {
			got, err := mlContent(p.Open(i))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("maxMem %d part %d: %d bytes, %v; want %d", maxMem, i, len(got), err, len(want))
			}
			if cap(got) > len(got) && inMem {
				t.Fatalf("part %d: the slice reaches into the next part (cap %d > len %d)", i, cap(got), len(got))
			}
		}
		p.Close()
	}
}
