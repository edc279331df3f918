package delivery

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"mailinspector/internal/testutil"
)

// dnsServer is a real DNS server (miekg/dns) on loopback UDP serving the
// given records; unknown names are NXDOMAIN.
func dnsServer(t *testing.T, records ...string) string {
	t.Helper()
	zone := map[string][]dns.RR{}
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatal(err)
		}
		k := strings.ToLower(rr.Header().Name) + "/" + dns.TypeToString[rr.Header().Rrtype]
		zone[k] = append(zone[k], rr)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		q := req.Question[0]
		m.Answer = zone[strings.ToLower(q.Name)+"/"+dns.TypeToString[q.Qtype]]
		if len(m.Answer) == 0 {
			exists := false
			for k := range zone {
				if strings.HasPrefix(k, strings.ToLower(q.Name)+"/") {
					exists = true
				}
			}
			if !exists {
				m.Rcode = dns.RcodeNameError
			}
			// NODATA and NXDOMAIN carry the zone's SOA (RFC 2308), or
			// resolvers take the answer for a lame referral.
			soa, _ := dns.NewRR(q.Name + " 60 IN SOA ns.test. hostmaster.test. 1 60 60 60 60")
			m.Ns = []dns.RR{soa}
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

func testResolver(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

func envelope(to ...string) *Envelope {
	body := "Subject: mx\r\n\r\n.leading dot\r\nbody\r\n"
	return &Envelope{ID: "t1", From: "bob@example.org", To: to, Size: int64(len(body)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }}
}

func TestMXRoutingByPreferenceWithFallbackAndNullMX(t *testing.T) {
	sink := testutil.NewSink(t)
	_, port, _ := net.SplitHostPort(sink.Addr)
	// mx1 (preference 5) answers on 127.0.0.2, where nothing listens on the
	// sink's port: the client must fall back to mx2 (preference 10).
	dnsAddr := dnsServer(t,
		"example.com. 60 IN MX 10 mx2.example.com.",
		"example.com. 60 IN MX 5 mx1.example.com.",
		"mx1.example.com. 60 IN A 127.0.0.2",
		"mx2.example.com. 60 IN A 127.0.0.1",
		"nomail.example. 60 IN MX 0 .",
		"plain.example. 60 IN A 127.0.0.1",
	)
	tr := &SMTP{Hostname: "mi.test", TLS: "opportunistic", ConnectTimeout: 2 * time.Second, CommandTimeout: 5 * time.Second,
		Resolver: testResolver(dnsAddr), Port: port}
	defer tr.Close()
	res := tr.Deliver(context.Background(), envelope("a@example.com", "b@nomail.example", "c@plain.example", "d@nxdomain.example"))
	if res[0].Err != nil {
		t.Fatalf("example.com: %v", res[0].Err)
	}
	if res[1].Err == nil || !res[1].Permanent || !strings.Contains(res[1].Err.Error(), "null MX") {
		t.Fatalf("null MX: %+v", res[1])
	}
	if res[2].Err != nil {
		t.Fatalf("domain without MX (implicit MX, RFC 5321 5.1): %v", res[2].Err)
	}
	if res[3].Err == nil || !res[3].Permanent {
		t.Fatalf("NXDOMAIN: %+v", res[3])
	}
	got := sink.WaitFor(t, 2, 5*time.Second)
	for _, m := range got {
		if !strings.HasSuffix(string(m.Data), "\r\n.leading dot\r\nbody\r\n") {
			t.Fatalf("dot stuffing broke the body: %q", m.Data)
		}
	}
}

func TestKeptConnectionIsReusedAndRedialledWhenStale(t *testing.T) {
	sink := testutil.NewSink(t)
	tr := &SMTP{Hostname: "mi.test", Smarthosts: []string{sink.Addr}, TLS: "opportunistic", ConnectTimeout: 2 * time.Second, CommandTimeout: 5 * time.Second}
	defer tr.Close()
	for i := 0; i < 3; i++ {
		if res := tr.Deliver(context.Background(), envelope("a@example.com")); res[0].Err != nil {
			t.Fatal(res[0].Err)
		}
	}
	if n := len(tr.idle[sink.Addr]); n != 1 {
		t.Fatalf("%d kept connections after 3 sequential deliveries, want 1", n)
	}
	// The downstream restarts: the kept connection is dead; the next
	// delivery must notice and dial again, in the same attempt.
	sink.Stop()
	sink.Restart(t)
	if res := tr.Deliver(context.Background(), envelope("a@example.com")); res[0].Err != nil {
		t.Fatalf("after downstream restart: %v", res[0].Err)
	}
	sink.WaitFor(t, 4, 5*time.Second)

	// The downstream times a kept session out with a 421 (go-smtp's idle
	// timeout): the 421 is read as the answer to MAIL, and must not defer
	// the message.
	sink.Stop()
	sink.SetIdleTimeout(200 * time.Millisecond)
	sink.Restart(t)
	if res := tr.Deliver(context.Background(), envelope("a@example.com")); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	time.Sleep(500 * time.Millisecond)
	if res := tr.Deliver(context.Background(), envelope("a@example.com")); res[0].Err != nil {
		t.Fatalf("after the downstream timed out the kept session: %v", res[0].Err)
	}
	sink.WaitFor(t, 6, 5*time.Second)
}

func TestNonPipeliningPostfixDownstream(t *testing.T) {
	sink := testutil.NewSink(t)
	pf := testutil.StartPostfix(t, sink.Addr, "smtpd_discard_ehlo_keywords = pipelining",
		"smtpd_recipient_restrictions = check_recipient_access inline:{b@example.com=REJECT}")
	tr := &SMTP{Hostname: "mi.test", Smarthosts: []string{pf.Addr}, TLS: "opportunistic", ConnectTimeout: 2 * time.Second, CommandTimeout: 10 * time.Second}
	defer tr.Close()
	res := tr.Deliver(context.Background(), envelope("a@example.com", "b@example.com", "c@example.com"))
	if res[0].Err != nil || res[2].Err != nil {
		t.Fatalf("accepted recipients failed: %+v", res)
	}
	if res[1].Err == nil || !res[1].Permanent || !strings.Contains(res[1].Err.Error(), "554") {
		t.Fatalf("relay refusal from Postfix: %+v", res[1])
	}
	got := sink.WaitFor(t, 1, 30*time.Second)
	if !strings.Contains(string(got[0].Data), "\r\n.leading dot\r\n") || len(got[0].To) != 2 {
		t.Fatalf("via Postfix: to %v %q", got[0].To, got[0].Data)
	}
	if !strings.Contains(pf.Log(), "discarding EHLO keywords: PIPELINING") {
		t.Fatal("Postfix still offered PIPELINING: this test did not test the non-pipelining path")
	}
}
