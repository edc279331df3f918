package clickguard

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
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

// FuzzVerify: a token verifies only as the very string the appliance
// wrote for its link — no second spelling of a signed token (changed
// padding bits, an inserted line break) is accepted — every link the
// appliance writes verifies as itself, and any one byte changed or
// inserted in a token is refused.
func FuzzVerify(f *testing.F) {
	// A fixed key, so that the seeds and the corpus stay valid tokens.
	g := &Guard{key: bytes.Repeat([]byte{7}, 32), base: "https://mi.example"}
	f.Add(g.Token(Link{URL: "https://a.example/", MessageID: "m1", Mode: Block}), "https://a.example/x?y=1", "m1", true, 5, byte('A'))
	f.Add("x.y", "javascript:alert(1)", "", false, 0, byte('\n'))
	f.Add(g.Token(Link{URL: "http://b.example", Mode: Warn}), "", "id", false, 1<<20, byte('='))
	f.Fuzz(func(t *testing.T, tok, url, id string, block bool, at int, b byte) {
		if l, err := g.Verify(tok); err == nil && g.Token(l) != tok {
			t.Fatalf("%q verified as %+v, whose token is %q", tok, l, g.Token(l))
		}
		// JSON carries UTF-8 only; tokens past 16 KiB are refused whole.
		if !utf8.ValidString(url) || !utf8.ValidString(id) || len(url)+len(id) > 8<<10 {
			return
		}
		l := Link{URL: url, MessageID: id, Mode: Warn}
		if block {
			l.Mode = Block
		}
		tok = g.Token(l)
		if got, err := g.Verify(tok); err != nil || got != l {
			t.Fatalf("token of %+v verified as %+v, %v", l, got, err)
		}
		i := at % (len(tok) + 1)
		if i < 0 {
			i += len(tok) + 1
		}
		if l2, err := g.Verify(tok[:i] + string(b) + tok[i:]); err == nil {
			t.Fatalf("%q with %q inserted at %d verified as %+v", tok, b, i, l2)
		}
		if i < len(tok) && tok[i] != b {
			if l2, err := g.Verify(tok[:i] + string(b) + tok[i+1:]); err == nil {
				t.Fatalf("%q with byte %d changed to %q verified as %+v", tok, i, b, l2)
			}
		}
	})
}
