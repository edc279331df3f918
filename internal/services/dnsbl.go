package services

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// DNSBL is the Email Reputation client: RFC 5782 DNS blocklist lookups
// through the configured resolver. Only answers in 127.0.0.0/8 count;
// Spamhaus-style error answers (127.255.255.x: typing error, public
// resolver, too many queries) are errors, never listings; an answer outside
// 127/8 means a resolver that rewrites NXDOMAIN and is an error too. Each
// zone is health-checked (RFC 5782 5: 127.0.0.2 must be listed, 127.0.0.1
// must not) and left out while it fails.
type DNSBL struct {
	Zones []string
	// Resolver is a DNS server host:port; empty: the system's.
	Resolver string
	// OnDNS, when set, learns whether the resolver answered (nil) or not,
	// for the status of the resolver.
	OnDNS func(error)

	r      *net.Resolver
	once   sync.Once
	mu     sync.Mutex
	health map[string]zoneHealth
}

type zoneHealth struct {
	err     error
	checked time.Time
}

// healthTTL is how long a zone's health check stands.
const healthTTL = 10 * time.Minute

// Listing is one zone's answer for a listed address.
type Listing struct {
	Zone   string
	Code   netip.Addr
	Reason string
}

func (l Listing) String() string { return fmt.Sprintf("%s: %s (%s)", l.Zone, l.Reason, l.Code) }

func (d *DNSBL) resolver() *net.Resolver {
	d.once.Do(func() { d.r = NewResolver(d.Resolver) })
	return d.r
}

// NewResolver asks the DNS server at addr (host:port; dns.resolver), or
// the system's resolver when addr is empty: reputation lookups, MX routing
// and test dns all go the same way.
func NewResolver(addr string) *net.Resolver {
	if addr == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// QueryName is the name to look up for ip in zone (RFC 5782 2.1 and 2.4:
// reversed octets, or reversed nibbles for IPv6).
func QueryName(ip netip.Addr, zone string) string {
	ip = ip.Unmap()
	var b strings.Builder
	if ip.Is4() {
		a := ip.As4()
		fmt.Fprintf(&b, "%d.%d.%d.%d.", a[3], a[2], a[1], a[0])
	} else {
		a := ip.As16()
		const hexd = "0123456789abcdef"
		for i := 15; i >= 0; i-- {
			b.WriteByte(hexd[a[i]&0xf])
			b.WriteByte('.')
			b.WriteByte(hexd[a[i]>>4])
			b.WriteByte('.')
		}
	}
	b.WriteString(zone)
	b.WriteByte('.')
	return b.String()
}

// lookup asks one zone about ip: listed codes, nil when not listed.
func (d *DNSBL) lookup(ctx context.Context, ip netip.Addr, zone string) ([]netip.Addr, error) {
	addrs, err := d.resolver().LookupNetIP(ctx, "ip4", QueryName(ip, zone))
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		d.dns(nil)
		return nil, nil
	}
	if err != nil {
		if !errors.Is(ctx.Err(), context.Canceled) {
			d.dns(err) // no answer in time is the resolver's failure too
		}
		return nil, fmt.Errorf("%s: %w", zone, err)
	}
	d.dns(nil)
	var codes []netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		b := a.As4()
		switch {
		case !a.Is4() || b[0] != 127:
			return nil, fmt.Errorf("%s: answer %s is outside 127.0.0.0/8 (a resolver that rewrites NXDOMAIN?)", zone, a)
		case b[1] == 255 && b[2] == 255:
			return nil, fmt.Errorf("%s: error answer %s (%s)", zone, a, errorCode(b[3]))
		}
		codes = append(codes, a)
	}
	return codes, nil
}

func (d *DNSBL) dns(err error) {
	if d.OnDNS != nil {
		d.OnDNS(err)
	}
}

// errorCode names Spamhaus's error answers.
func errorCode(last byte) string {
	switch last {
	case 252:
		return "typing error in the zone name"
	case 254:
		return "queries through a public resolver are refused"
	case 255:
		return "too many queries"
	}
	return "error answer"
}

// Reason names a listing code. Spamhaus ZEN's codes are named; other zones
// say "listed".
func Reason(zone string, code netip.Addr) string {
	if strings.Contains(zone, "spamhaus") {
		switch code.As4()[3] {
		case 2:
			return "SBL: known spam source"
		case 3:
			return "CSS: snowshoe spam"
		case 4, 5, 6, 7:
			return "XBL: exploited or infected host"
		case 9:
			return "DROP: hijacked network"
		case 10, 11:
			return "PBL: end-user address that should not send mail directly"
		}
	}
	return "listed"
}

// healthy checks a zone at most once per healthTTL.
func (d *DNSBL) healthy(ctx context.Context, zone string) error {
	d.mu.Lock()
	h, ok := d.health[zone]
	d.mu.Unlock()
	if ok && time.Since(h.checked) < healthTTL {
		return h.err
	}
	listed, err := d.lookup(ctx, netip.MustParseAddr("127.0.0.2"), zone)
	switch {
	case err != nil:
		return err // not remembered: a resolver outage is not the zone's fault
	case len(listed) == 0:
		err = fmt.Errorf("%s: health check failed: test address 127.0.0.2 is not listed", zone)
	default:
		clean, cerr := d.lookup(ctx, netip.MustParseAddr("127.0.0.1"), zone)
		switch {
		case cerr != nil:
			return cerr
		case len(clean) > 0:
			err = fmt.Errorf("%s: health check failed: test address 127.0.0.1 is listed (the zone lists everything)", zone)
		}
	}
	d.mu.Lock()
	if d.health == nil {
		d.health = map[string]zoneHealth{}
	}
	d.health[zone] = zoneHealth{err: err, checked: time.Now()}
	d.mu.Unlock()
	return err
}

// Check asks every healthy zone about ip, concurrently. It returns the
// listings, and an error when no zone could answer. Zones that failed
// while others answered are named in skipped.
func (d *DNSBL) Check(ctx context.Context, ip netip.Addr) (listed []Listing, skipped []string, err error) {
	type answer struct {
		zone  string
		codes []netip.Addr
		err   error
	}
	ch := make(chan answer, len(d.Zones))
	for _, z := range d.Zones {
		go func(z string) {
			if err := d.healthy(ctx, z); err != nil {
				ch <- answer{zone: z, err: err}
				return
			}
			codes, err := d.lookup(ctx, ip, z)
			ch <- answer{z, codes, err}
		}(z)
	}
	var errs []error
	for range d.Zones {
		a := <-ch
		if a.err != nil {
			errs = append(errs, a.err)
			skipped = append(skipped, a.err.Error())
			continue
		}
		for _, c := range a.codes {
			listed = append(listed, Listing{Zone: a.zone, Code: c, Reason: Reason(a.zone, c)})
		}
	}
	if len(errs) == len(d.Zones) {
		return nil, nil, errors.Join(errs...)
	}
	return listed, skipped, nil
}

// Probe asks each zone for its test address 127.0.0.2; one answer that
// lists it is enough to call Email Reputation back.
func (d *DNSBL) Probe(ctx context.Context) error {
	var errs []error
	for _, z := range d.Zones {
		codes, err := d.lookup(ctx, netip.MustParseAddr("127.0.0.2"), z)
		if err == nil && len(codes) > 0 {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("%s: test address 127.0.0.2 not listed", z)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
