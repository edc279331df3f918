package agent_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/netguard"
	"mailinspector/internal/sandbox/agent"
	"mailinspector/internal/sandbox/fakenet"
	"mailinspector/internal/testutil"
)

const loginPage = `<!DOCTYPE html><html><body><form action="/collect" method="post">
<input name="user"><input type = 'password' name="pw"></form></body></html>`

// A link run by the real agent under the real strace, with the real curl,
// through the sandbox's proxy to a web server: the redirect is followed,
// the page is recognised as asking for a password, the proxy is what the
// guest connected to, and the page is a dropped file of the run.
func TestAgentFetchesALinkThroughTheProxy(t *testing.T) {
	testutil.RequireTool(t, "curl")
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/start" {
			http.Redirect(w, r, "/login", http.StatusFound)
			return
		}
		if !strings.Contains(r.UserAgent(), "Mozilla/5.0") {
			t.Errorf("user agent %q", r.UserAgent())
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, loginPage)
	}))
	defer web.Close()
	fn := startFakeNet(t)
	pp := openProxy(t, fn, web)
	proxy := fmt.Sprintf("http://127.0.0.1:%d", pp)

	key := []byte("instance key")
	c := startAgent(t, key, true)
	start := time.Now()
	token := agent.NewToken()
	rep, err := c.Run(context.Background(), &agent.RunRequest{Token: token, Name: web.URL + "/start", SHA256: sum([]byte(web.URL + "/start")),
		URL: web.URL + "/start", Proxy: proxy, TimeoutMS: 15000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := rep.Fetch
	if !rep.Ran || rep.How != "curl" || f == nil {
		t.Fatalf("report %+v", rep)
	}
	if f.Final != web.URL+"/login" || f.Status != 200 || f.Redirects != 1 || f.Kind != "html" || !f.LoginForm || f.Via != "proxy" || f.Bytes != int64(len(loginPage)) {
		t.Fatalf("fetch %+v", f)
	}
	var connected, fetched bool
	for _, e := range rep.Events {
		connected = connected || (e.Type == agent.EvConnect && e.Addr == fmt.Sprintf("127.0.0.1:%d", pp))
		fetched = fetched || (e.Type == agent.EvFetch && e.Addr == f.Final && strings.Contains(e.Detail, "asks for a password"))
	}
	if !connected || !fetched {
		t.Fatalf("connect to the proxy %v, fetch event %v:\n%v", connected, fetched, rep.Events)
	}
	if f.SHA256 != sum([]byte(loginPage)) {
		t.Errorf("page sha %s", f.SHA256)
	}
	b, err := c.File(context.Background(), token, f.SHA256)
	if err != nil || string(b) != loginPage {
		t.Fatalf("the page as a dropped file: %v %q", err, b)
	}
	var seen []string
	for _, ct := range fn.Seen("127.0.0.1", start, time.Now()) {
		seen = append(seen, ct.Detail)
	}
	if len(seen) != 2 || !strings.Contains(seen[0], "/start → 302") || !strings.Contains(seen[1], "/login → 200") {
		t.Errorf("the proxy saw %q", seen)
	}
}

// A link that loads nothing is a failed run, never a clean one.
func TestAgentALinkThatDoesNotLoadIsAFailure(t *testing.T) {
	testutil.RequireTool(t, "curl")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := startAgent(t, []byte("k"), true)
	rep, err := c.Run(context.Background(), &agent.RunRequest{Token: agent.NewToken(), Name: "link", URL: "http://" + addr + "/", TimeoutMS: 10000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ran || !strings.Contains(rep.Error, "the link did not load") || rep.Fetch == nil || rep.Fetch.Via != "fake internet" {
		t.Fatalf("report %+v fetch %+v", rep, rep.Fetch)
	}
	// Web addresses only: not the guest's own files.
	c = startAgent(t, []byte("k"), true)
	rep, err = c.Run(context.Background(), &agent.RunRequest{Token: agent.NewToken(), Name: "link", URL: "file:///etc/hostname", TimeoutMS: 10000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ran || !strings.Contains(rep.Error, `Protocol "file" not supported`) {
		t.Fatalf("a file: link: ran=%v error %q", rep.Ran, rep.Error)
	}
}

// A PDF is opened with the viewer the guest has (poppler's pdftoppm), as
// a user's click would, under the tracer: it ran, and rendered its page.
func TestAgentOpensAPDFWithTheViewer(t *testing.T) {
	testutil.RequireTool(t, "pdftoppm")
	pdf := testutil.OnePagePDF()
	c := startAgent(t, []byte("k"), true)
	rep, err := c.Run(context.Background(), &agent.RunRequest{Token: agent.NewToken(), Name: "statement.PDF", SHA256: sum(pdf), Sample: pdf, TimeoutMS: 15000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Ran || rep.How != "pdftoppm" || rep.ExitCode != 0 {
		t.Fatalf("report %+v", rep)
	}
	var page bool
	for _, e := range rep.Events {
		page = page || (e.Type == agent.EvWrite && strings.HasSuffix(e.Path, "/page-1.png"))
	}
	if !page {
		t.Fatalf("no rendered page among %v", rep.Events)
	}
}

// A link the proxy refuses (an inside address) or cannot fetch, and a
// server error: nothing of the site's to judge, so a failed run.
func TestAgentALinkTheProxyRefusesIsAFailure(t *testing.T) {
	testutil.RequireTool(t, "curl")
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "oops", 500) }))
	defer broken.Close()
	fn := startFakeNet(t)
	guarded, err := fn.StartProxy(0, fakenet.Proxy{})
	must(t, err)
	open := openProxy(t, fn, broken)
	for _, c := range []struct {
		proxy int
		want  string
	}{
		{guarded, "the sandbox proxy refused it (HTTP 403"},
		{open, "HTTP 500 from " + broken.URL},
	} {
		a := startAgent(t, []byte("k"), true)
		rep, err := a.Run(context.Background(), &agent.RunRequest{Token: agent.NewToken(), Name: "link", URL: broken.URL + "/",
			Proxy: fmt.Sprintf("http://127.0.0.1:%d", c.proxy), TimeoutMS: 10000}, nil)
		must(t, err)
		if rep.Ran || !strings.Contains(rep.Error, c.want) {
			t.Errorf("report ran=%v error %q, want %q", rep.Ran, rep.Error, c.want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func startFakeNet(t *testing.T) *fakenet.Net {
	t.Helper()
	fn, err := fakenet.Start(netip.MustParseAddr("127.0.0.1"), fakenet.Ports{})
	must(t, err)
	t.Cleanup(fn.Close)
	return fn
}

// openProxy starts a sandbox proxy on fn whose guard lets it reach srv, a
// test server on loopback, and returns its port.
func openProxy(t *testing.T, fn *fakenet.Net, srv *httptest.Server) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	port, _ := strconv.Atoi(p)
	pp, err := fn.StartProxy(0, fakenet.Proxy{Guard: &netguard.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Ports: []int{port}}})
	must(t, err)
	return pp
}
