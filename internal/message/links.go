package message

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	gomessage "github.com/emersion/go-message"
	"golang.org/x/net/html"
)

// RewriteLinks writes a copy of a message in which every http, https and
// ftp link of its text and HTML bodies (a and area href, form action, URLs
// written as text) is replaced by what rewrite returns for its normal
// form. The header, the MIME structure and every other part stay; text
// parts are re-encoded as UTF-8, quoted-printable. It returns the copy and
// how many links were rewritten.
func RewriteLinks(r io.Reader, lim Limits, rewrite func(normal string) string) ([]byte, int, error) {
	e, err := gomessage.ReadWithOptions(r, &gomessage.ReadOptions{MaxHeaderBytes: lim.MaxHeaderBytes})
	if e == nil {
		return nil, 0, fmt.Errorf("header: %w", err)
	}
	lr := &linkRewriter{lim: lim, rewrite: rewrite}
	h, err := lr.header(e)
	if err != nil {
		return nil, 0, err
	}
	var out bytes.Buffer
	w, err := gomessage.CreateWriter(&out, h)
	if err != nil {
		return nil, 0, err
	}
	if err := lr.entity(w, e, 0); err != nil {
		return nil, 0, err
	}
	if err := w.Close(); err != nil {
		return nil, 0, err
	}
	return out.Bytes(), lr.n, nil
}

type linkRewriter struct {
	lim     Limits
	rewrite func(string) string
	n       int
}

// header is the part's header as it will be written: text parts are
// decoded to UTF-8 on reading, so they say so and go out quoted-printable.
func (lr *linkRewriter) header(e *gomessage.Entity) (gomessage.Header, error) {
	h := e.Header.Copy()
	ct, params, err := h.ContentType()
	if strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), "multipart/") && (err != nil || params["boundary"] == "") {
		// A multipart that cannot be rebuilt as it is: refuse the whole
		// message rather than deliver links we could not reach.
		return h, fmt.Errorf("multipart without a usable boundary: %q", h.Get("Content-Type"))
	}
	if err == nil && (ct == "text/plain" || ct == "text/html") {
		if params == nil {
			params = map[string]string{}
		}
		params["charset"] = "utf-8"
		h.SetContentType(ct, params)
		h.Set("Content-Transfer-Encoding", "quoted-printable")
	}
	return h, nil
}

func (lr *linkRewriter) entity(w *gomessage.Writer, e *gomessage.Entity, depth int) error {
	if mr := e.MultipartReader(); mr != nil && depth < lr.lim.MaxDepth {
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil && p == nil {
				return fmt.Errorf("multipart: %w", err)
			}
			ph, err := lr.header(p)
			if err != nil {
				return err
			}
			pw, err := w.CreatePart(ph)
			if err != nil {
				return err
			}
			if err := lr.entity(pw, p, depth+1); err != nil {
				return err
			}
			if err := pw.Close(); err != nil {
				return err
			}
		}
	}
	ct, _, _ := e.Header.ContentType()
	if ct != "text/plain" && ct != "text/html" {
		_, err := io.Copy(w, e.Body)
		return err
	}
	body, err := io.ReadAll(io.LimitReader(e.Body, lr.lim.MaxTextBytes))
	if err != nil {
		return err
	}
	if ct == "text/html" {
		body = lr.html(body)
	} else {
		body = lr.text(body, nil)
	}
	_, err = w.Write(body)
	return err
}

// text replaces URLs written as text, longest first so that a link that
// is the start of another is not cut out of it.
func (lr *linkRewriter) text(b []byte, base *url.URL) []byte {
	raws := findTextURLs(b, maxURLs)
	sort.Slice(raws, func(i, j int) bool { return len(raws[i]) > len(raws[j]) })
	s := string(b)
	for _, raw := range raws {
		n, ok := Normalize(raw, base)
		if !ok || !strings.Contains(s, raw) {
			continue
		}
		lr.n += strings.Count(s, raw)
		s = strings.ReplaceAll(s, raw, lr.rewrite(n))
	}
	return []byte(s)
}

// linkAttrs are the attributes a reader follows by clicking.
var linkAttrs = map[string]string{"a": "href", "area": "href", "form": "action"}

func (lr *linkRewriter) html(b []byte) []byte {
	var out bytes.Buffer
	var base *url.URL
	z := html.NewTokenizer(bytes.NewReader(b))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return out.Bytes()
		}
		raw := z.Raw()
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			if tok.Data == "base" {
				for _, a := range tok.Attr {
					if a.Key == "href" && base == nil {
						if u, err := url.Parse(strings.TrimSpace(a.Val)); err == nil && u.IsAbs() {
							base = u
						}
					}
				}
				out.Write(raw)
				continue
			}
			attr, ok := linkAttrs[tok.Data]
			changed := false
			for i, a := range tok.Attr {
				if ok && a.Key == attr {
					if n, valid := Normalize(a.Val, base); valid {
						tok.Attr[i].Val = lr.rewrite(n)
						lr.n++
						changed = true
					}
				}
			}
			if changed {
				out.WriteString(tok.String())
			} else {
				out.Write(raw)
			}
		case html.TextToken:
			out.Write(lr.text(raw, base))
		default:
			out.Write(raw)
		}
	}
}
