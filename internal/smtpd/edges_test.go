package smtpd

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// TestDataLineAndNULRefusals: an over-long line of DATA gets 554 5.6.0
// (it got 451: "try again later" for what can never pass), and so does a
// NUL byte (it was relayed); a line that starts with ".\r" keeps its CR,
// which is a bare CR: 550 5.5.2 (it was dropped silently). The session
// goes on after each, and nothing is kept.
func TestDataLineAndNULRefusals(t *testing.T) {
	h := newHarness(t, nil)
	r := dialRaw(t, h.addr)
	r.greet()
	for _, c := range []struct{ data, reply string }{
		{"Subject: long\r\n\r\n" + strings.Repeat("x", 2500) + "\r\n.", "554 5.6.0"},
		{"Subject: nul\r\n\r\nbefore\x00after\r\n.", "554 5.6.0"},
		{"Subject: dot\r\n\r\n.\rX\r\n.", "550 5.5.2"},
	} {
		r.expect("MAIL FROM:<a@example.org>", "250")
		r.expect("RCPT TO:<b@example.com>", "250")
		r.expect("DATA", "354")
		r.expect(c.data, c.reply)
	}
	r.expect("NOOP", "250")
	if ids := h.accepted(); len(ids) != 0 {
		t.Fatalf("accepted %v", ids)
	}
}

// TestBDATHonoursTheLimits: a BDAT chunk is held to the same line limit as
// DATA (a 50 MB header line was accepted and relayed), whether it comes in
// the same read as its command or not, and a chunk that arrives with its
// command is read right (the stream's line limit used to judge it by the
// command's rules and break the connection).
func TestBDATHonoursTheLimits(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxMessageBytes = 1 << 20 })
	r := dialRaw(t, h.addr)
	r.greet()
	msg := "Subject: chunked\r\n\r\n" + strings.Repeat("a line of text\r\n", 200)
	long := "Subject: long\r\n" + "X-Long: " + strings.Repeat("x", 5000) + "\r\n\r\nbody\r\n"
	for _, c := range []struct{ chunk, reply string }{
		{msg, "250 2.0.0"},
		{long, "554 5.6.0"},
		{strings.Repeat("y", 3000), "554 5.6.0"}, // no line end at all
	} {
		r.expect("MAIL FROM:<a@example.org>", "250")
		r.expect("RCPT TO:<b@example.com>", "250")
		// The command and its chunk in one write: one read on our side.
		r.send("BDAT " + strconv.Itoa(len(c.chunk)) + " LAST\r\n" + c.chunk)
		if got := r.reply(); !strings.HasPrefix(got, c.reply) {
			t.Fatalf("BDAT with %d bytes: %q, want %s", len(c.chunk), got, c.reply)
		}
	}
	r.expect("NOOP", "250")
	if ids := h.accepted(); len(ids) != 1 {
		t.Fatalf("accepted %v, want the one good message", ids)
	}
}

// TestAddressHygiene: a CR, LF or NUL in an address is refused (501
// 5.1.3); so is sender-specified routing (%, ! or @ in the local part)
// from an untrusted client, which the downstream could relay onwards
// (550 5.7.1), while a trusted client may use it.
func TestAddressHygiene(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.TrustedNetworks = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} // 127.0.0.1 is not trusted here
		c.AcceptedDomains = []string{"example.com"}
	})
	r := dialRaw(t, h.addr)
	r.greet()
	r.expect("MAIL FROM:<\"a\rb\"@example.org>", "501 5.1.3")
	r.expect("MAIL FROM:<a@example.org>", "250")
	for rcpt, want := range map[string]string{
		"<\"x\x00y\"@example.com>":          "501 5.1.3",
		"<\"x\ry\"@example.com>":            "501 5.1.3",
		"<user%other.example@example.com>":  "550 5.7.1",
		"<host!user@example.com>":           "550 5.7.1",
		"<\"a@other.example\"@example.com>": "550 5.7.1",
		"<\"x> NOTIFY=NEVER\"@example.com>": "250",
	} {
		r.expect("RCPT TO:"+rcpt, want)
	}
	h2 := newHarness(t, func(c *Config) { c.AcceptedDomains = []string{"example.com"} }) // 127.0.0.1 trusted (default)
	r2 := dialRaw(t, h2.addr)
	r2.greet()
	r2.expect("MAIL FROM:<a@example.org>", "250")
	r2.expect("RCPT TO:<user%other.example@example.com>", "250")
}
