package clickguard

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestTokensAreSignedAndTamperingIsRefused(t *testing.T) {
	dir := t.TempDir()
	g, err := Open(dir, "https://mi.example/")
	if err != nil {
		t.Fatal(err)
	}
	l := Link{URL: "https://evil.example/login?u=1", MessageID: "m1", Mode: Warn}
	link := g.Rewrite(l)
	if !strings.HasPrefix(link, "https://mi.example/c/") || strings.Contains(link, "evil.example") {
		t.Fatalf("rewritten %s", link)
	}
	tok := strings.TrimPrefix(link, "https://mi.example/c/")
	if got, err := g.Verify(tok); err != nil || got != l {
		t.Fatalf("verify: %+v %v", got, err)
	}
	// The same key after a restart.
	g2, _ := Open(dir, "https://mi.example")
	if _, err := g2.Verify(tok); err != nil {
		t.Fatalf("after reopen: %v", err)
	}
	// Another appliance's key, a changed payload, a changed mode: refused.
	other, _ := Open(t.TempDir(), "https://mi.example")
	forged := other.Token(Link{URL: "https://attacker.example/", Mode: Warn})
	payload, sig, _ := strings.Cut(tok, ".")
	for _, bad := range []string{forged, payload + "." + sig[:len(sig)-2] + "AA", strings.ToUpper(payload) + "." + sig, payload, "", "a.b.c"} {
		if _, err := g.Verify(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestPagesBlockWarnAndRefuse(t *testing.T) {
	g, _ := Open(t.TempDir(), "http://mi.test")
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	get := func(tok string) (int, string) {
		resp, err := http.Get(srv.URL + "/c/" + tok)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("security headers missing: %v", resp.Header)
		}
		return resp.StatusCode, string(b)
	}
	code, body := get(g.Token(Link{URL: "https://evil.example/<script>", MessageID: "m1", Mode: Block}))
	if code != 200 || !strings.Contains(body, "Link blocked") || strings.Contains(body, "<script>") || strings.Contains(body, `href="https://evil`) {
		t.Fatalf("block page %d:\n%s", code, body)
	}
	code, body = get(g.Token(Link{URL: "https://warn.example/x?a=1&b=2", Mode: Warn}))
	if code != 200 || !strings.Contains(body, `href="https://warn.example/x?a=1&amp;b=2"`) {
		t.Fatalf("warn page %d:\n%s", code, body)
	}
	code, body = get(g.Token(Link{URL: "javascript:alert(1)", Mode: Warn}))
	if strings.Contains(body, "javascript:") && strings.Contains(body, "href=") {
		t.Fatalf("warn page links a javascript: URL:\n%s", body)
	}
	if code, _ := get("not-a-token"); code != 400 {
		t.Fatalf("unknown token: %d", code)
	}
}

func FuzzVerify(f *testing.F) {
	g, _ := Open(f.TempDir(), "https://mi.example")
	f.Add(g.Token(Link{URL: "https://a.example/", Mode: Block}))
	f.Add("x.y")
	f.Fuzz(func(t *testing.T, tok string) {
		if l, err := g.Verify(tok); err == nil && g.Token(l) != tok {
			// A different token verifying means a second encoding of a
			// signed payload; it must carry the same link.
			if l2, _ := g.Verify(g.Token(l)); l2 != l {
				t.Fatalf("%q verified as %+v", tok, l)
			}
		}
	})
}
