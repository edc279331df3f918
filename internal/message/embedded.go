package message

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// embeddedFinder finds files written into a text body as it streams by:
// uuencoded blocks ("begin 644 name" … "end", as old mailers and Outlook
// write them) and yEnc blocks ("=ybegin … name=" … "=yend", from Usenet
// clients). Mail clients show both as attachments, so the walk decodes
// them and looks at each as an attachment of its own.
//
// With pass set, it is a filter instead: the text goes on to pass without
// the blocks, each replaced by a line that names the file removed.
type embeddedFinder struct {
	max   int64  // decoded bytes kept per file
	line  []byte // a line not yet ended
	long  bool   // the line being read is past maxEmbeddedLine: no block line
	cur   *embeddedFile
	Files []*embeddedFile
	pass  io.Writer
}

// embeddedFile is one block found.
type embeddedFile struct {
	Kind  string // "uuencode" or "yenc"
	Name  string
	Data  []byte
	Cut   bool // decoded past the limit: the rest was not kept
	Ended bool // its end line was found
}

// maxEmbeddedLine: uuencoded lines are 61 characters, yEnc lines at most
// a few hundred; a longer line is neither.
const maxEmbeddedLine = 4096

func (e *embeddedFinder) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			e.keep(b)
			break
		}
		e.keep(b[:i+1])
		e.endLine()
		b = b[i+1:]
	}
	return n, nil
}

// keep adds to the line being read; a line too long to be a block's goes
// straight on (filter) or is dropped.
func (e *embeddedFinder) keep(b []byte) {
	if !e.long && len(e.line)+len(b) > maxEmbeddedLine {
		e.long = true
		e.passOn(e.line)
		e.line = e.line[:0]
	}
	if e.long {
		e.passOn(b)
		return
	}
	e.line = append(e.line, b...)
}

// passOn hands text outside a block to the filter's writer.
func (e *embeddedFinder) passOn(b []byte) {
	if e.pass != nil && e.cur == nil && len(b) > 0 {
		e.pass.Write(b)
	}
}

func (e *embeddedFinder) endLine() {
	if !e.long {
		e.onLine(e.line)
	}
	e.line, e.long = e.line[:0], false
}

// Close takes a last line without a line end.
func (e *embeddedFinder) Close() {
	if len(e.line) > 0 {
		e.endLine()
	}
	e.line = nil
}

func (e *embeddedFinder) onLine(line []byte) {
	if e.cur == nil {
		if len(line) < 6 || line[0] != 'b' && line[0] != '=' {
			e.passOn(line) // most lines: neither block starts here
			return
		}
		if name, ok := uuBegin(line); ok {
			e.cur = &embeddedFile{Kind: "uuencode", Name: name}
		} else if bytes.HasPrefix(line, []byte("=ybegin ")) {
			e.cur = &embeddedFile{Kind: "yenc", Name: yencName(line)}
		} else {
			e.passOn(line)
			return
		}
		e.Files = append(e.Files, e.cur)
		if e.pass != nil {
			fmt.Fprintf(e.pass, "[%s removed]\r\n", strings.ReplaceAll(cleanName(e.cur.Name), "]", "_"))
		}
		return
	}
	f := e.cur
	var data []byte
	switch f.Kind {
	case "uuencode":
		if uuEnd(line) {
			f.Ended, e.cur = true, nil
			return
		}
		data = uuDecodeLine(nil, line)
	case "yenc":
		if bytes.HasPrefix(line, []byte("=yend")) {
			f.Ended, e.cur = true, nil
			return
		}
		if bytes.HasPrefix(line, []byte("=ypart ")) {
			return
		}
		data = yencDecodeLine(nil, line)
	}
	if e.pass != nil {
		return // a filter keeps nothing of the block
	}
	if room := e.max - int64(len(f.Data)); room < int64(len(data)) {
		data, f.Cut = data[:max(room, 0)], true
	}
	f.Data = append(f.Data, data...)
}

// yencName is the name= of a "=ybegin" line: the rest of the line, spaces
// included (the yEnc 1.3 draft puts it last for that reason).
func yencName(line []byte) string {
	s := strings.TrimRight(string(line), "\r\n")
	if i := strings.Index(s, " name="); i >= 0 {
		return strings.TrimSpace(s[i+len(" name="):])
	}
	return ""
}

// yencDecodeLine decodes one yEnc line: each byte is the data byte plus 42;
// "=" escapes the next one (plus 64 more); line ends are not data.
func yencDecodeLine(out, line []byte) []byte {
	line = bytes.TrimRight(line, "\r\n")
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '=' && i+1 < len(line) {
			i++
			c = line[i] - 64
		}
		out = append(out, c-42)
	}
	return out
}
