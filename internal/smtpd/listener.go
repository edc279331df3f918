package smtpd

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// connControl wraps the listener: it refuses denied networks and enforces
// the overall and per-IP connection limits before go-smtp sees the
// connection, answering with the reply RFC 5321 3.1 allows at greeting time.
// A connection from a load balancer in smtp.proxy_networks is judged by the
// client address its PROXY line gives, once that line is read (the lists
// and the per-IP limit then apply to the client, not to the balancer).
type connControl struct {
	net.Listener
	hostname string
	max      int
	maxIP    int
	allow    []netip.Prefix
	deny     []netip.Prefix
	proxy    []netip.Prefix // balancers that send a PROXY v1 line first

	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
	stats *Stats
}

func remoteAddr(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

func inNets(a netip.Addr, nets []netip.Prefix) bool {
	for _, p := range nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (l *connControl) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteAddr(c)
		if inNets(ip, l.proxy) {
			// Judged once its PROXY line is read, by the client's address.
			l.mu.Lock()
			if l.total >= l.max {
				l.mu.Unlock()
				l.stats.add(&l.stats.OverLimit)
				go refuse(c, "421 4.7.0 "+l.hostname+" too many connections, try again later\r\n")
				continue
			}
			l.total++
			l.mu.Unlock()
			pc := &proxyConn{Conn: c, admit: l.admitClient}
			return &countedConn{Conn: pc, release: func() { l.release(pc.counted()) }}, nil
		}
		if reply := l.refusal(ip); reply != "" {
			go refuse(c, reply)
			continue
		}
		l.mu.Lock()
		if l.total >= l.max {
			l.mu.Unlock()
			l.stats.add(&l.stats.OverLimit)
			go refuse(c, "421 4.7.0 "+l.hostname+" too many connections, try again later\r\n")
			continue
		}
		if l.perIP[ip] >= l.maxIP {
			l.mu.Unlock()
			l.stats.add(&l.stats.OverLimit)
			go refuse(c, "421 4.7.0 "+l.hostname+" too many connections from your address, try again later\r\n")
			continue
		}
		l.total++
		l.perIP[ip]++
		l.mu.Unlock()
		return &countedConn{Conn: c, release: func() { l.release(ip, true) }}, nil
	}
}

// refusal is the reply to a client of a denied (or not allowed) network,
// "" for one that may connect.
func (l *connControl) refusal(ip netip.Addr) string {
	if inNets(ip, l.deny) || (len(l.allow) > 0 && !inNets(ip, l.allow)) {
		l.stats.add(&l.stats.Denied)
		return "554 5.7.1 " + l.hostname + " access denied\r\n"
	}
	return ""
}

// admitClient judges a balancer's client by its address: the lists, then
// the per-IP limit (counted from here on). It returns the reply that
// refuses it, "" when it may go on.
func (l *connControl) admitClient(ip netip.Addr) string {
	if reply := l.refusal(ip); reply != "" {
		return reply
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP[ip] >= l.maxIP {
		l.stats.add(&l.stats.OverLimit)
		return "421 4.7.0 " + l.hostname + " too many connections from your address, try again later\r\n"
	}
	l.perIP[ip]++
	return ""
}

// release forgets a closed connection; perIP says whether it was counted
// for its address.
func (l *connControl) release(ip netip.Addr, perIP bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if !perIP {
		return
	}
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

func refuse(c net.Conn, reply string) {
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte(reply))
	c.Close()
}

type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
