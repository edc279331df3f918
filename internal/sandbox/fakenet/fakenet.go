// Package fakenet is the sandbox's fake internet: on the host side of the
// isolated sandbox network it answers every DNS name with its own address
// and listens for HTTP, HTTPS and SMTP, recording what a sample sent. The
// guest reaches nothing else; what it tried is in the report.
package fakenet

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"
)

// Contact is one thing a guest sent to the fake internet.
type Contact struct {
	At     time.Time `json:"at"`
	From   string    `json:"from"` // the guest's address
	Kind   string    `json:"kind"` // dns, http, https, smtp
	Name   string    `json:"name"` // DNS name, HTTP host, SMTP recipient domain
	Detail string    `json:"detail"`
}

// Net is a running fake internet.
type Net struct {
	addr netip.Addr
	// Bound are the ports listened on (the asked ones; chosen ones for 0,
	// except DNS, which takes one port for UDP and TCP).
	Bound Ports

	mu       sync.Mutex
	contacts []Contact

	dns     []*dns.Server
	http    *http.Server
	https   *http.Server
	proxies []*http.Server
	smtp    *smtp.Server
	lns     []net.Listener
}

// Ports lets tests move the services off the privileged ports.
type Ports struct{ DNS, HTTP, HTTPS, SMTP int }

// DefaultPorts are the real ones, as the guest expects them.
var DefaultPorts = Ports{DNS: 53, HTTP: 80, HTTPS: 443, SMTP: 25}

// listenDNS binds DNS's UDP and TCP sockets on one port. With port 0 the
// kernel picks a free UDP port, and the same TCP port may be taken (an
// outgoing connection's ephemeral port, another test's listener: a CI
// run failed that way), so a few other UDP ports are tried before giving
// up. A fixed port is tried once.
func listenDNS(hp func(int) string, port int) (net.PacketConn, net.Listener, error) {
	tries := 1
	if port == 0 {
		tries = 20
	}
	var err error
	for range tries {
		var udp net.PacketConn
		udp, err = net.ListenPacket("udp", hp(port))
		if err != nil {
			return nil, nil, err
		}
		var tcp net.Listener
		tcp, err = net.Listen("tcp", hp(udp.LocalAddr().(*net.UDPAddr).Port))
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
	}
	return nil, nil, err
}

// Start listens on addr (the host's address on the sandbox network).
func Start(addr netip.Addr, ports Ports) (*Net, error) {
	n := &Net{addr: addr}
	fail := func(err error) (*Net, error) {
		n.Close()
		return nil, err
	}
	hp := func(p int) string { return netip.AddrPortFrom(addr, uint16(p)).String() }
	udp, tcp, err := listenDNS(hp, ports.DNS)
	if err != nil {
		return fail(fmt.Errorf("fake DNS: %w", err))
	}
	n.Bound.DNS = udp.LocalAddr().(*net.UDPAddr).Port
	n.lns = append(n.lns, tcp)
	h := dns.HandlerFunc(n.answer)
	n.dns = []*dns.Server{{PacketConn: udp, Handler: h}, {Listener: tcp, Handler: h}}
	for _, s := range n.dns {
		go s.ActivateAndServe()
	}
	cert, err := selfSigned()
	if err != nil {
		return fail(err)
	}
	for _, svc := range []struct {
		port  int
		kind  string
		dst   **http.Server
		tlsOn bool
	}{{ports.HTTP, "http", &n.http, false}, {ports.HTTPS, "https", &n.https, true}} {
		ln, err := net.Listen("tcp", hp(svc.port))
		if err != nil {
			return fail(fmt.Errorf("fake %s: %w", svc.kind, err))
		}
		if svc.tlsOn {
			n.Bound.HTTPS = ln.Addr().(*net.TCPAddr).Port
		} else {
			n.Bound.HTTP = ln.Addr().(*net.TCPAddr).Port
		}
		if svc.tlsOn {
			ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
		}
		n.lns = append(n.lns, ln)
		kind := svc.kind
		srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.Copy(io.Discard, io.LimitReader(r.Body, 16<<20))
			n.record(r.RemoteAddr, kind, r.Host, fmt.Sprintf("%s %s (%d bytes, %s)", r.Method, r.URL.RequestURI(), body, r.UserAgent()))
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html><body>OK</body></html>\n")
		})}
		*svc.dst = srv
		go srv.Serve(ln)
	}
	ln, err := net.Listen("tcp", hp(ports.SMTP))
	if err != nil {
		return fail(fmt.Errorf("fake SMTP: %w", err))
	}
	n.Bound.SMTP = ln.Addr().(*net.TCPAddr).Port
	n.lns = append(n.lns, ln)
	n.smtp = smtp.NewServer(backend{n})
	n.smtp.Domain = "mx.sandbox.invalid"
	n.smtp.ReadTimeout, n.smtp.WriteTimeout = 30*time.Second, 30*time.Second
	n.smtp.MaxMessageBytes = 16 << 20
	n.smtp.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	n.smtp.AllowInsecureAuth = true
	go n.smtp.Serve(ln)
	return n, nil
}

// Close stops every service.
func (n *Net) Close() {
	for _, s := range n.dns {
		s.Shutdown()
	}
	n.mu.Lock()
	proxies := n.proxies
	n.mu.Unlock()
	for _, s := range append([]*http.Server{n.http, n.https}, proxies...) {
		if s != nil {
			s.Close()
		}
	}
	if n.smtp != nil {
		n.smtp.Close()
	}
	for _, l := range n.lns {
		l.Close()
	}
}

func (n *Net) record(remote, kind, name, detail string) {
	from := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		from = h
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.contacts = append(n.contacts, Contact{At: time.Now(), From: from, Kind: kind, Name: name, Detail: detail})
	if len(n.contacts) > 100000 {
		n.contacts = n.contacts[len(n.contacts)-50000:]
	}
}

// Seen returns what from sent between two times (one run of one instance).
func (n *Net) Seen(from string, since, until time.Time) []Contact {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Contact
	for _, c := range n.contacts {
		if c.From == from && !c.At.Before(since) && !c.At.After(until) {
			out = append(out, c)
		}
	}
	return out
}

// answer gives every A question the fake internet's address, and records
// the name.
func (n *Net) answer(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	for _, qu := range q.Question {
		n.record(w.RemoteAddr().String(), "dns", strings.TrimSuffix(qu.Name, "."), dns.TypeToString[qu.Qtype])
		if qu.Qtype == dns.TypeA && n.addr.Is4() {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: qu.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A: n.addr.AsSlice()})
		}
	}
	w.WriteMsg(m)
}

type backend struct{ n *Net }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{n: b.n, remote: c.Conn().RemoteAddr().String()}, nil
}

type session struct {
	n        *Net
	remote   string
	from     string
	rcpts    []string
	received int64
}

func (s *session) AuthPlain(string, string) error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	br := bufio.NewReader(io.LimitReader(r, 16<<20))
	n, _ := io.Copy(io.Discard, br)
	domain := ""
	if len(s.rcpts) > 0 {
		if i := strings.LastIndexByte(s.rcpts[0], '@'); i >= 0 {
			domain = s.rcpts[0][i+1:]
		}
	}
	s.n.record(s.remote, "smtp", domain, fmt.Sprintf("MAIL FROM %s RCPT TO %s (%d bytes)", s.from, strings.Join(s.rcpts, ","), n))
	return nil
}
func (s *session) Reset()        { s.from, s.rcpts = "", nil }
func (s *session) Logout() error { return nil }

// selfSigned is the HTTPS listener's certificate, for any name: samples
// that check certificates fail, which is also behaviour worth seeing.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sandbox.invalid"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour), DNSNames: []string{"*"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, errors.Join(errors.New("fake HTTPS certificate"), err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
