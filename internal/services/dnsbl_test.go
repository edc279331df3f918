package services

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/testutil"
)

func TestQueryName(t *testing.T) {
	for ip, want := range map[string]string{
		"192.0.2.99":  "99.2.0.192.bl.test.",
		"2001:db8::1": "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test.", // RFC 5782 2.4
	} {
		if got := QueryName(netip.MustParseAddr(ip), "bl.test"); got != want {
			t.Errorf("%s: %s, want %s", ip, got, want)
		}
	}
}

func TestDNSBLAnswers(t *testing.T) {
	srv := testutil.StartDNSBL(t, "bl.test", "zen.spamhaus.test", "all.test")
	srv.List("99.2.0.192.bl.test.", "127.0.0.4")
	srv.List("99.2.0.192.zen.spamhaus.test.", "127.0.0.3")
	srv.List("1.100.51.198.bl.test.", "127.255.255.254") // error answer: public resolver
	srv.List("2.100.51.198.bl.test.", "10.0.0.1")        // outside 127/8
	srv.List(QueryName(netip.MustParseAddr("2001:db8::1"), "bl.test"), "127.0.0.2")
	srv.List("1.0.0.127.all.test.", "127.0.0.2") // lists everything: fails its health check
	var dnsErrs int
	d := &DNSBL{Zones: []string{"bl.test", "zen.spamhaus.test"}, Resolver: srv.Addr, OnDNS: func(err error) {
		if err != nil {
			dnsErrs++
		}
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	listed, skipped, err := d.Check(ctx, netip.MustParseAddr("192.0.2.99"))
	if err != nil || len(listed) != 2 || len(skipped) != 0 {
		t.Fatalf("listed address: %v %v %v", listed, skipped, err)
	}
	reasons := listed[0].String() + " " + listed[1].String()
	if !strings.Contains(reasons, "bl.test: listed (127.0.0.4)") || !strings.Contains(reasons, "CSS: snowshoe spam") {
		t.Fatalf("reasons: %s", reasons)
	}
	if listed, _, err := d.Check(ctx, netip.MustParseAddr("192.0.2.100")); err != nil || len(listed) != 0 {
		t.Fatalf("clean address: %v %v", listed, err)
	}
	if listed, _, err := d.Check(ctx, netip.MustParseAddr("2001:db8::1")); err != nil || len(listed) != 1 {
		t.Fatalf("IPv6 address: %v %v", listed, err)
	}
	// An error answer and an answer outside 127/8 are errors of that zone,
	// never listings; the other zone still answers.
	for _, ip := range []string{"198.51.100.1", "198.51.100.2"} {
		listed, skipped, err := d.Check(ctx, netip.MustParseAddr(ip))
		if err != nil || len(listed) != 0 || len(skipped) != 1 {
			t.Fatalf("%s: %v %v %v", ip, listed, skipped, err)
		}
		if !strings.Contains(skipped[0], "error answer 127.255.255.254 (queries through a public resolver are refused)") &&
			!strings.Contains(skipped[0], "outside 127.0.0.0/8") {
			t.Fatalf("%s: %s", ip, skipped[0])
		}
	}
	if dnsErrs != 0 {
		t.Fatalf("the resolver answered every time, yet %d DNS errors were reported", dnsErrs)
	}
	// A zone that lists 127.0.0.1 fails its health check and is left out.
	all := &DNSBL{Zones: []string{"all.test"}, Resolver: srv.Addr}
	if _, _, err := all.Check(ctx, netip.MustParseAddr("192.0.2.99")); err == nil || !strings.Contains(err.Error(), "127.0.0.1 is listed") {
		t.Fatalf("broken zone: %v", err)
	}
}

func TestDNSBLOutages(t *testing.T) {
	srv := testutil.StartDNSBL(t, "bl.test")
	for _, mode := range []string{testutil.FaultRefuse, testutil.FaultBlackhole, testutil.FaultError, testutil.FaultGarbage} {
		t.Run(mode, func(t *testing.T) {
			srv.SetFault(mode)
			defer srv.SetFault(testutil.FaultNone)
			c := New(Config{Name: ERS, Enabled: true, Configured: true, Deadline: 300 * time.Millisecond, Failures: 1, Backoff: time.Hour})
			d := &DNSBL{Zones: []string{"bl.test"}, Resolver: srv.Addr}
			start := time.Now()
			_, err := Call(context.Background(), c, "192.0.2.99", func(ctx context.Context) ([]Listing, bool, error) {
				l, _, err := d.Check(ctx, netip.MustParseAddr("192.0.2.99"))
				return l, len(l) > 0, err
			})
			if err == nil {
				t.Fatal("a failing DNS server gave an answer")
			}
			if waited := time.Since(start); waited > 3*time.Second {
				t.Fatalf("waited %s on a 300ms deadline", waited)
			}
			if c.Status().State != StateUnreachable {
				t.Fatalf("state %s", c.Status().State)
			}
		})
	}
}
