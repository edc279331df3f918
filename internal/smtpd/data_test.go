package smtpd

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestLineEndings(t *testing.T) {
	cases := []struct {
		in, normalized string
		bare           bool
	}{
		{"a\r\nb\r\n", "a\r\nb\r\n", false},
		{"", "", false},
		{"a\nb\r\n", "a\r\nb\r\n", true},
		{"a\rb\r\n", "a\r\nb\r\n", true},
		{"a\r\r\n", "a\r\n\r\n", true},
		{"a\r", "a\r\n", true},
		{"\n", "\r\n", true},
		{"x\r\n\n", "x\r\n\r\n", true},
	}
	for _, c := range cases {
		// One byte per read, so every state crosses a read boundary.
		norm, err := io.ReadAll(&lineEndings{r: iotest.OneByteReader(bytes.NewReader([]byte(c.in))), normalize: true})
		if err != nil || string(norm) != c.normalized {
			t.Errorf("normalize %q: %q, %v; want %q", c.in, norm, err, c.normalized)
		}
		_, err = io.ReadAll(&lineEndings{r: bytes.NewReader([]byte(c.in))})
		if c.bare != errors.Is(err, errBareLF) {
			t.Errorf("reject %q: err %v, want bare=%v", c.in, err, c.bare)
		}
	}
}

// FuzzLineEndings: normalizing never leaves a bare CR or LF, never drops a
// byte other than turning line ends into CRLF, and reject mode refuses
// exactly the inputs normalizing changes.
func FuzzLineEndings(f *testing.F) {
	for _, s := range []string{"a\r\nb", "\n.\r\n", "\r.\r", "\r\r\n", "x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		norm, err := io.ReadAll(&lineEndings{r: iotest.HalfReader(bytes.NewReader(in)), normalize: true})
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range norm {
			if c == '\n' && (i == 0 || norm[i-1] != '\r') || c == '\r' && (i+1 == len(norm) || norm[i+1] != '\n') {
				t.Fatalf("bare line end in %q", norm)
			}
		}
		if !bytes.Equal(bytes.ReplaceAll(bytes.ReplaceAll(norm, []byte("\r"), nil), []byte("\n"), nil),
			bytes.ReplaceAll(bytes.ReplaceAll(in, []byte("\r"), nil), []byte("\n"), nil)) {
			t.Fatalf("content changed: %q -> %q", in, norm)
		}
		_, rerr := io.ReadAll(&lineEndings{r: bytes.NewReader(in)})
		if changed := !bytes.Equal(norm, in); changed != errors.Is(rerr, errBareLF) {
			t.Fatalf("%q: normalize changed=%v, reject err=%v", in, changed, rerr)
		}
	})
}
