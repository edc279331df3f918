package fakenet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"mailinspector/internal/netguard"
)

// Proxy is the sandbox's one way to the real web, when the administrator
// gives it one (sandbox.proxy): a forward HTTP proxy on the host's sandbox
// address. Guests still have no route out; what goes through here is a
// web request the proxy makes itself, to public addresses only (the
// netguard), and it is recorded like everything else the guest sent.
// ProxyHeader marks the proxy's own error answers: "refused" (the guard)
// or "failed" (the destination or the upstream did not answer).
const ProxyHeader = "X-Mailinspector-Proxy"

type Proxy struct {
	Guard *netguard.Guard
	// Upstream is the site's own proxy the appliance reaches the web
	// through (nil: direct). The upstream resolves names itself, so each
	// name is resolved here first and refused unless every answer is
	// public; a rebinding between the two look-ups is the upstream's to
	// guard.
	Upstream *url.URL
	// MaxBytes cuts an answer's body (0: 64 MiB).
	MaxBytes int64
	// Idle ends a CONNECT tunnel that carried nothing this long (0: a
	// minute).
	Idle time.Duration
	// Clients are the guests' addresses, the only ones served (nil: any).
	// Linux takes a packet for a local address on any interface, so
	// without this a machine routing to the sandbox network through the
	// appliance would have an open proxy.
	Clients []netip.Addr
}

// StartProxy listens on port of the fake internet's address (0: chosen)
// and returns the port.
func (n *Net) StartProxy(port int, p Proxy) (int, error) {
	if p.Guard == nil {
		p.Guard = &netguard.Guard{}
	}
	if p.MaxBytes == 0 {
		p.MaxBytes = 64 << 20
	}
	if p.Idle == 0 {
		p.Idle = time.Minute
	}
	ln, err := net.Listen("tcp", netip.AddrPortFrom(n.addr, uint16(port)).String())
	if err != nil {
		return 0, fmt.Errorf("sandbox proxy: %w", err)
	}
	h := &proxyHandler{n: n, p: p}
	h.client = &http.Client{
		Transport: &http.Transport{DialContext: h.dial, Proxy: h.upstream, DisableCompression: true,
			TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: 30 * time.Second, MaxIdleConns: 16, IdleConnTimeout: 30 * time.Second},
		// A redirect goes back to the guest, whose client follows it
		// through here again (and is recorded again).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       5 * time.Minute,
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	n.mu.Lock()
	n.lns = append(n.lns, ln)
	n.proxies = append(n.proxies, srv)
	n.mu.Unlock()
	go srv.Serve(ln)
	return ln.Addr().(*net.TCPAddr).Port, nil
}

type proxyHandler struct {
	n      *Net
	p      Proxy
	client *http.Client
}

func (h *proxyHandler) upstream(*http.Request) (*url.URL, error) { return h.p.Upstream, nil }

// dial goes to the destination through the guard, or to the upstream proxy
// once the destination's name has passed the guard.
func (h *proxyHandler) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if h.p.Upstream == nil {
		return h.p.Guard.DialContext(ctx, network, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// checkName is the guard for a destination the upstream will resolve.
func (h *proxyHandler) checkName(ctx context.Context, hostport string) error {
	if h.p.Upstream == nil {
		return nil // the guarded dial checks each address it connects to
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return err
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return err
	}
	var p uint16
	fmt.Sscan(port, &p)
	for _, ip := range ips {
		if err := h.p.Guard.Check(netip.AddrPortFrom(ip, p)); err != nil {
			return fmt.Errorf("%s: %w", host, err)
		}
	}
	return nil
}

func (h *proxyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.p.Clients != nil {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !slices.Contains(h.p.Clients, ap.Addr().Unmap()) {
			h.n.record(r.RemoteAddr, "proxy", r.Host, "refused: not a sandbox guest")
			http.Error(w, "this proxy serves the sandbox's guests only", http.StatusForbidden)
			return
		}
	}
	if r.Method == http.MethodConnect {
		h.connect(w, r)
		return
	}
	if r.URL.Scheme != "http" || r.URL.Host == "" {
		http.Error(w, "a proxy request wants an absolute http:// URL (https goes through CONNECT)", http.StatusBadRequest)
		return
	}
	what := r.Method + " " + r.URL.String()
	hostport := r.URL.Host
	if r.URL.Port() == "" {
		hostport = net.JoinHostPort(r.URL.Hostname(), "80")
	}
	if err := h.checkName(r.Context(), hostport); err != nil {
		h.refuse(w, r, what, err)
		return
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, r.URL.String(), io.LimitReader(r.Body, h.p.MaxBytes))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out.ContentLength = r.ContentLength
	copyHeaders(out.Header, r.Header)
	resp, err := h.client.Do(out)
	if err != nil {
		h.refuse(w, r, what, err)
		return
	}
	defer resp.Body.Close()
	copyHeaders(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	n, _ := io.Copy(w, io.LimitReader(resp.Body, h.p.MaxBytes))
	h.n.record(r.RemoteAddr, "proxy", r.URL.Hostname(), fmt.Sprintf("%s → %d %s (%d bytes)", what, resp.StatusCode, resp.Header.Get("Content-Type"), n))
}

// refuse answers 403 for a guarded destination, 502 for one that failed,
// and records either.
func (h *proxyHandler) refuse(w http.ResponseWriter, r *http.Request, what string, err error) {
	code := http.StatusBadGateway
	if errors.Is(err, netguard.ErrRefused) {
		code = http.StatusForbidden
	}
	host := r.URL.Hostname()
	if r.Method == http.MethodConnect {
		host, _, _ = net.SplitHostPort(r.Host)
	}
	h.n.record(r.RemoteAddr, "proxy", host, fmt.Sprintf("%s → %d: %v", what, code, err))
	// The guest tells the proxy's own answer from the site's by this.
	w.Header().Set(ProxyHeader, map[int]string{http.StatusForbidden: "refused", http.StatusBadGateway: "failed"}[code])
	http.Error(w, err.Error(), code)
}

// connect tunnels a CONNECT (what HTTPS through a proxy is) to a guarded
// destination.
func (h *proxyHandler) connect(w http.ResponseWriter, r *http.Request) {
	what := "CONNECT " + r.Host
	if _, _, err := net.SplitHostPort(r.Host); err != nil {
		http.Error(w, "CONNECT wants host:port", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if err := h.checkName(ctx, r.Host); err != nil {
		h.refuse(w, r, what, err)
		return
	}
	var up net.Conn
	var err error
	if h.p.Upstream == nil {
		up, err = h.p.Guard.DialContext(ctx, "tcp", r.Host)
	} else {
		up, err = connectVia(ctx, h.p.Upstream, r.Host)
	}
	if err != nil {
		h.refuse(w, r, what, err)
		return
	}
	defer up.Close()
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "no tunnel on this connection", http.StatusInternalServerError)
		return
	}
	c, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	var sent, got atomic.Int64
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn, r io.Reader, n *atomic.Int64) {
		b := make([]byte, 32<<10)
		for {
			src.SetReadDeadline(time.Now().Add(h.p.Idle))
			k, err := r.Read(b)
			if k > 0 {
				if _, werr := dst.Write(b[:k]); werr != nil {
					break
				}
				n.Add(int64(k))
			}
			if err != nil || n.Load() > h.p.MaxBytes {
				break
			}
		}
		// Both directions end together: a tunnel half closed is over.
		c.Close()
		up.Close()
		done <- struct{}{}
	}
	go pipe(up, c, buf, &sent)
	go pipe(c, up, up, &got)
	<-done
	<-done
	h.n.record(r.RemoteAddr, "proxy", strings.Split(r.Host, ":")[0], fmt.Sprintf("%s → tunnel (%d bytes sent, %d received)", what, sent.Load(), got.Load()))
}

// connectVia opens a tunnel to hostport through an upstream HTTP proxy.
func connectVia(ctx context.Context, upstream *url.URL, hostport string) (net.Conn, error) {
	var d net.Dialer
	addr := upstream.Host
	if upstream.Port() == "" {
		addr = net.JoinHostPort(upstream.Hostname(), "80")
	}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("upstream proxy: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: hostport}, Host: hostport, Header: http.Header{}}
	if u := upstream.User; u != nil {
		pw, _ := u.Password()
		req.SetBasicAuth(u.Username(), pw)
		req.Header.Set("Proxy-Authorization", req.Header.Get("Authorization"))
		req.Header.Del("Authorization")
	}
	if err := req.Write(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("upstream proxy: %w", err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("upstream proxy: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		c.Close()
		return nil, fmt.Errorf("upstream proxy: CONNECT %s: %s", hostport, resp.Status)
	}
	if br.Buffered() > 0 {
		c.Close()
		return nil, errors.New("upstream proxy: spoke before the tunnel was set up")
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// hopByHop are the headers of one connection, never forwarded (RFC 9110
// section 7.6.1).
var hopByHop = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func copyHeaders(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = append([]string(nil), vs...)
	}
	for _, f := range src.Values("Connection") {
		for _, k := range strings.Split(f, ",") {
			dst.Del(strings.TrimSpace(k))
		}
	}
	for _, k := range hopByHop {
		dst.Del(k)
	}
}
