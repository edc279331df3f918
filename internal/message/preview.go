package message

import (
	"bytes"
	"io"
	"strings"

	"golang.org/x/net/html"
)

// Preview is the text a reader of the message sees first: its first text
// body, or its first HTML body as text (script and style dropped, a line
// break for each block), in UTF-8, at most max bytes (cut says so). It
// is text for a quarantine's preview: nothing of the HTML is rendered, no
// image or link is fetched. A message without a text body previews as
// "" with from "none".
func Preview(r io.Reader, lim Limits, max int) (text, from string, cut bool, err error) {
	var plain, htmlBody []byte
	var plainCS, htmlCS string
	_, err = Walk(r, lim, func(p *Part, content io.Reader) error {
		if p.Attachment || p.InMessage > 0 {
			return nil
		}
		switch {
		case p.ContentType == "text/plain" && plain == nil:
			plain, _ = io.ReadAll(io.LimitReader(content, int64(4*max)))
			plainCS = p.Charset
		case p.ContentType == "text/html" && htmlBody == nil:
			htmlBody, _ = io.ReadAll(io.LimitReader(content, int64(16*max)))
			htmlCS = p.Charset
		}
		return nil
	})
	if err != nil {
		return "", "", false, err
	}
	switch {
	case plain != nil:
		b, _ := toUTF8Bytes(plainCS, plain)
		text, from = string(b), "text"
	case htmlBody != nil:
		b, _ := toUTF8Bytes(htmlCS, htmlBody)
		text, from = htmlLines(b), "html"
	default:
		return "", "none", false, nil
	}
	text = strings.ToValidUTF8(strings.ReplaceAll(text, "\r\n", "\n"), "\uFFFD")
	if len(text) > max {
		i := max
		for i > 0 && !utf8Start(text[i]) {
			i--
		}
		text, cut = text[:i], true
	}
	return text, from, cut, nil
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// blockTags end a line in an HTML body's text.
var blockTags = map[string]bool{"br": true, "p": true, "div": true, "tr": true, "li": true, "h1": true, "h2": true, "h3": true,
	"h4": true, "h5": true, "h6": true, "table": true, "ul": true, "ol": true, "blockquote": true, "hr": true, "title": true}

// htmlLines is an HTML body's visible text, a line per block.
func htmlLines(body []byte) string {
	var b strings.Builder
	z := html.NewTokenizer(bytes.NewReader(body))
	skip := 0
	for {
		switch tt := z.Next(); tt {
		case html.ErrorToken:
			lines := strings.Split(b.String(), "\n")
			out := lines[:0]
			for _, l := range lines {
				if l = strings.Join(strings.Fields(l), " "); l != "" {
					out = append(out, l)
				}
			}
			return strings.Join(out, "\n")
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			n, _ := z.TagName()
			tag := string(n)
			if (tag == "script" || tag == "style") && tt != html.SelfClosingTagToken {
				if tt == html.StartTagToken {
					skip++
				} else if skip > 0 {
					skip--
				}
			}
			if blockTags[tag] {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		}
	}
}
