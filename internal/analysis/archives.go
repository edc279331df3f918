package analysis

import (
	"bytes"
	"fmt"
	"io"

	"mailinspector/internal/archive"
	"mailinspector/internal/message"
)

// peeked is a part's content after a look at its first bytes: an archive
// is read into memory (within the limit) so it can be opened; anything else
// stays a stream.
type peeked struct {
	trueType string
	archive  []byte    // the whole archive, when it is one and fits
	tooBig   bool      // an archive larger than the limit
	stream   io.Reader // the content, for what is not an opened archive
}

func peek(content io.Reader, maxInMemory int64) (peeked, error) {
	head := make([]byte, 512)
	n, err := io.ReadFull(content, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return peeked{}, err
	}
	head = head[:n]
	p := peeked{trueType: message.TrueType(head), stream: io.MultiReader(bytes.NewReader(head), content)}
	if !archive.IsArchive(p.trueType) {
		return p, nil
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(p.stream, maxInMemory+1)); err != nil {
		return peeked{}, err
	}
	if int64(buf.Len()) > maxInMemory {
		p.tooBig = true
		p.stream = io.MultiReader(&buf, content)
		return p, nil
	}
	p.archive = buf.Bytes()
	p.stream = bytes.NewReader(p.archive)
	return p, nil
}

// archiveName is how an attachment is named in member paths.
func archiveName(p *message.Part) string {
	if p.Filename != "" {
		return p.Filename
	}
	return "part-" + p.Path
}

// unscannable turns an archive problem into a finding.
func unscannable(p *message.Part, pr archive.Problem) Finding {
	return Finding{Engine: "extraction", Threat: "suspicious file", Risk: RiskMedium, Name: "unscannable",
		Location: partLocation(p) + ": " + pr.Path, Detail: fmt.Sprintf("%s: %s", pr.Reason, pr.Detail)}
}

// passwords are the candidates for encrypted archives: what the message
// text offers first, then the administrator's list.
func passwords(m *Message, admin []string) []string {
	var out []string
	if m.Extract != nil {
		out = append(out, m.Extract.PasswordHints...)
	}
	return append(out, admin...)
}
