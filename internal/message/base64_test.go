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

	"mailinspector/internal/testutil"
)

// goMessageBase64 decodes body the way go-message does, for the benchmark.
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

func ourQP(body []byte, oneByte bool) ([]byte, error) {
	var r io.Reader = bytes.NewReader(body)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	return io.ReadAll(newQPReader(r))
}

// wrapBase64 encodes data as a mail body: lines of lineLen characters ended
// by sep, with an indent before each.
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

func TestBase64ReaderDecodesWellFormedBodies(t *testing.T) {
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
		}
	}
}

// malformedBodies are transfer-encoded bodies a strict decoder refuses and
// clients decode anyway.
var malformedBase64 = []string{
	"!!!not base64***\r\n", "QUJD\r\nQU", "QUJD\x00QUJD\r\n", "Q===\r\n", "QUJD\r\nQQ==QUJD", "QQ=QUJD\r\n", "=QUJD", "QU=\r\n=JD",
	"QUJD!REVG\r\nR0hJ\r\n", "QU JD\tRE\r\nVG\r\n", "Q", "QUJDR", "QUJD====", "QUJD\r\n-- \r\nsig\r\n",
}

var malformedQP = []string{
	"caf=E9 =\r\nsoft", "=XZ=4", "==41", "=\r", "a=\r\nb=\nc", "=4", "=", "tail  \r\nws\t\r\n", "=\rjunk\nnext", "=e9=E9=3d=3D",
	"line=20\r\n", "\x00\x80\xff=FF",
}

// TestDecodersAgreeWithPython: on malformed bodies, base64 and
// quoted-printable decode to exactly what Python's email package gives
// (get_payload(decode=True), the stand-in for a lenient client), in
// whatever pieces the input arrives: a client shows those bytes, so the
// walk must scan them.
func TestDecodersAgreeWithPython(t *testing.T) {
	py := testutil.StartPyEmail(t)
	for _, c := range []struct {
		kind   string
		bodies []string
		ours   func([]byte, bool) ([]byte, error)
	}{{"b64", malformedBase64, ourBase64}, {"qp", malformedQP, ourQP}} {
		for _, body := range c.bodies {
			checkAgainstPython(t, py, c.kind, []byte(body), c.ours)
		}
	}
}

func checkAgainstPython(t *testing.T, py *testutil.PyEmail, kind string, body []byte, ours func([]byte, bool) ([]byte, error)) {
	t.Helper()
	ref, err := py.Decode(kind, body)
	if err != nil {
		t.Fatalf("%s %q: python: %v", kind, body, err)
	}
	for _, oneByte := range []bool{false, true} {
		got, err := ours(body, oneByte)
		if err != nil {
			t.Fatalf("%s %q: %v", kind, body, err)
		}
		if !bytes.Equal(got, ref) && !(kind == "b64" && pythonGaveUp(body, ref, got)) {
			t.Fatalf("%s %q (one byte at a time: %v): ours %q, python %q", kind, body, oneByte, got, ref)
		}
	}
}

// pythonGaveUp: with one character left over, Python returns the body
// undecoded (bpo-27397); the walk decodes what it can and says so.
func pythonGaveUp(body, ref, got []byte) bool {
	r := newBase64Reader(bytes.NewReader(body))
	_, err := io.ReadAll(r)
	lines := bytes.ReplaceAll(bytes.ReplaceAll(body, []byte("\r"), nil), []byte("\n"), nil)
	return err == nil && r.Dangling && bytes.Equal(ref, lines)
}

// FuzzTransferDecoders: on any body, base64 and quoted-printable decode to
// what Python's email package gives, in whatever pieces the input arrives.
func FuzzTransferDecoders(f *testing.F) {
	for _, b := range malformedBase64 {
		f.Add(false, []byte(b))
	}
	for _, b := range malformedQP {
		f.Add(true, []byte(b))
	}
	f.Fuzz(func(t *testing.T, qp bool, body []byte) {
		py := testutil.StartPyEmail(t)
		if qp {
			checkAgainstPython(t, py, "qp", body, ourQP)
		} else {
			checkAgainstPython(t, py, "b64", body, ourBase64)
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
