package analysis

import (
	"fmt"

	"mailinspector/internal/archive"
	"mailinspector/internal/message"
)

// archiveName is how an attachment is named in member paths.
func archiveName(p *message.Part) string {
	if p.Filename != "" {
		return p.Filename
	}
	return "part-" + p.Path
}

// unscannable turns an archive problem into a finding: what stayed locked
// or unopened was not judged, so it is unrated (never none), and the
// default policy holds it.
func unscannable(p *message.Part, pr archive.Problem) Finding {
	return Finding{Engine: "extraction", Risk: RiskUnrated, Name: Unscannable,
		Location: partLocation(p) + ": " + pr.Path, Detail: fmt.Sprintf("%s: %s", pr.Reason, pr.Detail)}
}

// passwords are the candidates for encrypted archives: what the message
// text offers first, then the administrator's list; looked for only when
// an archive asks.
func passwords(m *Message, admin []string) archive.Passwords {
	return func() []string {
		var out []string
		if m.Extract != nil {
			out = append(out, m.Extract.PasswordHints()...)
		}
		return append(out, admin...)
	}
}
