// Package headerline says what a line of a header block is, the way mail
// clients read it (RFC 5322 2.2 and its obsolete syntax, 4.5): a field, a
// continuation, or the end of the header. The MIME walk and the SMTP
// server's header guard read header blocks by the same rule, so that what
// one takes for the header the other does too.
package headerline

// IsField: a field name (printable US-ASCII but colon), optional white
// space (obs-optional), then a colon.
func IsField(line []byte) bool {
	i := 0
	for i < len(line) && line[i] > ' ' && line[i] < 0x7f && line[i] != ':' {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	return i < len(line) && line[i] == ':'
}

// IsBlank: CRLF or LF alone, the end of a header block (a line of only
// white space is not blank to clients: it is a continuation).
func IsBlank(line []byte) bool {
	return len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
}

// IsContinuation: a line starting with white space continues the field
// before it.
func IsContinuation(line []byte) bool {
	return len(line) > 0 && (line[0] == ' ' || line[0] == '\t')
}
