package smtpd

import (
	"strings"
	"testing"
)

func TestParseProxyV1(t *testing.T) {
	for line, want := range map[string]string{
		"PROXY TCP4 192.0.2.1 10.0.0.1 40000 25\r\n":            "192.0.2.1:40000",
		"PROXY TCP6 2001:db8::1 2001:db8::2 40000 25\r\n":       "[2001:db8::1]:40000",
		"PROXY UNKNOWN\r\n":                                     "invalid AddrPort",
		"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 1 2\r\n": "invalid AddrPort",
	} {
		got, err := parseProxyV1(line)
		if err != nil || got.String() != want {
			t.Errorf("%q: %v %v, want %s", line, got, err, want)
		}
	}
	for _, bad := range []string{
		"PROXY TCP4 192.0.2.1 10.0.0.1 40000 25\n",              // no CR
		"PROXY TCP4 2001:db8::1 10.0.0.1 40000 25\r\n",          // family mismatch
		"PROXY TCP4 192.0.2.1 10.0.0.1 70000 25\r\n",            // port
		"EHLO client.test\r\n",                                  // no header at all
		"PROXY TCP4 192.0.2.1 10.0.0.1 40000\r\n",               // field missing
		"PROXY TCP4 " + strings.Repeat("1", 100) + " x y z\r\n", // too long
	} {
		if _, err := parseProxyV1(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseProxyV1(f *testing.F) {
	f.Add("PROXY TCP4 192.0.2.1 10.0.0.1 40000 25\r\n")
	f.Add("PROXY UNKNOWN\r\n")
	f.Fuzz(func(t *testing.T, line string) {
		ap, err := parseProxyV1(line)
		if err == nil && ap.IsValid() && !strings.Contains(line, ap.Addr().String()) {
			t.Fatalf("%q gave %s, not in the line", line, ap)
		}
	})
}
