package smtp

// Tests of Mail Inspector's patch (see PATCHES.md): the fast paths of
// dataReader and lineLimitReader must give exactly what the published
// byte-at-a-time code gives, for any input, any buffer size and any way the
// input arrives.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// referenceData is v0.25.1's dataReader state machine, byte by byte, with
// our fix of ".\r" followed by another byte (PATCHES.md): the message data
// it returns and whether it saw the end-of-data line.
func referenceData(in []byte, limit int64) (out []byte, err error) {
	const (
		stateBeginLine = iota
		stateDot
		stateDotCR
		stateCR
		stateData
		stateEOF
	)
	state := stateBeginLine
	for _, c := range in {
		if state == stateEOF {
			break
		}
		switch state {
		case stateBeginLine:
			if c == '.' {
				state = stateDot
				continue
			}
			if c == '\r' {
				state = stateCR
				break
			}
			state = stateData
		case stateDot:
			if c == '\r' {
				state = stateDotCR
				continue
			}
			state = stateData
		case stateDotCR:
			if c == '\n' {
				state = stateEOF
				continue
			}
			out = append(out, '\r') // the fix: the CR is data
			state = stateData
		case stateCR:
			if c == '\n' {
				state = stateBeginLine
				break
			}
			state = stateData
		case stateData:
			if c == '\r' {
				state = stateCR
			}
		}
		out = append(out, c)
		// v0.25.1 refuses once limit bytes have come, before it looks
		// at what follows: a message of exactly the limit is too large.
		if limit > 0 && int64(len(out)) >= limit {
			return out, ErrDataTooLarge
		}
	}
	if state != stateEOF {
		return out, io.ErrUnexpectedEOF
	}
	return out, nil
}

// readPatched reads in through the patched dataReader, with the given
// bufio size, chunking of the source and read size.
func readPatched(in []byte, limit int64, bufSize int, src func(io.Reader) io.Reader, readSize int) ([]byte, error) {
	dr := &dataReader{r: bufio.NewReaderSize(src(bytes.NewReader(in)), bufSize)}
	if limit > 0 {
		dr.limited, dr.n = true, limit
	}
	var out []byte
	buf := make([]byte, readSize)
	for {
		n, err := dr.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func checkSame(t *testing.T, in []byte, limit int64) {
	t.Helper()
	want, wantErr := referenceData(in, limit)
	sources := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one-byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
	}
	for name, src := range sources {
		for _, bufSize := range []int{16, 64, 4096} {
			for _, readSize := range []int{1, 3, 512, 32 * 1024} {
				got, err := readPatched(in, limit, bufSize, src, readSize)
				if !errors.Is(err, wantErr) && !(wantErr == nil && err == nil) {
					t.Fatalf("%s buf %d read %d: error %v, want %v (input %q)", name, bufSize, readSize, err, wantErr, in)
				}
				if wantErr == ErrDataTooLarge {
					continue // both refuse; how much came before is not part of the contract
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%s buf %d read %d: got %q, want %q (input %q)", name, bufSize, readSize, got, want, in)
				}
			}
		}
	}
}

var dataCases = []string{
	"Subject: a\r\n\r\nbody\r\n.\r\n",
	"..leading dot\r\n.\r\n",
	"bare\nLF\n.\n.\r\n",                       // bare LF never ends data
	"smuggle\r\n\n.\r\nMAIL FROM:<x>\r\n.\r\n", // <LF>.<CR><LF> is data
	"cr\rinside\r\r\n.\r\n",
	"no end\r\n",
	"",
	".\r\n",
	"long " + string(bytes.Repeat([]byte("x"), 5000)) + "\r\n.\r\n",
	"after end\r\n.\r\nQUIT\r\n",
}

func TestDataReaderFastPathSameAsByteWise(t *testing.T) {
	for _, c := range dataCases {
		checkSame(t, []byte(c), 0)
		checkSame(t, []byte(c), 7)
	}
}

func FuzzDataReaderFastPath(f *testing.F) {
	for _, c := range dataCases {
		f.Add([]byte(c), uint16(0))
	}
	f.Fuzz(func(t *testing.T, in []byte, limit uint16) {
		checkSame(t, in, int64(limit))
	})
}

// referenceLineLimit is v0.25.1's count, byte by byte: how many bytes pass
// before ErrTooLongLine, or all of them.
func referenceLineLimit(in []byte, limit int) (int, bool) {
	cur := 0
	for i, c := range in {
		if c == '\n' {
			cur = 0
		}
		cur++
		if cur > limit {
			return i, true
		}
	}
	return len(in), false
}

func TestLineLimitReaderSameAsByteWise(t *testing.T) {
	inputs := []string{"", "a\r\n", "12345\r\n123\r\n", "1234567890\r\n", "\n\n\n", "123456\n1234567"}
	for _, in := range inputs {
		for _, chunk := range []int{1, 2, 5, 100} {
			checkLineLimit(t, []byte(in), 6, chunk)
		}
	}
}

func FuzzLineLimitReader(f *testing.F) {
	f.Add([]byte("12345\r\n1234567\r\n"), uint8(6), uint8(3))
	f.Fuzz(func(t *testing.T, in []byte, limit, chunk uint8) {
		if limit == 0 || chunk == 0 {
			return
		}
		checkLineLimit(t, in, int(limit), int(chunk))
	})
}

// checkLineLimit feeds in chunk bytes per Read: the patched reader must fail
// in the chunk where the reference fails, pass every chunk before it, and
// keep failing after.
func checkLineLimit(t *testing.T, in []byte, limit, chunk int) {
	t.Helper()
	at, tooLong := referenceLineLimit(in, limit)
	r := &lineLimitReader{R: bytes.NewReader(in), LineLimit: limit}
	buf := make([]byte, chunk)
	passed := 0
	for {
		n, err := r.Read(buf)
		if errors.Is(err, ErrTooLongLine) {
			if !tooLong || at < passed || at >= passed+chunk {
				t.Fatalf("input %q limit %d chunk %d: too long after %d bytes, reference says %v at %d", in, limit, chunk, passed, tooLong, at)
			}
			if _, err := r.Read(buf); !errors.Is(err, ErrTooLongLine) {
				t.Fatalf("input %q: the error did not stay: %v", in, err)
			}
			return
		}
		passed += n
		if err == io.EOF {
			if tooLong {
				t.Fatalf("input %q limit %d chunk %d: all passed, reference fails at %d", in, limit, chunk, at)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestDotCRIsNotDropped: a line that starts with ".\r" and goes on is
// dot-unstuffed to "\r…" (v0.25.1 dropped the CR too, so a bare CR there
// reached neither the server's checks nor the message).
func TestDotCRIsNotDropped(t *testing.T) {
	r := &dataReader{r: bufio.NewReader(bytes.NewReader([]byte("a\r\n.\rX\r\n.\r\n")))}
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "a\r\n\rX\r\n" {
		t.Fatalf("%q %v", got, err)
	}
}
