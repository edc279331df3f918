package analysis

import (
	"fmt"
	"net/mail"
	"net/netip"
	"testing"

	"mailinspector/internal/store"
)

func TestLastUntrustedRelay(t *testing.T) {
	h := mail.Header{"Received": {
		"from mx1.corp.test ([10.1.2.3]) by mailinspector.corp.test (Mail Inspector) with ESMTP id X; Fri, 27 Nov 2026 10:00:00 +0000",
		"from gw.corp.test (gw.corp.test [198.51.100.10]) by mx1.corp.test (Postfix) with ESMTPS id Y; Fri, 27 Nov 2026 09:59:59 +0000",
		"from [203.0.113.66] (spoofed.example [192.0.2.200]) by gw.corp.test (Postfix) with ESMTP id Z; Fri, 27 Nov 2026 09:59:58 +0000",
		"from forged.example (forged.example [192.0.2.1]) by nowhere; Fri, 27 Nov 2026 09:00:00 +0000",
	}}
	m := &Message{Meta: &store.Message{}, Header: h}
	trusted := []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	ip, ok := lastUntrusted(m, trusted)
	// The HELO literal [203.0.113.66] is the client's claim; the address in
	// the TCP-info comment is what gw.corp.test saw.
	if !ok || ip.String() != "192.0.2.200" {
		t.Fatalf("got %s %v, want 192.0.2.200", ip, ok)
	}
	if _, ok := lastUntrusted(&Message{Meta: &store.Message{}, Header: mail.Header{"Received": h["Received"][:2]}}, trusted); ok {
		t.Fatal("only private and trusted relays, yet one was picked")
	}
	if got := receivedIPs([]string{"from [192.0.2.7] (helo=x) by exim.test with esmtp"}); len(got) != 1 || got[0].String() != "192.0.2.7" {
		t.Fatalf("exim form: %v", got)
	}
}

func FuzzReceivedIPs(f *testing.F) {
	f.Add("from a (b [192.0.2.1]) by c")
	f.Add("from [IPv6:2001:db8::1] (helo=x) by y")
	f.Fuzz(func(t *testing.T, s string) {
		for _, ip := range receivedIPs([]string{s}) {
			if !ip.IsValid() {
				t.Fatal(fmt.Sprint("invalid address from ", s))
			}
		}
	})
}
