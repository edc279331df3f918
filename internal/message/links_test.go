package message

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

const token = "https://mi.test/c/T"

func rewrite(t testing.TB, msg string, lim Limits) (string, int, []string) {
	t.Helper()
	var out bytes.Buffer
	var got []string
	n, err := RewriteLinks(strings.NewReader(msg), lim, func(u string) string {
		got = append(got, u)
		return fmt.Sprintf("%s%d", token, len(got))
	}, &out)
	if err != nil {
		t.Fatalf("rewrite: %v", err)
	}
	return out.String(), n, got
}

func TestRewriteLinksKeepsStructure(t *testing.T) {
	zipBytes := zipOf(t, "a.txt", []byte("attached"))
	msg := crlf(`From: a@example.org
Subject: links
Content-Type: multipart/mixed; boundary="m"

--m
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Go to http://evil.example/a and http://evil.example/a/b now, caf=E9.
--alt
Content-Type: text/html

<html><head><base href="https://base.example/"></head><body><a href="login">x</a> <img src="/i.png"> https://text.example/</body></html>
--alt--
--m
Content-Type: application/zip
Content-Disposition: attachment; filename=a.zip
Content-Transfer-Encoding: base64

`) + b64(zipBytes) + crlf("--m--\n")
	out, n, got := rewrite(t, msg, DefaultLimits)
	if n != 5 {
		t.Errorf("%d links rewritten (%q), want 5 (two in text, a href, img src, text in HTML)", n, got)
	}
	res, err := Walk(strings.NewReader(out), DefaultLimits, nil)
	if err != nil || len(res.Malformed) != 0 || len(res.Blind) != 0 {
		t.Fatalf("rewritten message: %v %v %v\n%s", err, res.Malformed, res.Blind, out)
	}
	var types []string
	for _, p := range res.Parts {
		types = append(types, p.Path+" "+p.ContentType)
	}
	if strings.Join(types, "|") != "1.1 text/plain|1.2 text/html|2 application/zip" {
		t.Fatalf("structure changed: %v", types)
	}
	sum := sha256.Sum256(zipBytes)
	if res.Parts[2].SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatal("the attachment changed")
	}
	for _, u := range res.URLs {
		if !strings.HasPrefix(u.URL, token) {
			t.Errorf("link left as it was: %+v", u)
		}
	}
	if !strings.Contains(out, "caf=C3=A9") || !strings.Contains(out, "Subject: links\r\n") {
		t.Errorf("text not kept as UTF-8, or header changed:\n%s", out)
	}
}

// TestRewriteLinksLeavesNothingLive: every form of link a client follows
// or loads goes through the link pages or is made inert: scheme-relative,
// backslashed, UNC, file:, the ms-* and search-ms handlers, javascript:,
// data:, images, srcset, CSS, meta refresh, SVG, form actions, and what
// Outlook renders of a conditional comment; mailto:, anchors and data:
// images stay. In text too.
func TestRewriteLinksLeavesNothingLive(t *testing.T) {
	htmlBody := `<html><body>
<a href="//evil.example/a">1</a> <a href="http:\\evil.example\b">2</a> <a href="file://evil.example/share/x.exe">3</a>
<a href="\\evil.example\share\x.exe">4</a> <a href="ms-msdt:/id PCWDiagnostic">5</a> <a href="search-ms:query=x&crumb=location:\\evil.example\s">6</a>
<a href="JavaScript:alert(1)">7</a> <a href="data:text/html;base64,PHNjcmlwdD4=">8</a> <img src="https://tracker.example/p.gif">
<img srcset="https://a.example/1.png 1x, https://a.example/2.png 2x"> <div style="background:url('https://bg.example/x.png')">s</div>
<meta http-equiv="refresh" content="0; url=https://refresh.example/"> <svg><a xlink:href="https://svg.example/">v</a></svg>
<form action="https://post.example/"><button formaction="https://btn.example/">b</button></form>
<!--[if mso]><a href="https://outlook.example/">o</a><![endif]-->
<a href="mailto:x@example.com">m</a> <a href="#top">t</a> <img src="data:image/png;base64,iVBORw0KGgo="> <a href="  https://spaced.example/ ">w</a>
</body></html>`
	text := "See http:\\\\evil.example\\c and \\\\evil.example\\share\\y.exe and file:///etc/passwd and ms-msdt:/id x or www.plain.example.\r\n"
	msg := "Content-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\nContent-Type: text/plain\r\n\r\n" + text +
		"--a\r\nContent-Type: text/html\r\n\r\n" + strings.ReplaceAll(htmlBody, "\n", "\r\n") + "\r\n--a--\r\n"
	out, n, got := rewrite(t, msg, DefaultLimits)
	want := []string{"http://evil.example/a", "http://evil.example/b", "file://evil.example/share/x.exe", `\\evil.example\share\x.exe`,
		"ms-msdt:/id PCWDiagnostic", `search-ms:query=x&crumb=location:\\evil.example\s`, "https://tracker.example/p.gif",
		"https://a.example/1.png", "https://a.example/2.png", "https://bg.example/x.png", "https://refresh.example/", "https://svg.example/",
		"https://post.example/", "https://btn.example/", "https://outlook.example/", "https://spaced.example/",
		"http://evil.example/c", `\\evil.example\share\y.exe`, "file:///etc/passwd", "ms-msdt:/id", "http://www.plain.example/"}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("%q did not go to the link pages (rewritten: %q)", w, got)
		}
	}
	if n != len(want)+2 { // and javascript:, data:text/html made inert
		t.Errorf("%d rewritten, want %d", n, len(want)+2)
	}
	// What is left in the HTML: pages, inert, or harmless.
	res, err := Walk(strings.NewReader(out), DefaultLimits, func(p *Part, r io.Reader) error {
		if p.ContentType != "text/html" {
			return nil
		}
		z := html.NewTokenizer(r)
		for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
			tok := z.Token()
			for _, a := range tok.Attr {
				v := strings.TrimSpace(a.Val)
				switch {
				case a.Key == "http-equiv", a.Key == "content" && !strings.Contains(v, "url="):
				case strings.HasPrefix(v, token), strings.Contains(v, "url="+token), v == "about:blank", strings.HasPrefix(v, "mailto:"),
					strings.HasPrefix(v, "#"), strings.HasPrefix(v, "data:image/"), strings.HasPrefix(v, "background:url(\""+token):
				case a.Key == "srcset" && strings.Count(v, token) == 2:
				default:
					t.Errorf("left live: <%s %s=%q>", tok.Data, a.Key, a.Val)
				}
			}
			if tt == html.CommentToken && strings.Contains(tok.Data, "outlook.example") {
				t.Errorf("conditional comment left live: %q", tok.Data)
			}
		}
		return nil
	})
	if err != nil || len(res.Blind) > 0 {
		t.Fatalf("%v %v", err, res.Blind)
	}
	if strings.Contains(out, "alert(1)") || strings.Contains(out, "PHNjcmlwdD4") {
		t.Error("a script link survived")
	}
}

// TestRewriteLinksNeverCutsAPart: a text part of any size goes out whole
// (it was cut at 4 MiB), its links rewritten to the end.
func TestRewriteLinksNeverCutsAPart(t *testing.T) {
	var text strings.Builder
	for text.Len() < 5<<20 {
		fmt.Fprintf(&text, "line %d http://far.example/%d\r\n", text.Len(), text.Len())
	}
	text.WriteString("the very end http://last.example/\r\n")
	msg := "Subject: long\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text.String()
	var out bytes.Buffer
	n, err := RewriteLinks(strings.NewReader(msg), DefaultLimits, func(u string) string { return "https://mi.test/c/" + hex.EncodeToString([]byte(u)) }, &out)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	if _, err := Walk(&out, DefaultLimits, func(p *Part, r io.Reader) error { got, _ = io.ReadAll(r); return nil }); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(got), "the very end https://mi.test/c/"+hex.EncodeToString([]byte("http://last.example/"))+"\r\n") {
		t.Fatalf("the part's end: %q", got[max(0, len(got)-100):])
	}
	if want := strings.Count(text.String(), "http://"); n != want || strings.Contains(string(got), "http://far.example") {
		t.Fatalf("%d links rewritten, want %d", n, want)
	}
}

// TestRewriteLinksRefusesWhatItCannotRebuild: a message the walk would
// read with a blind spot is refused whole (the caller holds it).
func TestRewriteLinksRefusesWhatItCannotRebuild(t *testing.T) {
	for name, msg := range map[string]string{
		"two boundaries": "Content-Type: multipart/mixed; boundary=a; boundary=b\r\n\r\n--a\r\n\r\nhttp://x.example/\r\n--a--\r\n",
		"no delimiter":   "Content-Type: multipart/mixed; boundary=a\r\n\r\nhttp://x.example/\r\n",
		"two types":      "Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\nhttp://x.example/\r\n",
	} {
		if _, err := RewriteLinks(strings.NewReader(msg), DefaultLimits, func(u string) string { return token }, io.Discard); err == nil {
			t.Errorf("%s: rewritten", name)
		}
	}
}

// FuzzRewriteLinks: whatever the message, a rewritten copy has no web link
// left in any part the walk finds, and walks without a blind spot.
func FuzzRewriteLinks(f *testing.F) {
	f.Add([]byte("Content-Type: text/html\r\n\r\n<a href=\"http://a.example/\">x</a> http://b.example/"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nwww.c.example\r\n--b--\r\n"))
	f.Add([]byte("Content-Type: text/html\r\n\r\n<!--[if mso]><a href=\"//d.example/\">o</a><![endif]--><img srcset=\"http://e.example/ 1x\">"))
	f.Fuzz(func(t *testing.T, data []byte) {
		data = crlfLineEnds(data)
		lim := Limits{MaxDepth: 5, MaxParts: 20, MaxHeaderBytes: 4096, MaxTextBytes: 1 << 16, MaxEmbeddedBytes: 1 << 16}
		var out bytes.Buffer
		if _, err := RewriteLinks(bytes.NewReader(data), lim, func(string) string { return token }, &out); err != nil {
			return // refused whole: the caller holds it instead
		}
		res, err := Walk(&out, lim, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range res.URLs {
			if u.URL != token {
				t.Fatalf("a link survived the rewrite: %+v\n%q", u, out.String())
			}
		}
	})
}
