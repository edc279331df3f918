package message

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"mailinspector/internal/testutil"
)

func b64(b []byte) string { return testutil.Base64Lines(b) }

func zipOf(t testing.TB, name string, content []byte) []byte {
	return testutil.Zip(t, map[string][]byte{name: content})
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func TestWalkNestedMessage(t *testing.T) {
	zipBytes := zipOf(t, "invoice.txt", []byte("hello"))
	inner := crlf(`From: a@example.org
Subject: inner
Content-Type: multipart/mixed; boundary="in"

--in
Content-Type: text/plain

see http://inner.example/x
--in
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="tool.exe"
Content-Transfer-Encoding: base64

`) + b64([]byte("MZ\x90\x00this is not really a program")) + crlf(`--in--
`)
	msg := crlf(`From: Bob <bob@example.org>
To: alice@example.com
Subject: =?utf-8?q?caf=C3=A9?=
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Visit HTTP://WWW.Example.COM:80/a%7Eb?q=1#frag or www.second.example/path.
A long link https://long.example/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=
bbb and caf=E9
--alt
Content-Type: text/html; charset=utf-8

<html><head><base href="https://base.example/dir/"></head><body>
<a href="rel/page.html">relative</a> <a href="https://bücher.example/">idn</a>
<img src="//cdn.example/img.png"> <form action="/login"></form>
<a href="javascript:alert(1)">js</a> <a href="mailto:x@example.com">mail</a>
Text link: https://text-in-html.example/
</body></html>
--alt--
--outer
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename*=UTF-8''%2E%2E%2F%2E%2E%2Fetc%2Fpassw%C3%B6rd.pdf
Content-Transfer-Encoding: base64

`) + b64(zipBytes) + crlf(`--outer
Content-Type: message/rfc822

`) + inner + crlf(`--outer--
`)
	res, err := Walk(strings.NewReader(msg), DefaultLimits, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Malformed) != 0 {
		t.Errorf("malformed: %v", res.Malformed)
	}
	paths := []string{}
	for _, p := range res.Parts {
		paths = append(paths, p.Path+" "+p.ContentType)
	}
	want := "1.1 text/plain|1.2 text/html|2 application/pdf|3.1 text/plain|3.2 application/octet-stream"
	if got := strings.Join(paths, "|"); got != want {
		t.Fatalf("parts\n got %s\nwant %s", got, want)
	}
	pdf := res.Parts[2]
	sum := sha256.Sum256(zipBytes)
	if !pdf.Attachment || pdf.DeclaredType != "application/pdf" || pdf.TrueType != "application/zip" ||
		pdf.SHA256 != hex.EncodeToString(sum[:]) || pdf.Size != int64(len(zipBytes)) {
		t.Errorf("misnamed zip: %+v", pdf)
	}
	if pdf.Filename != ".._.._etc_passwörd.pdf" {
		t.Errorf("RFC 2231 file name %q: decoded, with separators replaced", pdf.Filename)
	}
	exe := res.Parts[4]
	if exe.InMessage != 1 || exe.Filename != "tool.exe" || exe.TrueType != "application/x-dosexec" || exe.DeclaredType != "application/x-dosexec" {
		t.Errorf("attachment of the attached message: %+v", exe)
	}
	if res.Parts[0].Attachment || res.Parts[1].Attachment {
		t.Errorf("bodies taken for attachments: %+v", res.Parts[:2])
	}
	urls := map[string]string{}
	for _, u := range res.URLs {
		urls[u.URL] = u.Where
	}
	for u, where := range map[string]string{
		"http://www.example.com/a~b?q=1":                          "1.1 text",
		"http://www.second.example/path":                          "1.1 text",
		"https://long.example/" + strings.Repeat("a", 68) + "bbb": "1.1 text",
		"https://base.example/dir/rel/page.html":                  "1.2 a href",
		"https://xn--bcher-kva.example/":                          "1.2 a href",
		"https://cdn.example/img.png":                             "1.2 img src",
		"https://base.example/login":                              "1.2 form action",
		"https://text-in-html.example/":                           "1.2 html text",
		"http://inner.example/x":                                  "3.1 text",
	} {
		if urls[u] != where {
			t.Errorf("URL %s: found at %q, want %q (all: %v)", u, urls[u], where, urls)
		}
	}
	if len(urls) != 9 {
		t.Errorf("%d URLs, want 9 (javascript: and mailto: are not links to rate): %v", len(urls), urls)
	}
}

func TestMalformedIsWalkedAsFarAsItGoes(t *testing.T) {
	cases := map[string]struct {
		msg       string
		malformed string
		parts     int
	}{
		"no closing boundary": {crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhttp://a.example/\n--b\nContent-Type: text/plain\n\ncut"), "closing delimiter", 2},
		// As clients show it: the body as text, its bytes looked at.
		"no boundary":      {crlf("Content-Type: multipart/mixed\n\nbody\n"), "without a boundary", 1},
		"bad base64":       {crlf("Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n!!QU JD**\n"), "outside the alphabet", 1},
		"bad content type": {crlf("Content-Type: text/plain; charset\n\nhello\n"), "Content-Type", 1},
		"unknown charset":  {crlf("Content-Type: text/plain; charset=x-nonsense\n\nhello http://c.example/\n"), "charset", 1},
		"mbox From line":   {crlf("From bob@example.org Sat Jan  1 00:00:00 2000\nSubject: x\n\nbody\n"), "mbox", 1},
		"no empty line":    {crlf("Subject: x\nthis is not a field\nbody\n"), "without an empty line", 1},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := Walk(strings.NewReader(c.msg), DefaultLimits, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(res.Malformed, "; "), c.malformed) {
				t.Errorf("malformed %q, want it to mention %q", res.Malformed, c.malformed)
			}
			if len(res.Parts) != c.parts {
				t.Errorf("%d parts, want %d", len(res.Parts), c.parts)
			}
			if len(res.Blind) > 0 {
				t.Errorf("blind spots %q: each of these is read whole", res.Blind)
			}
		})
	}
}

// TestLimitsAreBlindSpots: what the walk does not look at because of a
// limit, or could read two ways, is named in Blind (the message is then
// unrated), never only noted as malformed.
func TestLimitsAreBlindSpots(t *testing.T) {
	many := func(n int) string {
		var b strings.Builder
		b.WriteString("Content-Type: multipart/mixed; boundary=m\r\n\r\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "--m\r\nContent-Type: text/plain\r\n\r\npart %d\r\n", i)
		}
		b.WriteString("--m--\r\n")
		return b.String()
	}
	deep := func(depth int) string {
		var b strings.Builder
		for i := 0; i < depth; i++ {
			fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
		}
		b.WriteString("Content-Type: text/plain\r\n\r\ndeep http://deep.example/\r\n")
		for i := depth - 1; i >= 0; i-- {
			fmt.Fprintf(&b, "--b%d--\r\n", i)
		}
		return b.String()
	}
	lim := DefaultLimits
	lim.MaxParts, lim.MaxTextBytes = 10, 1000
	for name, c := range map[string]struct{ msg, blind string }{
		"parts":          {many(11), "more than 10 parts"},
		"depth":          {deep(200), "nesting deeper than 20"},
		"header":         {"X-Long: " + strings.Repeat("a", 300*1024) + "\r\n\r\nbody\r\n", "header block larger"},
		"part header":    {"Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nX-Long: " + strings.Repeat("a", 300*1024) + "\r\n\r\nbody\r\n--m--\r\n", "part 1: header block larger"},
		"text":           {"Content-Type: text/plain\r\n\r\n" + strings.Repeat("a", 1001), "text larger than 1000"},
		"two boundaries": {"Content-Type: multipart/mixed; boundary=a; boundary=b\r\n\r\n--a\r\n\r\nx\r\n--a--\r\n", "read two ways (its boundary)"},
		"two types":      {"Content-Type: text/plain\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\nx\r\n--a--\r\n", "Content-Type fields that disagree"},
		"after padding":  {"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD\r\nQQ==\r\nQUJD\r\n", "after its padding"},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := Walk(strings.NewReader(c.msg), lim, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(res.Blind, "; "), c.blind) {
				t.Fatalf("blind %q, want %q (malformed %q)", res.Blind, c.blind, res.Malformed)
			}
		})
	}
}

func TestVisitSeesDecodedContentAndHashesCoverAll(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789"), 10000)
	msg := crlf("Content-Type: application/octet-stream\nContent-Disposition: attachment; filename=data.bin\nContent-Transfer-Encoding: base64\n\n") + b64(content)
	var seen int
	res, err := Walk(strings.NewReader(msg), DefaultLimits, func(p *Part, r io.Reader) error {
		buf := make([]byte, 100)
		n, _ := io.ReadFull(r, buf) // read a little only
		seen = n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	if seen != 100 || res.Parts[0].SHA256 != hex.EncodeToString(sum[:]) || res.Parts[0].Size != int64(len(content)) {
		t.Fatalf("seen %d, part %+v", seen, res.Parts[0])
	}
}

func TestTrueType(t *testing.T) {
	tar := make([]byte, 512)
	copy(tar[257:], "ustar")
	for in, want := range map[string]string{
		"PK\x03\x04rest": "application/zip", "%PDF-1.7": "application/pdf", "MZ\x90": "application/x-dosexec",
		"\x7fELF\x02": "application/x-executable", string(tar): "application/x-tar", "hello world\r\n": "text/plain",
		"  <!DOCTYPE html><p>": "text/html", "\x00\x01\x02\x03\x04\x05": "application/octet-stream", "": "application/x-empty",
		"#!/bin/sh\n": "text/x-script", "\x1f\x8b\x08": "application/gzip",
	} {
		if got := TrueType([]byte(in)); got != want {
			t.Errorf("TrueType(%q) = %s, want %s", in[:min(len(in), 12)], got, want)
		}
	}
}

func FuzzWalk(f *testing.F) {
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: text/html\r\n\r\n<a href=x>\r\n--b--\r\n"))
	f.Add([]byte("Subject: x\r\n\r\nhttp://a.example/"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Walk(bytes.NewReader(data), Limits{MaxDepth: 10, MaxParts: 50, MaxHeaderBytes: 4096, MaxTextBytes: 4096}, nil)
		if err != nil {
			t.Fatalf("walk failed without a visit error: %v", err)
		}
		if len(res.Parts) > 50 {
			t.Fatalf("%d parts past the limit", len(res.Parts))
		}
		for _, p := range res.Parts {
			if strings.ContainsAny(p.Filename, "/\\") {
				t.Fatalf("file name with a separator: %q", p.Filename)
			}
		}
	})
}

func FuzzExtractURLs(f *testing.F) {
	f.Add([]byte(`<base href="http://b.example/"><a href="../x">`), true)
	f.Add([]byte("see www.a.example/x, and HTTPS://B.EXAMPLE:443"), false)
	f.Fuzz(func(t *testing.T, body []byte, isHTML bool) {
		for _, u := range ExtractURLs(body, isHTML, "1") {
			again, ok := Normalize(u.URL, nil)
			if !ok || again != u.URL {
				t.Fatalf("normal form %q is not stable: %q %v", u.URL, again, ok)
			}
		}
	})
}

// TestPasswordHintsFromTheWalk: the hints of every text and HTML body,
// found on the first call, the same for calls at once.
func TestPasswordHintsFromTheWalk(t *testing.T) {
	msg := crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nThe password is: Xk29!aa\n" +
		"--b\nContent-Type: text/html\n\n<p>Use <b>password</b> &quot;tulip77&quot;</p>\n--b--\n")
	res, err := Walk(strings.NewReader(msg), DefaultLimits, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([][]string, 4)
	for i := range got {
		wg.Go(func() { got[i] = res.PasswordHints() })
	}
	wg.Wait()
	for _, g := range got {
		if strings.Join(g, " ") != "Xk29!aa tulip77" {
			t.Fatalf("hints %q, want Xk29!aa and tulip77", g)
		}
	}
}

func TestPasswordHints(t *testing.T) {
	for body, want := range map[string]string{
		"The password is: Xk29!aa":                              "Xk29!aa",
		"Passwort: geheim123.":                                  "geheim123",
		"<p>Use <b>password</b> <i>&quot;tulip77&quot;</i></p>": "tulip77",
		"pw=abc123 for the zip":                                 "abc123",
		"mot de passe : Soleil2026":                             "Soleil2026",
		"no cue here at all":                                    "",
	} {
		isHTML := strings.HasPrefix(body, "<")
		got := appendHints(nil, []byte(body), isHTML)
		if want == "" && len(got) != 0 || want != "" && (len(got) == 0 || got[0] != want) {
			t.Errorf("%q: hints %q, want %q", body, got, want)
		}
	}
}

func TestStripKeepsTextsAndReplacesAttachments(t *testing.T) {
	msg := crlf("From: a@example.org\nTo: b@example.com\nSubject: files\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\ncaf=E9 text\n--b\nContent-Type: application/zip\nContent-Disposition: attachment; filename=x.zip\nContent-Transfer-Encoding: base64\n\n") +
		b64([]byte("PK\x03\x04 pretend zip")) + crlf("--b--\n")
	out, removed := strip(t, msg)
	if strings.Join(removed, ",") != "x.zip" {
		t.Fatalf("removed %v", removed)
	}
	res, err := Walk(bytes.NewReader(out), DefaultLimits, nil)
	if err != nil || len(res.Malformed) != 0 || len(res.Parts) != 2 {
		t.Fatalf("stripped message: %v %v %+v\n%s", err, res.Malformed, res.Parts, out)
	}
	s := string(out)
	for _, want := range []string{"Subject: files", "From: a@example.org", `charset="iso-8859-1"`, "caf=E9 text", "removed x.zip"} {
		if !strings.Contains(s, want) {
			t.Errorf("stripped message lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "UEsDBC") { // the zip's base64
		t.Error("the attachment's bytes are still there")
	}
}

func strip(t *testing.T, msg string) ([]byte, []string) {
	t.Helper()
	open := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(msg)), nil }
	var out bytes.Buffer
	removed, err := Strip(open, DefaultLimits, func(p *Part) string { return "removed " + p.Filename }, &out)
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), removed
}

// TestStripKeepsLargeTextsWhole: a text part of any size goes out whole
// (it was cut at MaxTextBytes), and files written into a text body go
// with the attachments.
func TestStripKeepsLargeTextsWhole(t *testing.T) {
	var text strings.Builder
	for text.Len() < 5<<20 {
		fmt.Fprintf(&text, "line %d of a long text, http://example.com/%d\r\n", text.Len(), text.Len())
	}
	text.WriteString("the end\r\n")
	msg := "Subject: long\r\nContent-Type: text/plain\r\n\r\n" + text.String() + "begin 644 evil.com\r\n" + uuLines([]byte(testutil.EICAR)) + "`\r\nend\r\nafter the file\r\n"
	out, removed := strip(t, msg)
	if strings.Join(removed, ",") != "evil.com" {
		t.Fatalf("removed %v", removed)
	}
	var got []byte
	if _, err := Walk(bytes.NewReader(out), DefaultLimits, func(p *Part, r io.Reader) error {
		if p.Path == "1" {
			got, _ = io.ReadAll(r)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := text.String() + "[evil.com removed]\r\nafter the file\r\n"
	if string(got) != want {
		t.Fatalf("text part: %d bytes, want %d (its end %q)", len(got), len(want), got[max(0, len(got)-60):])
	}
	if bytes.Contains(out, []byte("begin 644")) {
		t.Error("the uuencoded file is still in the text")
	}
}
