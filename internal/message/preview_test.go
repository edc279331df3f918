package message

import (
	"strings"
	"testing"
)

// TestPreview: the first text body is the preview, decoded from its
// transfer encoding and charset; without one, the HTML body's visible
// text a line per block (no script, no style); attachments never; a long
// text is cut on a character boundary and says so.
func TestPreview(t *testing.T) {
	for _, c := range []struct {
		name, msg, want, from string
		cut                   bool
	}{
		{"text", "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe, Bob\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nnot this\r\n--b--\r\n",
			"Grüße, Bob", "text", false},
		{"html", "Subject: x\r\nContent-Type: text/html\r\n\r\n<html><head><style>p{color:red}</style><script>alert(1)</script></head><body><p>Your   account</p><div>is <b>locked</b><br>click <a href=\"http://x.test/\">here</a></div></body></html>\r\n",
			"Your account\nis locked\nclick here", "html", false},
		{"none", "Subject: x\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n", "", "none", false},
		{"cut", "Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.Repeat("é", 40) + "\r\n", strings.Repeat("é", 7), "text", true},
	} {
		max := 1 << 10
		if c.cut {
			max = 15
		}
		got, from, cut, err := Preview(strings.NewReader(c.msg), DefaultLimits, max)
		if err != nil || got != c.want || from != c.from || cut != c.cut {
			t.Errorf("%s: %q %s %v %v, want %q %s %v", c.name, got, from, cut, err, c.want, c.from, c.cut)
		}
	}
}
