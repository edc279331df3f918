package smtpd

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"
)

// guardReference is the header guard's rule written plainly: the header's
// lines up to its end, without the fields of our namespace.
func guardReference(in []byte) []byte {
	var out []byte
	dropping, first := false, true
	for len(in) > 0 {
		i := bytes.IndexByte(in, '\n')
		line := in
		if i >= 0 {
			line = in[:i+1]
		}
		in = in[len(line):]
		lower := strings.ToLower(string(line))
		f := first
		first = false
		switch {
		case line[0] == ' ' || line[0] == '\t':
			if dropping {
				continue
			}
		case string(line) == "\r\n" || string(line) == "\n":
			return append(append(out, line...), in...)
		case f && strings.HasPrefix(string(line), "From "), line[0] == ':':
			dropping = false
		case fieldLine.Match(line):
			dropping = strings.HasPrefix(lower, "x-mailinspector-")
			if dropping {
				continue
			}
		default:
			return append(append(out, line...), in...)
		}
		out = append(out, line...)
	}
	return out
}

// fieldLine: a name of printable US-ASCII but colon, white space, a colon.
var fieldLine = regexp.MustCompile(`^[\x21-\x39\x3b-\x7e]+[ \t]*:`)

func guard(in []byte, oneByte bool, max int) ([]byte, error) {
	var r io.Reader = bytes.NewReader(in)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	return io.ReadAll(newHeaderGuard(r, max))
}

// TestHeaderGuardDropsOurFields: every field of the appliance's namespace
// that a sender wrote is gone (folded ones whole), whatever the case; the
// rest of the header and the whole body stay byte for byte, however the
// input arrives.
func TestHeaderGuardDropsOurFields(t *testing.T) {
	in := "Received: from x\r\n\tby y\r\nX-MailInspector-Risk: none\r\nSubject: hi\r\nx-mailinspector-ers: listed;\r\n  folded on\r\n" +
		"X-MAILINSPECTOR-Queue-ID: forged\r\nX-Mailer: ok\r\n\r\nX-MailInspector-Risk: in the body stays\r\n"
	want := "Received: from x\r\n\tby y\r\nSubject: hi\r\nX-Mailer: ok\r\n\r\nX-MailInspector-Risk: in the body stays\r\n"
	for _, oneByte := range []bool{false, true} {
		got, err := guard([]byte(in), oneByte, 1<<20)
		if err != nil || string(got) != want {
			t.Fatalf("one byte %v: %q %v\nwant %q", oneByte, got, err, want)
		}
	}
	// As the walk reads it: an mbox From line first, a field with no name,
	// and a line that is no field ends the header.
	in = "From bob@example.org Fri Nov 27\r\n: nameless\r\nX-MailInspector-Risk: none\r\nnot a field\r\nX-MailInspector-Risk: body now\r\n"
	want = "From bob@example.org Fri Nov 27\r\n: nameless\r\nnot a field\r\nX-MailInspector-Risk: body now\r\n"
	if got, err := guard([]byte(in), true, 1<<20); err != nil || string(got) != want {
		t.Fatalf("lenient end: %q %v", got, err)
	}
}

func TestHeaderGuardRefusesAHugeHeader(t *testing.T) {
	in := []byte("X-Long: " + strings.Repeat("a", 300*1024) + "\r\n\r\nbody\r\n")
	if _, err := guard(in, false, 256*1024); !errors.Is(err, errHeaderTooBig) {
		t.Fatalf("err %v", err)
	}
	// A long body is not a long header.
	in = []byte("Subject: x\r\n\r\n" + strings.Repeat("b", 300*1024))
	if got, err := guard(in, false, 256*1024); err != nil || !bytes.Equal(got, in) {
		t.Fatalf("body: %d bytes, %v", len(got), err)
	}
}

// FuzzHeaderGuard: the guard gives what the plain rule gives, in whatever
// pieces the input arrives.
func FuzzHeaderGuard(f *testing.F) {
	for _, s := range []string{"X-MailInspector-Risk: a\r\n b\r\nS: c\r\n\r\nd", "From x\r\nX-Mailinspector-x:1\r\n", "a\r\n\r\n", ":x\r\nX-MailInspector-A : b\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want := guardReference(in)
		for _, oneByte := range []bool{false, true} {
			got, err := guard(in, oneByte, 1<<20)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%q (one byte %v): %q %v, want %q", in, oneByte, got, err, want)
			}
		}
	})
}

// TestHugeHeaderGets552AndNothingIsKept: a header block past the limit is
// refused after the data with 552 5.3.4 (not analysed blind, not delivered
// untagged); the session goes on.
func TestHugeHeaderGets552AndNothingIsKept(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxHeaderBytes = 64 * 1024; c.MaxLineLength = 1 << 20 })
	r := dialRaw(t, h.addr)
	r.greet()
	r.expect("MAIL FROM:<a@example.org>", "250")
	r.expect("RCPT TO:<b@example.com>", "250")
	r.expect("DATA", "354")
	r.expect("Subject: big\r\n"+strings.Repeat("X-Pad: "+strings.Repeat("x", 90)+"\r\n", 800)+"\r\nbody\r\n.", "552 5.3.4")
	r.expect("NOOP", "250")
	if ids := h.accepted(); len(ids) != 0 {
		t.Fatalf("accepted %v", ids)
	}
	if ids, _ := h.spool.IDs(); len(ids) != 0 {
		t.Fatalf("spool keeps %v", ids)
	}
}
