package message

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/emersion/go-message/textproto"

	"mailinspector/internal/headerline"
)

// A header block is read the way lenient mail clients read one, not the way
// RFC 5322 would have it, so that nothing a client shows is hidden from the
// walk by a header the strict reading gives up on. The rules follow Python's
// email.feedparser (the stand-in for a lenient client in the differential
// test, TestWalkSeesWhatAClientShows):
//
//   - a first line "From " (an mbox separator) is not a field and is skipped;
//   - a continuation line (starting with a space or tab) with no field before
//     it is dropped, and so is a field with no name (a line starting ":");
//   - a field name is printable US-ASCII without a colon; white space before
//     the colon is allowed (RFC 5322 4.5.2, obs-optional);
//   - a line that is none of these ends the header and is the first line of
//     the body (RFC 5322 wants an empty line first; clients do not);
//   - a header block is read up to max bytes; past that the rest of it is
//     skipped up to its end, and what it held is not seen (a blind spot).
//
// Nothing read is lost: the line that ended the header goes back in front
// of the body.

// headerResult is a header block read leniently.
type headerResult struct {
	h      textproto.Header
	body   io.Reader // the body, from its first byte
	notes  []string  // what was odd (malformed, but seen)
	tooBig bool      // the block was longer than the limit: fields past it were not read
	// spaced is set when a field has white space before its colon: RFC
	// 5322's obsolete syntax allows it, but some clients end the header
	// on such a line, so they read the message differently.
	spaced  bool
	fields  int
	skipped int64 // header bytes past the limit, not read
}

// maxFieldLine bounds one physical line kept in a field; longer lines are
// cut (the rest of such a field is not needed to walk the message).
const maxFieldLine = 64 * 1024

// readHeader reads a header block from br (at most max bytes of it).
func readHeader(br *bufio.Reader, max int64) (res headerResult) {
	var field []byte // the field being read, with its continuation lines
	var fields [][]byte
	var read int64
	flush := func() {
		// A name longer than the part of its line that is kept has lost
		// its colon: not a field any more.
		if bytes.IndexByte(field, ':') > 0 {
			fields = append(fields, field)
			res.fields++
		}
		field = nil
	}
	// go-message's Header keeps its fields last first (a new field goes
	// on top, as trace fields do), and writes and reads them in that
	// order: they go in from the last, so that the header is written back
	// in the order it came and Get is the first of a name.
	defer func() {
		for i := len(fields) - 1; i >= 0; i-- {
			res.h.AddRaw(fields[i])
		}
	}()
	first := true
	for {
		line, n, full, err := readLine(br)
		if len(line) == 0 && err != nil {
			// The message ends inside its header (or has no body).
			flush()
			res.body = br
			return res
		}
		if first && bytes.HasPrefix(line, []byte("From ")) {
			first = false
			res.notes = append(res.notes, "an mbox \"From \" line before the header")
			continue
		}
		first = false
		if headerline.IsBlank(line) {
			flush()
			res.body = br
			return res
		}
		read += n
		if read > max {
			flush()
			res.tooBig = true
			var first []byte
			res.skipped, first = skipHeader(br, n)
			res.body = io.MultiReader(bytes.NewReader(first), br)
			return res
		}
		switch {
		case line[0] == ' ' || line[0] == '\t':
			if field == nil {
				if res.fields == 0 {
					res.notes = append(res.notes, "a continuation line before the first field")
				}
				continue
			}
			field = append(field, clip(line, full)...)
		case line[0] == ':':
			// A field with no name: clients drop it and read on.
			flush()
			res.notes = append(res.notes, "a header field with no name")
		case headerline.IsField(line):
			flush()
			field = append([]byte(nil), clip(line, full)...)
			if i := bytes.IndexByte(line, ':'); i > 0 && (line[i-1] == ' ' || line[i-1] == '\t') {
				res.spaced = true
			}
		default:
			flush()
			res.notes = append(res.notes, fmt.Sprintf("header ends without an empty line, at %q", preview(line)))
			if n > int64(len(line)) {
				res.tooBig = true // the line was longer than readLine keeps
			}
			res.body = io.MultiReader(bytes.NewReader(append([]byte(nil), line...)), br)
			return res
		}
	}
}

// readLine reads one line with its line end (LF or CRLF); n is its length.
// Of a line longer than the reader's buffer, the first 4*maxFieldLine
// bytes come back (n still counts all of it). full says whether the line
// ended with LF: at the end of input the last line comes without one.
func readLine(br *bufio.Reader) (line []byte, n int64, full bool, err error) {
	line, err = br.ReadSlice('\n')
	n = int64(len(line))
	if err == nil {
		return line, n, true, nil
	}
	if err != bufio.ErrBufferFull {
		return line, n, false, err
	}
	long := append([]byte(nil), line...)
	for {
		more, err := br.ReadSlice('\n')
		n += int64(len(more))
		if len(long) < 4*maxFieldLine {
			long = append(long, more...)
		}
		if err != bufio.ErrBufferFull {
			return long, n, err == nil, err
		}
	}
}

// skipHeader reads past the rest of a header block that is over the limit,
// up to an empty line or a line no client takes for a field (which it
// returns: the body's first line). It returns how many bytes it skipped.
func skipHeader(br *bufio.Reader, n int64) (int64, []byte) {
	for {
		l, ln, _, err := readLine(br)
		if len(l) == 0 {
			return n, nil
		}
		if headerline.IsBlank(l) {
			return n + ln, nil
		}
		if l[0] != ' ' && l[0] != '\t' && l[0] != ':' && !headerline.IsField(l) {
			return n, append([]byte(nil), l...)
		}
		n += ln
		if err != nil {
			return n, nil
		}
	}
}

// clip keeps a field line within maxFieldLine, with its line end.
func clip(line []byte, full bool) []byte {
	if len(line) <= maxFieldLine {
		if !full {
			return append(line[:len(line):len(line)], '\r', '\n')
		}
		return line
	}
	return append(append([]byte(nil), line[:maxFieldLine]...), '\r', '\n')
}

// preview is the start of a line for a note, printable.
func preview(b []byte) string {
	b = bytes.TrimRight(b, "\r\n")
	if len(b) > 40 {
		b = b[:40]
	}
	return string(bytes.ToValidUTF8(b, []byte("?")))
}
