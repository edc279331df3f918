package message

import (
	"bytes"
	"fmt"
	"io"
	"mime/quotedprintable"
	"regexp"
	"sort"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// partTexts are a message's parts as the walk decodes them (text in
// UTF-8), by path; false: the walk found it malformed or blind.
func partTexts(t *testing.T, msg []byte) (map[string]string, bool) {
	t.Helper()
	out := map[string]string{}
	lim := DefaultLimits
	lim.MaxTextBytes = 64 << 20 // the 8 MiB part read whole
	res, err := Walk(bytes.NewReader(msg), lim, func(p *Part, content io.Reader) error {
		b, err := io.ReadAll(content)
		if err != nil {
			return err
		}
		if strings.HasPrefix(p.ContentType, "text/") && !p.Attachment {
			b, _ = toUTF8Bytes(p.Charset, b)
		}
		out[p.Path] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, len(res.Malformed) == 0 && len(res.Blind) == 0
}

func qp(s string) string {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

// wrapped is a wrapper TestRewriteClicks writes.
var wrapped = regexp.MustCompile(`https://mi\.test/c/T[0-9]{6}`)

// TestRewriteClicks: over the project's tricky messages, every link a
// person can click is wrapped exactly once (the links found are the ones
// listed, each once), nothing else is (images, style sheets, mailto:,
// anchors, attributes that only look like links), the copy is valid MIME
// with every other part whole, and putting each link's Raw back where its
// wrapper is gives every part's text byte for byte.
func TestRewriteClicks(t *testing.T) {
	html1 := `<html><head><base href="https://base.test/dir/"><link rel=stylesheet href="https://cdn.test/s.css"></head><body>` +
		`<a href="HTTPS://Example.COM/Path?a=1&amp;b=2">upper &amp; entities</a> <a href='relative/page.html'>relative</a> ` +
		`<a href=https://unquoted.test/x title="t">unquoted</a> <a data-href="https://not.a.link/" href="#top">anchor</a> ` +
		`<a href="mailto:bob@example.org">mail</a> <img src="https://img.test/p.gif" alt="https://img.test/alt"> ` +
		`<map><area shape=rect href="https://area.test/"></map><form action="https://form.test/post"><button formaction="https://button.test/">go</button></form>` +
		`<a HREF = "https://spaced.test/" href="https://second.test/">first href wins</a>` +
		`<!--[if mso]><a href="https://mso.test/">outlook</a><![endif]--><p>text https://text-in-html.test/ stays</p>` +
		`<a href="javascript:alert(1)">js</a><a href="file:///c:/x.exe">file</a>` + strings.Repeat("x", 3000) + `</body></html>`
	want1 := []string{"HTTPS://Example.COM/Path?a=1&amp;b=2", "relative/page.html", "https://unquoted.test/x", "https://area.test/",
		"https://form.test/post", "https://button.test/", "https://spaced.test/", "https://mso.test/"}
	text1 := "See https://docs.test/a?b=c, and www.example.net/page. Mail bob@example.org.\r\nIn brackets <https://angle.test/x> and (http://paren.test/y).\r\n" +
		"A file: file:///etc/passwd and \\\\host\\share stay.\r\n"
	want2 := []string{"https://docs.test/a?b=c", "www.example.net/page", "https://angle.test/x", "http://paren.test/y"}
	attachment := strings.Repeat("\x00\x01binary https://in.attachment.test/ ", 200)
	big := "<html><body>" + strings.Repeat(`<p>line of text <a href="https://big.test/p">link</a> and more words to make it long</p>`+"\r\n", 8<<20/90) + "</body></html>"
	latin := "<p>Gr\xfc\xdfe <a href=\"https://latin.test/\xfc\">hier</a></p>"
	cases := []struct {
		name string
		msg  string
		want []string // the Raw of each link wrapped, in any order
	}{
		{"html, quoted-printable", "From: a@example.org\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp(html1), want1},
		{"nested, base64 text, attachment", "From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n" +
			"--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n" +
			"--inner\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64([]byte(text1)) +
			"--inner\r\nContent-Type: text/html\r\n\r\n" + html1 + "\r\n--inner--\r\n" +
			"--outer\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64([]byte(attachment)) +
			"--outer--\r\n", append(append([]string{}, want2...), want1...)},
		{"8 MiB HTML", "From: a@example.org\r\nContent-Type: text/html\r\n\r\n" + big, nil},
		{"latin-1", "From: a@example.org\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n" + latin, []string{"https://latin.test/ü"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raws := map[string]string{}
			var got []string
			var out bytes.Buffer
			n, err := RewriteClicks(strings.NewReader(c.msg), DefaultLimits, func(l ClickLink) (string, bool) {
				tok := fmt.Sprintf("https://mi.test/c/T%06d", len(raws))
				raws[tok] = l.Raw
				got = append(got, l.Raw)
				return tok, true
			}, &out)
			if err != nil {
				t.Fatal(err)
			}
			if c.want == nil { // the big one: a link every line
				c.want = make([]string, strings.Count(c.msg, `href="https://big.test/p"`))
				for i := range c.want {
					c.want[i] = "https://big.test/p"
				}
			}
			sort.Strings(got)
			want := append([]string(nil), c.want...)
			sort.Strings(want)
			if n != len(want) || strings.Join(got, "\n") != strings.Join(want, "\n") {
				if len(got) > 20 {
					got, want = got[:20], want[:min(20, len(want))]
				}
				t.Fatalf("%d links wrapped:\n%s\nwant %d:\n%s", n, strings.Join(got, "\n"), len(c.want), strings.Join(want, "\n"))
			}
			// The header's fields go out in the order they came (the two
			// the rewrite sets, Content-Type and -Transfer-Encoding, first).
			head, _, _ := strings.Cut(out.String(), "\r\n\r\n")
			last := -1
			for _, f := range []string{"From:", "Subject:", "MIME-Version:"} {
				i := strings.Index(head, f)
				if i >= 0 && i < last {
					t.Fatalf("the header's order changed:\n%s", head)
				}
				last = max(last, i)
			}
			before, ok := partTexts(t, []byte(c.msg))
			if !ok {
				t.Fatal("the original is not clean MIME: fix the fixture")
			}
			after, ok := partTexts(t, out.Bytes())
			if !ok {
				t.Fatal("the rewritten message is not clean MIME")
			}
			for _, line := range strings.Split(out.String(), "\r\n") {
				if len(line) > 998 {
					t.Fatalf("a line of %d characters", len(line))
				}
			}
			if len(after) != len(before) {
				t.Fatalf("%d parts, was %d", len(after), len(before))
			}
			for path, text := range after {
				restored := wrapped.ReplaceAllStringFunc(text, func(tok string) string { return raws[tok] })
				if restored != before[path] {
					i := 0
					for i < len(restored) && i < len(before[path]) && restored[i] == before[path][i] {
						i++
					}
					t.Fatalf("part %s restored differs at byte %d: %q, was %q", path, i, restored[i:min(i+80, len(restored))], before[path][i:min(i+80, len(before[path]))])
				}
			}
		})
	}
}

// FuzzRawAttrs: the click rewriter's reading of a start tag's attributes
// (where it splices) is the HTML tokenizer's: the same names and values,
// in the same order, for any tag the tokenizer reads as one start tag.
func FuzzRawAttrs(f *testing.F) {
	for _, s := range []string{`<a href="x">`, `<a HREF = 'y' b=c d>`, `<a href=x/>`, `<a =x href="&amp;">`, `<a/href="p"/title=q>`,
		"<a\thref\n=\r\"x\"\f>", `<a href="unclosed>`, `<a b="1"c='2'>`, `<area href=https://x/?a=1&b=2>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		z := html.NewTokenizer(strings.NewReader(tag))
		tt := z.Next()
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			return
		}
		raw := append([]byte(nil), z.Raw()...)
		tok := z.Token()
		if z.Next() != html.ErrorToken {
			return // more than one token: the tag ended early
		}
		var got []rawAttr
		seen := map[string]bool{}
		for _, a := range rawAttrs(raw) {
			if !seen[a.name] { // the tokenizer keeps the first of a name, as the click rewriter does
				seen[a.name] = true
				got = append(got, a)
			}
		}
		if len(got) != len(tok.Attr) {
			t.Fatalf("%q: %d attributes, the tokenizer has %d (%+v)", raw, len(got), len(tok.Attr), tok.Attr)
		}
		for i, a := range tok.Attr {
			if got[i].name != a.Key || attrValue(raw[got[i].start:got[i].end]) != a.Val {
				t.Fatalf("%q: attribute %d is %q=%q, the tokenizer's %q=%q", raw, i, got[i].name, raw[got[i].start:got[i].end], a.Key, a.Val)
			}
		}
	})
}
