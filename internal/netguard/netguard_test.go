package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"
)

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"1.1.1.1": true, "8.8.8.8": true, "2606:4700:4700::1111": true, "::ffff:1.1.1.1": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "0.0.0.0": false, "0.1.2.3": false, "255.255.255.255": false, "224.0.0.1": false,
		"192.0.2.1": false, "198.18.0.1": false, "::1": false, "::": false, "fe80::1": false, "fd00::1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "2001:db8::1": false, "64:ff9b:1::1": false,
	} {
		if got := Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestReputable(t *testing.T) {
	for addr, want := range map[string]bool{
		"1.1.1.1": true, "2606:4700:4700::1111": true, "::ffff:1.1.1.1": true,
		"192.0.2.1": true, "198.51.100.7": true, "203.0.113.9": true, "2001:db8::1": true, "::ffff:198.51.100.7": true,
		"127.0.0.1": false, "10.1.2.3": false, "192.168.1.1": false, "100.64.0.1": false, "169.254.1.1": false,
		"0.1.2.3": false, "240.0.0.1": false, "198.18.0.1": false, "fd00::1": false, "fe80::1": false, "::1": false,
	} {
		if got := Reputable(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Reputable(%s) = %v, want %v", addr, got, want)
		}
	}
}

// A real dial to a real listener on loopback: refused by default (even by
// name, and through an IPv4-mapped address), allowed when the network is
// on the allow list and the port too.
func TestDialRefusesInsideAddresses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	addr := ln.Addr().String()
	ctx := context.Background()

	g := &Guard{Ports: []int{port}}
	for _, a := range []string{addr, net.JoinHostPort("localhost", strconv.Itoa(port)), net.JoinHostPort("::ffff:127.0.0.1", strconv.Itoa(port))} {
		if c, err := g.DialContext(ctx, "tcp", a); !errors.Is(err, ErrRefused) {
			if c != nil {
				c.Close()
			}
			t.Errorf("dial %s: %v, want refused", a, err)
		}
	}
	if _, err := (&Guard{}).DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port)); !errors.Is(err, ErrRefused) {
		t.Errorf("a port off the list: %v", err)
	}
	g.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	c, err := g.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("allowed network: %v", err)
	}
	c.Close()
	g.Ports = nil // 80 and 443 only
	if _, err := g.DialContext(ctx, "tcp", addr); !errors.Is(err, ErrRefused) {
		t.Errorf("allowed network, port not allowed: %v", err)
	}
}
