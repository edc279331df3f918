package analysis

import (
	"context"
	"fmt"
	"strings"

	"mailinspector/internal/message"
)

// Extraction takes the message apart (internal/message) once, for the
// stages after it, and reports what is wrong with its structure and which
// attachments are not what they claim to be.
type Extraction struct {
	Limits message.Limits
}

func (Extraction) Name() string    { return "extraction" }
func (Extraction) Service() string { return "" }

// executables are true types that run when opened.
var executables = map[string]bool{
	"application/x-dosexec": true, "application/x-executable": true, "application/x-mach-binary": true,
	"application/x-ms-shortcut": true, "application/vnd.ms-htmlhelp": true, "text/x-script": true,
}

func (x Extraction) Run(ctx context.Context, m *Message) (Result, error) {
	f, err := m.Open()
	if err != nil {
		return Result{}, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	res, err := message.Walk(f, x.Limits, nil)
	if err != nil {
		return Result{}, err
	}
	m.Extract = res
	var out Result
	if len(res.Malformed) > 0 {
		out.Findings = append(out.Findings, Finding{Engine: "extraction", Risk: RiskLow, Name: "malformed", Location: "MIME structure",
			Detail: strings.Join(res.Malformed, "; ")})
	}
	attachments := 0
	for _, p := range res.Parts {
		if !p.Attachment {
			continue
		}
		attachments++
		if p.DeclaredType == p.TrueType || p.TrueType == "application/octet-stream" || p.TrueType == "text/plain" {
			continue
		}
		fnd := Finding{Engine: "extraction", Risk: RiskLow, Name: "type-mismatch", Location: partLocation(&p),
			Detail: fmt.Sprintf("declared %s, content is %s", p.DeclaredType, p.TrueType)}
		if executables[p.TrueType] && !executables[p.DeclaredType] {
			fnd.Risk, fnd.Threat, fnd.Name = RiskMedium, "suspicious file", "disguised-executable"
		}
		out.Findings = append(out.Findings, fnd)
	}
	out.Detail = fmt.Sprintf("%d parts, %d attachments, %d URLs", len(res.Parts), attachments, len(res.URLs))
	return out, nil
}

// partLocation names a part for people: its path in the tree and its file
// name.
func partLocation(p *message.Part) string {
	loc := "part " + p.Path
	if p.Filename != "" {
		loc += " (" + p.Filename + ")"
	}
	if p.InMessage > 0 {
		loc += " in an attached message"
	}
	return loc
}
