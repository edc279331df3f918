package smtpd

import (
	"os"
	"strings"
	"testing"
)

// The end-of-data variants published with the SMTP smuggling disclosures
// (SEC Consult, December 2023) and the ones that followed: each would let a
// lenient receiver end one message early and read the rest as new commands.
var smugglingSequences = map[string]string{
	"LF.LF":     "\n.\n",
	"LF.CRLF":   "\n.\r\n",
	"CRLF.LF":   "\r\n.\n",
	"CR.CRLF":   "\r.\r\n",
	"CRLF.CR":   "\r\n.\r",
	"CR.CR":     "\r.\r",
	"LF.CR":     "\n.\r",
	"CRLF.NUL":  "\r\n.\x00\r\n",
	"CRCRLF.LF": "\r\r\n.\n",
}

// refusedFor says why a sequence is refused where it is not a bare line
// end: "\r\n.\x00" has a NUL (554 5.6.0). ("\r\n.\r": go-smtp's
// dot-unstuffing used to swallow ".\r" at a line's start; our copy keeps
// the CR, so it is a bare CR like the others.)
var refusedFor = map[string]string{"CRLF.NUL": "554 5.6.0"}

const smuggled = "MAIL FROM:<ceo@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nSubject: smuggled\r\n\r\nforged\r\n"

func smuggle(t *testing.T, h *harness, seq string) (dataReply string) {
	t.Helper()
	r := dialRaw(t, h.addr)
	r.greet()
	r.expect("MAIL FROM:<a@example.org>", "250")
	r.expect("RCPT TO:<b@example.com>", "250")
	r.expect("DATA", "354")
	r.send("Subject: first\r\n\r\nbody" + seq + smuggled + ".\r\n")
	dataReply = r.reply()
	// The next reply must answer our NOOP: had the smuggled commands been
	// read as commands, their replies would come first.
	if got := r.cmd("NOOP"); got != "250 2.0.0 I have successfully done nothing" {
		t.Fatalf("after the message, NOOP got %q: smuggled commands were executed", got)
	}
	return dataReply
}

func TestSmugglingSequencesAreRejected(t *testing.T) {
	h := newHarness(t, nil)
	for name, seq := range smugglingSequences {
		t.Run(name, func(t *testing.T) {
			want := "550 5.5.2"
			if r, ok := refusedFor[name]; ok {
				want = r
			}
			if got := smuggle(t, h, seq); !strings.HasPrefix(got, want) {
				t.Fatalf("DATA reply %q, want %s", got, want)
			}
		})
	}
	if n := len(h.accepted()); n != 0 {
		t.Fatalf("%d messages accepted, want none", n)
	}
}

func TestSmugglingSequencesAreNormalizedIntoOneMessage(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.NormalizeBareLF = true })
	for name, seq := range smugglingSequences {
		t.Run(name, func(t *testing.T) {
			if want, ok := refusedFor[name]; ok {
				if got := smuggle(t, h, seq); !strings.HasPrefix(got, want) {
					t.Fatalf("DATA reply %q, want %s", got, want)
				}
				return
			}
			before := len(h.accepted())
			if got := smuggle(t, h, seq); !strings.HasPrefix(got, "250 2.0.0 OK queued as ") {
				t.Fatalf("DATA reply %q", got)
			}
			ids := h.accepted()
			if len(ids) != before+1 {
				t.Fatalf("%d messages accepted, want 1", len(ids)-before)
			}
			data, err := os.ReadFile(h.spool.Path(ids[len(ids)-1]))
			if err != nil {
				t.Fatal(err)
			}
			s := string(data)
			if !strings.Contains(s, "Subject: smuggled") || !strings.HasSuffix(s, "forged\r\n") {
				t.Fatalf("the smuggled part is not inside the one message: %q", s)
			}
			for i := 0; i < len(s); i++ {
				if (s[i] == '\n' && (i == 0 || s[i-1] != '\r')) || (s[i] == '\r' && (i+1 == len(s) || s[i+1] != '\n')) {
					t.Fatalf("bare line end kept at %d: %q", i, s[max(0, i-10):min(len(s), i+10)])
				}
			}
		})
	}
}
