package analysis

import (
	"context"
	"fmt"
	"io"
	"strings"

	"mailinspector/internal/archive"
	"mailinspector/internal/message"
)

// Extraction takes the message apart (internal/message) once, for the
// stages after it, and reports what is wrong with its structure, which
// attachments are not what they claim to be, and which archives could not
// be opened.
type Extraction struct {
	Limits    message.Limits
	Archives  archive.Limits
	Passwords []string // the administrator's list for encrypted archives
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
	var keep message.Visit
	if m.Parts != nil {
		keep = func(p *message.Part, content io.Reader) error {
			_, err := m.Parts.Add(content)
			return err
		}
	}
	res, err := message.Walk(f, x.Limits, keep)
	if err != nil {
		// The parts could not be kept (scratch space): the stages after
		// this one walk the message themselves.
		m.Parts = nil
		if res, err = x.walkAgain(m); err != nil {
			return Result{}, err
		}
	}
	m.Extract = res
	var out Result
	if len(res.Malformed) > 0 {
		out.Findings = append(out.Findings, Finding{Engine: "extraction", Risk: RiskLow, Name: "malformed", Location: "MIME structure",
			Detail: strings.Join(res.Malformed, "; ")})
	}
	// What the walk could not look at was not judged: each blind spot
	// makes the message unrated.
	for _, b := range res.Blind {
		loc := "MIME structure"
		if where, what, ok := strings.Cut(b, ": "); ok && strings.HasPrefix(where, "part ") {
			loc, b = where, what
		}
		out.Findings = append(out.Findings, Finding{Engine: "extraction", Risk: RiskUnrated, Name: Unscannable, Location: loc,
			Detail: "not looked at: " + b})
	}
	attachments, hasArchive := 0, false
	var whole []string
	for _, p := range res.Parts {
		hasArchive = hasArchive || archive.IsArchive(p.TrueType)
		if archive.HandedWhole(p.TrueType) {
			whole = append(whole, partLocation(&p))
		}
		if !p.Attachment {
			continue
		}
		attachments++
		if p.DeclaredType == p.TrueType || p.TrueType == "application/octet-stream" || p.TrueType == "text/plain" {
			continue
		}
		fnd := Finding{Engine: "extraction", Risk: RiskLow, Name: "type-mismatch", Location: partLocation(&p),
			Detail: fmt.Sprintf("declared %s, content is %s", p.DeclaredType, p.TrueType), Object: p.SHA256}
		if executables[p.TrueType] && !executables[p.DeclaredType] {
			fnd.Risk, fnd.Threat, fnd.Name = RiskMedium, "suspicious file", "disguised-executable"
		}
		out.Findings = append(out.Findings, fnd)
	}
	locked := 0
	if hasArchive {
		if locked, err = x.openArchives(m, &out); err != nil {
			return Result{}, err
		}
	}
	out.Detail = fmt.Sprintf("%d parts, %d attachments, %d URLs, %d archive members", len(res.Parts), attachments, len(res.URLs), len(m.Members))
	if locked > 0 {
		out.Detail += fmt.Sprintf(", %d unscannable", locked)
	}
	if len(res.Blind) > 0 {
		out.Detail += fmt.Sprintf(", %d blind spots", len(res.Blind))
	}
	if len(whole) > 0 {
		// Not opened here: the pattern engine gets them whole and opens
		// them itself (an encrypted one it reports is unscannable).
		out.Detail += "; handed to the pattern engine whole: " + strings.Join(whole, ", ")
	}
	return out, nil
}

func (x Extraction) walkAgain(m *Message) (*message.Result, error) {
	f, err := m.Open()
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	return message.Walk(f, x.Limits, nil)
}

// openArchives opens every archive attachment once the whole message has
// been read (the password for one may be in a text part after it),
// records the members and turns each problem into an unscannable finding.
func (x Extraction) openArchives(m *Message, out *Result) (locked int, err error) {
	pws := passwords(m, x.Passwords)
	err = eachPart(m, x.Limits, func(p *message.Part, content io.Reader) error {
		pk, err := archive.Peek(content, x.Archives.MaxInMemory)
		if err != nil || !archive.IsArchive(pk.TrueType) {
			return nil
		}
		if pk.TooBig {
			locked++
			out.Findings = append(out.Findings, unscannable(p, archive.Problem{Path: archiveName(p), Reason: "size",
				Detail: fmt.Sprintf("archive larger than %d bytes", x.Archives.MaxInMemory)}))
			return nil
		}
		ar, err := archive.Walk(archiveName(p), pk.TrueType, pk.Data, x.Archives, pws, nil)
		if err != nil {
			return err
		}
		for _, mb := range ar.Members {
			m.Members = append(m.Members, ArchiveMember{Part: *p, Member: mb})
		}
		for _, pr := range ar.Problems {
			locked++
			out.Findings = append(out.Findings, unscannable(p, pr))
		}
		return nil
	})
	return locked, err
}

// eachPart calls visit with every leaf part's decoded content: from the
// kept parts when the extraction kept them, else by walking the message.
func eachPart(m *Message, lim message.Limits, visit message.Visit) error {
	if m.Parts != nil && m.Extract != nil && m.Parts.Len() == len(m.Extract.Parts) {
		for i := range m.Extract.Parts {
			if err := visit(&m.Extract.Parts[i], m.Parts.Open(i)); err != nil {
				return err
			}
		}
		return nil
	}
	f, err := m.Open()
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	_, err = message.Walk(f, lim, visit)
	return err
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

// Prepare takes the message apart again for the stages after this one,
// when a held message resumes after it (Preparer): its findings stand
// from the run before.
func (x Extraction) Prepare(ctx context.Context, m *Message) { x.Run(ctx, m) }
