package message

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// Strip writes a copy of a message without its attachments: the body
// texts stay (as UTF-8, quoted-printable), each attachment (and each
// attached message) becomes a short text part saying what was removed;
// notice gives that text. The header fields stay, but for the MIME ones.
// open gives the message from its start (it is read twice). Strip returns
// the new message and the names of what was removed.
func Strip(open func() (io.ReadCloser, error), lim Limits, notice func(p *Part) string) ([]byte, []string, error) {
	f, err := open()
	if err != nil {
		return nil, nil, err
	}
	hdr, err := textproto.ReadHeader(bufio.NewReader(io.LimitReader(f, lim.MaxHeaderBytes)))
	f.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	type piece struct {
		ctype string
		body  []byte
	}
	var pieces []piece
	var removed []string
	if f, err = open(); err != nil {
		return nil, nil, err
	}
	defer f.Close()
	_, err = Walk(f, lim, func(p *Part, content io.Reader) error {
		if !p.Attachment && p.InMessage == 0 {
			b, err := io.ReadAll(io.LimitReader(content, lim.MaxTextBytes))
			pieces = append(pieces, piece{p.ContentType, b})
			return err
		}
		name := p.Filename
		if name == "" {
			name = "part " + p.Path
		}
		removed = append(removed, name)
		pieces = append(pieces, piece{"text/plain", []byte(notice(p))})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	h := gomessage.Header{Header: hdr}
	for _, k := range []string{"Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "MIME-Version"} {
		h.Del(k)
	}
	h.Set("MIME-Version", "1.0")
	h.SetContentType("multipart/mixed", nil)
	var out bytes.Buffer
	w, err := gomessage.CreateWriter(&out, h)
	if err != nil {
		return nil, nil, err
	}
	for _, pc := range pieces {
		var ph gomessage.Header
		ph.SetContentType(pc.ctype, map[string]string{"charset": "utf-8"})
		ph.Set("Content-Transfer-Encoding", "quoted-printable")
		pw, err := w.CreatePart(ph)
		if err != nil {
			return nil, nil, err
		}
		pw.Write(pc.body)
		if err := pw.Close(); err != nil {
			return nil, nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, nil, err
	}
	return out.Bytes(), removed, nil
}
