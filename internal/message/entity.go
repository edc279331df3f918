package message

import (
	"bufio"
	"errors"
	"io"
	"math"
	"strings"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// The walk reads headers and multipart structure with go-message's textproto
// and makes each entity with gomessage.New, as gomessage.Read and its
// multipart reader do, with one difference: a base64 body is decoded by
// base64Reader (see there why) instead of go-message's decoder. Charsets,
// quoted-printable and unknown encodings are go-message's as before.

var errHeaderTooBig = errors.New("header exceeds the maximum size")

// readEntity reads one message's header (at most maxHeader bytes) and
// returns its entity, as gomessage.ReadWithOptions does.
func readEntity(r io.Reader, maxHeader int64) (*gomessage.Entity, error) {
	lr := &headerLimit{r: r, n: maxHeader}
	br := bufio.NewReader(lr)
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return nil, err
	}
	lr.n = math.MaxInt64
	return newEntity(h, br)
}

// newEntity is gomessage.New with base64 decoded by base64Reader. The
// entity keeps the header as it came, Content-Transfer-Encoding included.
func newEntity(h textproto.Header, body io.Reader) (*gomessage.Entity, error) {
	hdr := gomessage.Header{Header: h}
	mt, _, _ := hdr.ContentType()
	// go-message ignores a transfer encoding on a multipart (RFC 2045 6.4
	// forbids one; some senders write it anyway): so do we.
	if strings.HasPrefix(mt, "multipart/") || !strings.EqualFold(strings.TrimSpace(h.Get("Content-Transfer-Encoding")), "base64") {
		return gomessage.New(hdr, body)
	}
	plain := h.Copy()
	plain.Del("Content-Transfer-Encoding")
	e, err := gomessage.New(gomessage.Header{Header: plain}, newBase64Reader(body))
	if e != nil {
		e.Header = hdr
	}
	return e, err
}

// nextPart is go-message's MultipartReader.NextPart through newEntity.
func nextPart(mr *textproto.MultipartReader) (*gomessage.Entity, error) {
	p, err := mr.NextPart()
	if err != nil {
		return nil, err
	}
	return newEntity(p.Header, p)
}

// headerLimit is io.LimitedReader with an error that says what was too big.
type headerLimit struct {
	r io.Reader
	n int64
}

func (l *headerLimit) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errHeaderTooBig
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
