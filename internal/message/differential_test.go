package message

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"mailinspector/internal/testutil"
)

var updateDifferential = flag.Bool("update", false, "rewrite testdata/differential from its builders")

// differentialCase is one malformed message of testdata/differential:
// every file a lenient client finds in it, the walk must find too.
type differentialCase struct {
	name  string
	build func(t *testing.T) string
}

func differentialCases() []differentialCase {
	zip := func(t *testing.T) []byte {
		return testutil.Zip(t, map[string][]byte{"eicar.com": []byte(testutil.EICAR)})
	}
	top := func(ct string) string {
		return "From: bob@example.org\r\nTo: alice@example.com\r\nSubject: test\r\nDate: Fri, 27 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: " + ct + "\r\n"
	}
	attach := func(t *testing.T, name string) string {
		return "Content-Type: application/zip; name=\"" + name + "\"\r\nContent-Disposition: attachment; filename=\"" + name + "\"\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n" + b64(zip(t))
	}
	return []differentialCase{
		{"params-junk", func(t *testing.T) string {
			return top(`multipart/mixed; boundary="XYZ"; junk`) + "\r\n--XYZ\r\nContent-Type: text/plain\r\n\r\nhi\r\n--XYZ\r\n" + attach(t, "a.zip") + "--XYZ--\r\n"
		}},
		{"params-duplicate", func(t *testing.T) string {
			return top(`multipart/mixed; boundary=AAA; boundary=BBB`) + "\r\n--AAA\r\n" + attach(t, "a.zip") + "--BBB\r\n" + attach(t, "b.zip") + "--AAA--\r\n"
		}},
		{"params-odd", func(t *testing.T) string {
			return top("Multipart/MIXED (a comment) ;\r\n\tBOUNDARY = \"o\\dd\"  ; x=\"y;z\"") + "\r\n--odd\r\n" + attach(t, "a.zip") + "--odd--\r\n"
		}},
		{"params-unterminated-quote", func(t *testing.T) string {
			return top(`multipart/mixed; boundary="q1`) + "\r\n--q1\r\n" + attach(t, "a.zip") + "--q1--\r\n"
		}},
		{"params-encoded-word", func(t *testing.T) string {
			return top(`multipart/mixed; boundary="=?utf-8?q?ew?="`) + "\r\n--ew\r\n" + attach(t, "a.zip") + "--ew--\r\n"
		}},
		{"params-rfc2231", func(t *testing.T) string {
			return top(`multipart/mixed; boundary*0="par"; boundary*1="ts"`) + "\r\n--parts\r\n" +
				"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=UTF-8''%C3%A9t%C3%A9.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				b64(zip(t)) + "--parts--\r\n"
		}},
		{"mbox-from-line", func(t *testing.T) string {
			return "From bob@example.org Fri Nov 27 08:00:00 2026\r\n" + top("multipart/mixed; boundary=m") + "\r\n--m\r\n" + attach(t, "a.zip") + "--m--\r\n"
		}},
		{"header-junk-line", func(t *testing.T) string {
			return top("multipart/mixed; boundary=j") + "this line is no field\r\nX-After: junk\r\n\r\n--j\r\n" + attach(t, "a.zip") + "--j--\r\n"
		}},
		{"part-header-junk-line", func(t *testing.T) string {
			return top("multipart/mixed; boundary=p") + "\r\n--p\r\nContent-Type: application/octet-stream; name=raw.bin\r\nbad header line\r\n" +
				"Content-Transfer-Encoding: base64\r\n\r\n" + b64(zip(t)) + "--p\r\n" + attach(t, "b.zip") + "--p--\r\n"
		}},
		{"part-without-header", func(t *testing.T) string {
			return top("multipart/mixed; boundary=n") + "\r\n--n\r\n\r\nno header at all\r\n--n\r\n" + attach(t, "a.zip") + "--n--\r\n"
		}},
		{"no-closing-delimiter", func(t *testing.T) string {
			return top("multipart/mixed; boundary=c") + "\r\n--c\r\nContent-Type: text/plain\r\n\r\nhi\r\n--c\r\n" + attach(t, "a.zip")
		}},
		{"delimiter-trailing-space", func(t *testing.T) string {
			return top("multipart/mixed; boundary=s") + "\r\n--s  \r\n" + attach(t, "a.zip") + "--s\t\r\n" + attach(t, "b.zip") + "--s-- \r\n"
		}},
		{"fake-delimiters-in-preamble", func(t *testing.T) string {
			return top("multipart/mixed; boundary=f") + "\r\npreamble --f not a delimiter\r\n--fx\r\n--f\r\n" + attach(t, "a.zip") +
				"--f--\r\nepilogue\r\n--f\r\n" + attach(t, "hidden.zip")
		}},
		{"nested-prefix-boundary", func(t *testing.T) string {
			return top("multipart/mixed; boundary=b") + "\r\n--b\r\nContent-Type: multipart/mixed; boundary=bb\r\n\r\n--bb\r\n" + attach(t, "inner.zip") +
				"--bb--\r\n--b\r\n" + attach(t, "outer.zip") + "--b--\r\n"
		}},
		{"nested-unclosed", func(t *testing.T) string {
			return top("multipart/mixed; boundary=o") + "\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\nx\r\n--i\r\n" +
				attach(t, "inner.zip") + "--o\r\n" + attach(t, "after.zip") + "--o--\r\n"
		}},
		{"base64-junk", func(t *testing.T) string {
			return top("multipart/mixed; boundary=j") + "\r\n--j\r\nContent-Type: application/octet-stream; name=j.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				strings.ReplaceAll(strings.ReplaceAll(b64(zip(t)), "A", "A!"), "\r\n", " \t\r\n") + "--j--\r\n"
		}},
		{"qp-attachment-bad-escapes", func(t *testing.T) string {
			return top("multipart/mixed; boundary=q") + "\r\n--q\r\nContent-Type: text/plain; charset=iso-8859-1; name=notes.txt\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
				"caf=E9 =XZ = ==41 tail  \r\nsoft=\r\nbreak=4\r\n--q--\r\n"
		}},
		{"lf-only-attached-message", func(t *testing.T) string {
			inner := strings.ReplaceAll("From: x@example.net\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n--in\r\n"+attach(t, "inner.zip")+"--in--\r\n", "\r\n", "\n")
			return top("multipart/mixed; boundary=o") + "\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "--o--\r\n"
		}},
		{"uuencode-part", func(t *testing.T) string {
			return top("multipart/mixed; boundary=u") + "\r\n--u\r\nContent-Type: application/octet-stream; name=u.zip\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 u.zip\r\n" +
				uuLines(zip(t)) + "`\r\nend\r\n--u--\r\n"
		}},
		{"charset-attachment", func(t *testing.T) string {
			return top("multipart/mixed; boundary=c") + "\r\n--c\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Disposition: attachment; filename=latin.txt\r\n" +
				"Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xe9 cr\xe8me\r\n--c--\r\n"
		}},
		{"no-subtype", func(t *testing.T) string {
			return top("application; name=x.bin") + "Content-Transfer-Encoding: base64\r\n\r\n" + b64(zip(t))
		}},
		{"multipart-transfer-encoded", func(t *testing.T) string {
			return top("multipart/mixed; boundary=e") + "Content-Transfer-Encoding: base64\r\n\r\n--e\r\n" + attach(t, "a.zip") + "--e--\r\n"
		}},
		{"eight-bit-header", func(t *testing.T) string {
			return top("multipart/mixed; boundary=8") + "X-Note: caf\xe9\r\n\r\n--8\r\nContent-Type: application/zip; name=\"r\xe9sum\xe9.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				b64(zip(t)) + "--8--\r\n"
		}},
	}
}

// TestWalkSeesWhatAClientShows is the differential test of the walk: over
// the project's corpus of malformed messages (testdata/differential),
// every file that Python's email package extracts — the stand-in for a
// lenient mail client — is also found, decoded to the same bytes (its
// SHA-256) and visited (scanned) by the walk.
func TestWalkSeesWhatAClientShows(t *testing.T) {
	dir := filepath.Join("testdata", "differential")
	cases := differentialCases()
	if *updateDifferential {
		must(t, os.MkdirAll(dir, 0o755))
		for _, c := range cases {
			must(t, os.WriteFile(filepath.Join(dir, c.name+".eml"), []byte(c.build(t)), 0o644))
		}
	}
	py := testutil.StartPyEmail(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, c.name+".eml"))
			if err != nil {
				t.Fatalf("%v (go test ./internal/message -run Differential -update writes the corpus)", err)
			}
			client, err := py.Parts(raw)
			if err != nil {
				t.Fatal(err)
			}
			if len(client) == 0 {
				t.Fatal("Python finds no file in this message: the case proves nothing")
			}
			if missed := unseen(t, raw, client); len(missed) > 0 {
				t.Fatalf("the walk did not see %v", missed)
			}
		})
	}
}

// unseen lists the files a client found that the walk did not visit with
// the same content. Content that differs only by one line end at its end
// counts as seen: clients differ on whether the line end before a
// delimiter belongs to a malformed part (Python's email package keeps it
// for a multipart without a boundary, drops it for the last part of a
// multipart without its closing delimiter), and it hides nothing.
func unseen(t *testing.T, raw []byte, client []testutil.PyPart) []string {
	t.Helper()
	visited := map[string]bool{}
	sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	_, err := Walk(bytes.NewReader(raw), DefaultLimits, func(p *Part, r io.Reader) error {
		b, err := io.ReadAll(r)
		visited[sum(b)] = true
		visited[sum(append(b, '\r', '\n'))+" eol"] = true
		if t, ok := bytes.CutSuffix(b, []byte("\r\n")); ok {
			visited[sum(t)+" eol"] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var missed []string
	for _, c := range client {
		if c.Size == 0 {
			continue // nothing in it to scan
		}
		if !visited[c.SHA256] && !visited[c.SHA256+" eol"] {
			name := "(no name)"
			if c.Filename != nil {
				name = *c.Filename
			}
			missed = append(missed, fmt.Sprintf("%s %s (%d bytes)", name, c.Type, c.Size))
		}
	}
	sort.Strings(missed)
	return missed
}

// FuzzWalkSeesWhatAClientShows mutates the corpus: whatever the message,
// every file Python's email package extracts is seen by the walk, or the
// walk names a blind spot (the message is then held as unscannable). The
// input is first given CRLF line ends as the SMTP server leaves every
// message it accepts (smtp.bare_lf refuses or normalizes a bare CR or LF).
func FuzzWalkSeesWhatAClientShows(f *testing.F) {
	for _, c := range differentialCases() {
		raw, err := os.ReadFile(filepath.Join("testdata", "differential", c.name+".eml"))
		if err == nil {
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		raw = crlfLineEnds(raw)
		py := testutil.StartPyEmail(t)
		client, err := py.Parts(raw)
		if err != nil {
			return // a message Python itself cannot read
		}
		missed := unseen(t, raw, client)
		if len(missed) == 0 {
			return
		}
		res, _ := Walk(bytes.NewReader(raw), DefaultLimits, nil)
		if len(res.Blind) == 0 {
			t.Fatalf("the walk did not see %v and names no blind spot (malformed: %q)", missed, res.Malformed)
		}
	})
}

// crlfLineEnds turns every bare CR and bare LF into CRLF, as the SMTP
// server's normalize mode does.
func crlfLineEnds(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	b = bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
