package message

import (
	"bytes"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	gomessage "github.com/emersion/go-message"
)

// goMessageBase64 decodes body the way go-message does (its reader for
// Content-Transfer-Encoding: base64), the reference for base64Reader.
func goMessageBase64(body []byte) ([]byte, error) {
	h := gomessage.Header{}
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Transfer-Encoding", "base64")
	e, err := gomessage.New(h, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(e.Body)
}

func ourBase64(body []byte, oneByte bool) ([]byte, error) {
	var r io.Reader = bytes.NewReader(body)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	return io.ReadAll(newBase64Reader(r))
}

// wrapBase64 encodes data as a mail body: lines of lineLen characters ended
// by sep, with an indent before each (go-message accepts indents).
func wrapBase64(data []byte, lineLen int, sep, indent string) []byte {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 0 {
		n := min(lineLen, len(enc))
		b.WriteString(indent + enc[:n] + sep)
		enc = enc[n:]
	}
	return []byte(b.String())
}

func TestBase64ReaderDecodesWhatGoMessageDecodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 2, 3, 4, 57, 100, base64Block - 1, base64Block, 3*base64Block + 7, 300000} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.IntN(256))
		}
		for _, form := range []struct {
			line        int
			sep, indent string
		}{{76, "\r\n", ""}, {76, "\n", ""}, {64, "\r\n", " "}, {1 << 30, "", ""}, {4, "\r\n", "\t"}} {
			body := wrapBase64(data, form.line, form.sep, form.indent)
			for _, oneByte := range []bool{false, true} {
				if oneByte && size > 5000 {
					continue
				}
				got, err := ourBase64(body, oneByte)
				if err != nil {
					t.Fatalf("size %d line %d: %v", size, form.line, err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("size %d line %d one-byte %v: decoded %d bytes, not the data", size, form.line, oneByte, len(got))
				}
			}
			if ref, err := goMessageBase64(body); err != nil || !bytes.Equal(ref, data) {
				t.Fatalf("reference disagrees with the data (size %d): %v", size, err)
			}
		}
	}
}

func TestBase64ReaderRefusesWhatGoMessageRefuses(t *testing.T) {
	for _, body := range []string{"!!!not base64***\r\n", "QUJD\r\nQU", "QUJD\x00QUJD\r\n", "Q===\r\n"} {
		_, refErr := goMessageBase64([]byte(body))
		_, err := ourBase64([]byte(body), false)
		if refErr == nil || err == nil {
			t.Errorf("%q: go-message error %v, ours %v: want both to refuse", body, refErr, err)
		}
	}
}

// FuzzBase64Reader: on any input, when go-message decodes a body without
// error and the padding comes only at the end, ours decodes the same bytes
// without error, in whatever pieces the input arrives.
func FuzzBase64Reader(f *testing.F) {
	f.Add([]byte("QUJD\r\nREVG\r\n"))
	f.Add([]byte(" QUJ\tD RE\r\nVG==\r\n"))
	f.Add([]byte("QQ==QUJD"))
	f.Add([]byte("!!!"))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := ourBase64(body, false)
		got1, err1 := ourBase64(body, true)
		ref, refErr := goMessageBase64(body)
		trimmed := bytes.TrimRight(body, "=\r\n \t")
		if refErr != nil || bytes.IndexByte(trimmed, '=') >= 0 {
			return // malformed: both say so, or the pieces decide (as in go-message)
		}
		if err != nil || !bytes.Equal(got, ref) {
			t.Fatalf("%q: ours %q %v, go-message %q", body, got, err, ref)
		}
		if err1 != nil || !bytes.Equal(got1, ref) {
			t.Fatalf("%q byte by byte: ours %q %v, go-message %q", body, got1, err1, ref)
		}
	})
}

func BenchmarkBase64Reader(b *testing.B) {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	body := wrapBase64(data, 76, "\r\n", "")
	b.Run("ours", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			io.Copy(io.Discard, newBase64Reader(bytes.NewReader(body)))
		}
	})
	b.Run("go-message", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			goMessageBase64(body)
		}
	})
}
