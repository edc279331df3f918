package message

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// Strip writes to out a copy of a message without its attachments: the
// body texts stay whole, in their own charset (quoted-printable), each
// attachment — an attached message's parts, and files written into a text
// body (uuencode, yEnc) included — becomes a short text part saying what
// was removed; notice gives that text. The header fields stay, but for the
// MIME ones. open gives the message from its start (it is read twice).
// Nothing is held in memory: a text part of any size goes out whole. Strip
// returns the names of what was removed.
func Strip(open func() (io.ReadCloser, error), lim Limits, notice func(p *Part) string, out io.Writer) ([]string, error) {
	f, err := open()
	if err != nil {
		return nil, err
	}
	hr := readHeader(bufio.NewReader(f), lim.MaxHeaderBytes)
	f.Close()
	h := hr.h
	for _, k := range []string{"Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "MIME-Version"} {
		h.Del(k)
	}
	boundary := newBoundary()
	h.Set("MIME-Version", "1.0")
	h.Set("Content-Type", `multipart/mixed; boundary="`+boundary+`"`)
	bw := bufio.NewWriter(out)
	if err := textproto.WriteHeader(bw, h); err != nil {
		return nil, err
	}
	var removed []string
	part := func(ctype, cs string) io.WriteCloser {
		fmt.Fprintf(bw, "--%s\r\n", boundary)
		if cs != "" {
			ctype += `; charset="` + strings.ReplaceAll(cs, `"`, "") + `"`
		}
		fmt.Fprintf(bw, "Content-Type: %s\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", ctype)
		return quotedprintable.NewWriter(bw)
	}
	if f, err = open(); err != nil {
		return nil, err
	}
	defer f.Close()
	_, err = Walk(f, lim, func(p *Part, content io.Reader) error {
		if !p.Attachment && p.InMessage == 0 {
			qw := part(p.ContentType, p.Charset)
			var dst io.Writer = qw
			var files *embeddedFinder
			if p.ContentType == "text/plain" {
				// Files written into the text leave with the rest of
				// the attachments; a line says where each was.
				files = &embeddedFinder{pass: qw}
				dst = files
			}
			if _, err := io.Copy(dst, content); err != nil {
				return err
			}
			if files != nil {
				files.Close()
			}
			if err := qw.Close(); err != nil {
				return err
			}
			_, err := bw.WriteString("\r\n")
			return err
		}
		name := p.Filename
		if name == "" {
			name = "part " + p.Path
		}
		removed = append(removed, name)
		qw := part("text/plain", "utf-8")
		io.WriteString(qw, notice(p))
		if err := qw.Close(); err != nil {
			return err
		}
		_, err := bw.WriteString("\r\n")
		return err
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(bw, "--%s--\r\n", boundary)
	return removed, bw.Flush()
}

// newBoundary makes a multipart boundary that cannot occur in
// quoted-printable text: it starts with "=_", and quoted-printable writes
// "=" only before two hex digits or a line end.
func newBoundary() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "=_MailInspector_" + hex.EncodeToString(b)
}
