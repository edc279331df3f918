package fakenet

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/netguard"
)

func proxyClient(proxy int, tlsConf *tls.Config) *http.Client {
	u, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", proxy))
	return &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: tlsConf},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func port(t *testing.T, s *httptest.Server) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://"))
	n, _ := strconv.Atoi(p)
	return n
}

// The proxy is the guest's way to a real web server: plain HTTP and
// HTTPS through CONNECT reach it, redirects go back to the client, each
// request is recorded; an inside address is refused (403) unless the
// administrator allowed its network, and refused by name too.
func TestProxyFetchesWhatTheGuardAllows(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/go" {
			http.Redirect(w, r, "/payload.sh", http.StatusFound)
			return
		}
		if r.Header.Get("Proxy-Authorization") != "" || r.Header.Get("Proxy-Connection") != "" {
			t.Errorf("hop-by-hop headers reached the server: %v", r.Header)
		}
		w.Header().Set("Content-Type", "text/x-sh")
		io.WriteString(w, "#!/bin/sh\necho payload\n")
	}))
	defer web.Close()
	tlsWeb := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secret page") }))
	defer tlsWeb.Close()

	n, err := Start(netip.MustParseAddr("127.0.0.1"), Ports{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	guarded, err := n.StartProxy(0, Proxy{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := proxyClient(guarded, nil).Get(web.URL + "/payload.sh")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("loopback through the default guard: %s", resp.Status)
	}
	resp, err = proxyClient(guarded, nil).Get(fmt.Sprintf("http://localhost:%d/", port(t, web)))
	if err == nil {
		resp.Body.Close()
	}
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("loopback by name: %v %v", err, resp)
	}
	if _, err := proxyClient(guarded, &tls.Config{InsecureSkipVerify: true}).Get(tlsWeb.URL); err == nil {
		t.Fatal("CONNECT to loopback went through the default guard")
	}

	n2, err := Start(netip.MustParseAddr("127.0.0.1"), Ports{})
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	allow := &netguard.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Ports: []int{port(t, web), port(t, tlsWeb)}}
	open, err := n2.StartProxy(0, Proxy{Guard: allow})
	if err != nil {
		t.Fatal(err)
	}
	c := proxyClient(open, &tls.Config{InsecureSkipVerify: true})
	req, _ := http.NewRequest("GET", web.URL+"/go", nil)
	req.Header.Set("Proxy-Connection", "keep-alive")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/payload.sh" {
		t.Fatalf("redirect: %s %v", resp.Status, resp.Header)
	}
	resp, err = c.Get(web.URL + "/payload.sh")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "#!/bin/sh\necho payload\n" {
		t.Fatalf("body %q", body)
	}
	resp, err = c.Get(tlsWeb.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "secret page" {
		t.Fatalf("https body %q", body)
	}
	c.CloseIdleConnections() // the tunnel ends, and is recorded

	seen := func(n *Net) string {
		var b strings.Builder
		for _, c := range n.Seen("127.0.0.1", start, time.Now().Add(time.Second)) {
			fmt.Fprintf(&b, "%s %s %s\n", c.Kind, c.Name, c.Detail)
		}
		return b.String()
	}
	// Only the guests: another address on the host is refused.
	n3, err := Start(netip.MustParseAddr("127.0.0.1"), Ports{})
	if err != nil {
		t.Fatal(err)
	}
	defer n3.Close()
	only, err := n3.StartProxy(0, Proxy{Guard: allow, Clients: []netip.Addr{netip.MustParseAddr("10.77.0.10")}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = proxyClient(only, nil).Get(web.URL + "/payload.sh")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a client that is no guest: %s", resp.Status)
	}
	if s := seen(n); strings.Count(s, "→ 403") != 3 || !strings.Contains(s, "proxy localhost GET") {
		t.Errorf("refusals recorded:\n%s", s)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(seen(n2), "tunnel") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	s := seen(n2)
	for _, want := range []string{"/go → 302", "/payload.sh → 200 text/x-sh (23 bytes)", "CONNECT 127.0.0.1:" + strconv.Itoa(port(t, tlsWeb)) + " → tunnel"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in:\n%s", want, s)
		}
	}
}

// Through the site's own proxy: the name is checked here (an inside
// address is refused before the upstream sees it), and what passes goes
// to the upstream, for plain HTTP and for CONNECT.
func TestProxyThroughAnUpstream(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "via upstream") }))
	defer web.Close()
	tlsWeb := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tls via upstream") }))
	defer tlsWeb.Close()
	// The site's proxy: another instance of ours, open to loopback.
	site, err := Start(netip.MustParseAddr("127.0.0.1"), Ports{})
	if err != nil {
		t.Fatal(err)
	}
	defer site.Close()
	sitePort, err := site.StartProxy(0, Proxy{Guard: &netguard.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Ports: []int{port(t, web), port(t, tlsWeb)}}})
	if err != nil {
		t.Fatal(err)
	}
	up, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", sitePort))
	n, err := Start(netip.MustParseAddr("127.0.0.1"), Ports{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	guard := &netguard.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Ports: []int{port(t, web), port(t, tlsWeb)}}
	p, err := n.StartProxy(0, Proxy{Guard: guard, Upstream: up})
	if err != nil {
		t.Fatal(err)
	}
	c := proxyClient(p, &tls.Config{InsecureSkipVerify: true})
	for u, want := range map[string]string{web.URL: "via upstream", tlsWeb.URL: "tls via upstream"} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("%s: %q", u, b)
		}
	}
	guard.Allow = nil
	resp, err := c.Get(web.URL + "/again")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("an inside address through the upstream: %s", resp.Status)
	}
	for _, ct := range site.Seen("127.0.0.1", time.Time{}, time.Now()) {
		if strings.Contains(ct.Detail, "/again") {
			t.Errorf("the upstream saw a refused request: %+v", ct)
		}
	}
}
