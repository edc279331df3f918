package delivery

import (
	"bufio"
	"bytes"
	"io"
	"strings"

	"mailinspector/internal/store"
)

// maxRewriteHeader bounds the header block read to rewrite it. The SMTP
// server refuses a header block over limits.max_header_bytes (at most
// 16 MiB) and writes our Received field before it, so every message it
// accepted fits; only a longer one would be delivered unchanged.
const maxRewriteHeader = 17 << 20

// rewriteHeader applies a tag to a message on its way out: fields named
// like the ones to add are dropped (a sender cannot forge them), the
// Subject gets the prefix, the new fields go at the end of the header
// (RFC 5322 2.2: field order does not matter beyond trace fields, which
// stay first).
func rewriteHeader(r io.ReadCloser, rw *store.Rewrite) io.ReadCloser {
	br := bufio.NewReaderSize(r, 64*1024)
	var head bytes.Buffer
	for head.Len() < maxRewriteHeader {
		line, err := br.ReadSlice('\n')
		head.Write(line)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil || len(line) <= 2 && strings.TrimRight(string(line), "\r\n") == "" {
			break
		}
	}
	block := head.String()
	end := strings.Index(block, "\r\n\r\n")
	if end < 0 {
		// No end of header found within the bound: deliver as it is.
		return readCloser{io.MultiReader(strings.NewReader(block), br), r}
	}
	fields := splitFields(block[:end+2])
	drop := map[string]bool{}
	for _, h := range rw.AddHeaders {
		name, _, _ := strings.Cut(h, ":")
		drop[strings.ToLower(strings.TrimSpace(name))] = true
	}
	var out strings.Builder
	subject := false
	for _, f := range fields {
		name, value, _ := strings.Cut(f, ":")
		lname := strings.ToLower(strings.TrimSpace(name))
		switch {
		case drop[lname]:
			continue
		case lname == "subject" && rw.SubjectPrefix != "" && !subject:
			subject = true
			out.WriteString(name + ": " + rw.SubjectPrefix + strings.TrimLeft(value, " \t"))
		default:
			out.WriteString(f)
		}
	}
	if !subject && rw.SubjectPrefix != "" {
		out.WriteString("Subject: " + strings.TrimSpace(rw.SubjectPrefix) + "\r\n")
	}
	for _, h := range rw.AddHeaders {
		out.WriteString(h + "\r\n")
	}
	out.WriteString(block[end+2:])
	return readCloser{io.MultiReader(strings.NewReader(out.String()), br), r}
}

// splitFields cuts a header block (CRLF line ends) into fields, each with
// its folded continuation lines and final CRLF.
func splitFields(block string) []string {
	var fields []string
	for _, line := range strings.SplitAfter(block, "\r\n") {
		if line == "" {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			fields[len(fields)-1] += line
			continue
		}
		fields = append(fields, line)
	}
	return fields
}

type readCloser struct {
	io.Reader
	c io.Closer
}

func (r readCloser) Close() error { return r.c.Close() }
