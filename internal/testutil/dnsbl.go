package testutil

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// Fault modes shared by the fake-outage servers of the tests.
const (
	FaultNone      = ""
	FaultRefuse    = "refuse"  // connections refused (nothing listens)
	FaultBlackhole = "hang"    // accepted (read) and never answered
	FaultError     = "error"   // a well-formed error answer (HTTP 500, DNS SERVFAIL)
	FaultGarbage   = "garbage" // bytes that are not the protocol
)

// DNSBL is a real DNS server (miekg/dns) on loopback UDP that serves
// blocklist zones: A records for the names in Listed, NXDOMAIN for the rest
// of its zones, and can be made to fail in the ways of the fault modes.
type DNSBL struct {
	Addr   string
	mu     sync.Mutex
	Listed map[string]string // query name (lower case, with the final dot) -> A
	fault  atomic.Value
	Zones  []string
	pc     net.PacketConn
	srv    *dns.Server
	t      testing.TB
}

// StartDNSBL serves zones; every zone lists its RFC 5782 test address
// 127.0.0.2 (code 127.0.0.2) and not 127.0.0.1.
func StartDNSBL(t testing.TB, zones ...string) *DNSBL {
	t.Helper()
	d := &DNSBL{Listed: map[string]string{}, Zones: zones, t: t}
	d.fault.Store(FaultNone)
	for _, z := range zones {
		d.Listed["2.0.0.127."+z+"."] = "127.0.0.2"
	}
	d.start("127.0.0.1:0")
	t.Cleanup(func() { d.stop() })
	return d
}

func (d *DNSBL) start(addr string) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		d.t.Fatalf("dnsbl: %v", err)
	}
	d.pc, d.Addr = pc, pc.LocalAddr().String()
	d.srv = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(d.serve)}
	ready := make(chan struct{})
	d.srv.NotifyStartedFunc = func() { close(ready) }
	go d.srv.ActivateAndServe()
	<-ready
}

func (d *DNSBL) stop() {
	if d.srv != nil {
		d.srv.Shutdown()
		d.srv = nil
	}
}

// List makes ip's query name in zone answer code.
func (d *DNSBL) List(queryName, code string) {
	d.mu.Lock()
	d.Listed[strings.ToLower(queryName)] = code
	d.mu.Unlock()
}

// SetFault switches the server into a fault mode (FaultNone: healthy).
// FaultRefuse stops the server, so that queries get ICMP port unreachable
// (connection refused); leaving it starts the server again on the same
// port.
func (d *DNSBL) SetFault(mode string) {
	prev := d.fault.Swap(mode)
	if prev == FaultRefuse && mode != FaultRefuse {
		d.start(d.Addr)
	}
	if mode == FaultRefuse && prev != FaultRefuse {
		d.stop()
	}
}

func (d *DNSBL) serve(w dns.ResponseWriter, r *dns.Msg) {
	switch d.fault.Load().(string) {
	case FaultBlackhole:
		return
	case FaultGarbage:
		w.Write([]byte("\x00\x01this is not DNS"))
		return
	case FaultError:
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeServerFailure)
		w.WriteMsg(m)
		return
	}
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	if len(r.Question) != 1 {
		m.SetRcode(r, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	d.mu.Lock()
	code, ok := d.Listed[name]
	d.mu.Unlock()
	inZone := false
	for _, z := range d.Zones {
		inZone = inZone || strings.HasSuffix(name, "."+z+".")
	}
	switch {
	case !inZone:
		m.SetRcode(r, dns.RcodeRefused)
	case ok && q.Qtype == dns.TypeA:
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A: net.ParseIP(code)})
	case ok:
		// The name exists (NOERROR, no data) for other types.
	default:
		m.SetRcode(r, dns.RcodeNameError)
	}
	w.WriteMsg(m)
}
