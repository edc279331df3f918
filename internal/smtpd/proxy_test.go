package smtpd

import (
	"net/netip"
	"strings"
	"testing"
	"time"
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

// TestProxiedClientsAreJudgedByTheirOwnAddress: behind a balancer in
// smtp.proxy_networks, the deny and allow lists and the per-IP limit apply
// to the address the PROXY line gives, not to the balancer's (the lists
// checked the balancer, and every client behind it shared its per-IP
// limit).
func TestProxiedClientsAreJudgedByTheirOwnAddress(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.ProxyNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		c.DenyNetworks = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
		c.MaxConnectionsIP = 1
	})
	via := func(ip string) *rawConn {
		r := dialRaw(t, h.addr)
		r.send("PROXY TCP4 " + ip + " 127.0.0.1 40000 25\r\n")
		return r
	}
	denied := via("203.0.113.9")
	denied.reply() // the greeting goes out before the line is read
	if got := denied.reply(); !strings.HasPrefix(got, "554 5.7.1") {
		t.Fatalf("a denied client behind the balancer: %q", got)
	}
	a := via("198.51.100.1")
	a.greet()
	b := via("198.51.100.2") // another client: its own per-IP count
	b.greet()
	again := via("198.51.100.1") // the first client a second time: over its limit
	again.reply()
	if got := again.reply(); !strings.HasPrefix(got, "421 4.7.0") {
		t.Fatalf("a client's second connection over its limit: %q", got)
	}
	a.c.Close()
	time.Sleep(100 * time.Millisecond)
	via("198.51.100.1").greet() // released with the first
}
