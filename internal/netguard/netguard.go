// Package netguard keeps what the appliance fetches on behalf of someone
// else (a sandbox guest's web requests, later a time-of-click check) off
// the appliance's own networks: every connection is checked at dial time,
// after name resolution, so a name that resolves to an inside address (or
// changes its answer between a check and the dial: DNS rebinding) is
// refused all the same. This is the server-side request forgery guard.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrRefused is wrapped by every refusal.
var ErrRefused = errors.New("destination refused")

// special are the ranges that are not the public internet, beyond what
// netip's predicates name (RFC 6890 and its successors).
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network" (RFC 791)
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments (RFC 6890)
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation (RFC 5737)
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking (RFC 2544)
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64 (RFC 8215)
	netip.MustParsePrefix("100::/64"),        // discard (RFC 6666)
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments
	netip.MustParsePrefix("2001:db8::/32"),   // documentation (RFC 3849)
	netip.MustParsePrefix("fc00::/7"),        // unique local (RFC 4193)
	netip.MustParsePrefix("fec0::/10"),       // site-local, deprecated
}

// Public says whether addr is an address of the public internet.
func Public(addr netip.Addr) bool {
	a := addr.Unmap()
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() {
		return false
	}
	for _, p := range special {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// documentation are the ranges set aside for examples (RFC 5737, RFC
// 3849). No one can be reached there, so Public refuses them; reputation
// may still be asked about them (Reputable).
var documentation = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// Reputable says whether reputation (a DNSBL, the hub) may be asked about
// addr: a public address, or one of the documentation ranges, which the
// project's tests and lab networks send mail from. Asking about one costs a
// lookup and dials nothing; asking about a private address would tell a
// blocklist about the inside network.
func Reputable(addr netip.Addr) bool {
	a := addr.Unmap()
	if Public(a) {
		return true
	}
	for _, p := range documentation {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Guard decides which destinations may be dialled.
type Guard struct {
	// Ports allowed; empty allows 80 and 443 only.
	Ports []int
	// Allow are inside networks reachable all the same (an intranet web
	// server the administrator wants links to it followed).
	Allow []netip.Prefix
	// Timeout of one dial; 0 is 10 seconds.
	Timeout time.Duration
}

// Check says why a connection to addr would be refused (nil: allowed).
func (g *Guard) Check(addr netip.AddrPort) error {
	if !g.portOK(int(addr.Port())) {
		return fmt.Errorf("%w: port %d is not allowed", ErrRefused, addr.Port())
	}
	a := addr.Addr().Unmap()
	if Public(a) {
		return nil
	}
	for _, p := range g.Allow {
		if p.Contains(a) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is not a public internet address", ErrRefused, a)
}

// DialContext dials like net.Dialer, checking the address each connection
// attempt actually goes to.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	// A refused port need not be resolved at all.
	if p, err := strconv.Atoi(port); err != nil || !g.portOK(p) {
		return nil, fmt.Errorf("%s: %w: port %s is not allowed", host, ErrRefused, port)
	}
	timeout := g.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	// Control runs once per address tried, concurrently for both address
	// families.
	var refused atomic.Pointer[error]
	d := net.Dialer{Timeout: timeout, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrRefused, err)
		}
		if err := g.Check(ap); err != nil {
			refused.Store(&err)
			return err
		}
		return nil
	}}
	c, err := d.DialContext(ctx, network, address)
	if r := refused.Load(); err != nil && r != nil {
		return nil, fmt.Errorf("%s: %w", host, *r)
	}
	return c, err
}

func (g *Guard) portOK(p int) bool {
	if len(g.Ports) == 0 {
		return p == 80 || p == 443
	}
	return slices.Contains(g.Ports, p)
}
