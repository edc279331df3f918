package analysis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"mailinspector/internal/archive"
	"mailinspector/internal/message"
	"mailinspector/internal/services"
	"mailinspector/internal/store"
)

// Names of the virtual analyzer's findings when it could not conclude; the
// policy engine applies sandbox.on_timeout and sandbox.on_error to them,
// and they are the quarantine reasons.
const (
	VATimeout = "va-timeout"
	VAError   = "va-error"
)

// Sandbox is the virtual analyzer as the stage sees it: the appliance keeps
// the pool and the verdicts.
type Sandbox interface {
	// Usable says whether samples can be analysed now; its error says why
	// not (libvirt out of reach, no instance of the image).
	Usable() error
	// Verdict returns where a sample stands, submitting it when no one
	// has, or when its last try failed before since (the message's
	// arrival: a later message gets a fresh try).
	Verdict(ctx context.Context, s SandboxSample, since time.Time) (*store.SandboxAnalysis, error)
}

// SandboxWaiter is a Sandbox that wakes a waiting message when a verdict
// it waits for lands: the message is then analysed again at once, instead
// of at its next look.
type SandboxWaiter interface {
	// Await asks to wake message id when sample key has its verdict (at
	// once if it has it already).
	Await(key, id string)
}

// SandboxSample is a file or a link to analyse.
type SandboxSample struct {
	// Key files the verdict: a file's SHA-256, or a link's LinkKey.
	Key  string
	Name string // the file's name, or the link
	Data []byte
	URL  string // a link: fetched, not run
}

// LinkKey is what a link's sandbox verdict is filed under: the SHA-256 of
// "url:" and the normalised URL, so that a file whose bytes happen to be a
// URL never shares a verdict with the link.
func LinkKey(u string) string {
	s := sha256.Sum256([]byte("url:" + u))
	return hex.EncodeToString(s[:])
}

// MaxSandboxLinks bounds the links of one message sent to the sandbox.
const MaxSandboxLinks = 5

// VirtualAnalyzer sends what stays unrated (or suspicious) after the other
// engines to the sandbox. In MTA mode the message waits (Hold) until every
// sample has its verdict or SubmissionTimeout has passed.
type VirtualAnalyzer struct {
	Sandbox  Sandbox          // nil: sandbox.libvirt is not set
	Contract *services.Client // the "libvirt" part's status
	// FileTypes are true types and ".ext" file name extensions.
	FileTypes []string
	// MinRisk: only files another engine already rated at least this
	// (low: suspicious; medium: highly suspicious). Empty: every file of
	// FileTypes not convicted.
	MinRisk string
	// ForcedTypes go whatever MinRisk says (true types and ".ext").
	ForcedTypes []string
	// Links: "off", "suspicious" (links another engine found suspicious)
	// or "unrated" (every link not convicted, at most MaxSandboxLinks).
	Links string
	// Exempt is the administrator's object exceptions: an approved link
	// or file is not analysed (nil: none).
	Exempt            func(Finding) (string, bool)
	SubmissionTimeout time.Duration
	// Poll is how soon a waiting message looks again when nothing wakes
	// it (a Sandbox that is no SandboxWaiter); a woken message still
	// looks every MaxWait at the latest (a wake lost in a restart).
	Poll      time.Duration
	MaxWait   time.Duration
	Limits    message.Limits
	Archives  archive.Limits
	Passwords []string // the administrator's archive passwords
	MaxSample int64
}

func (VirtualAnalyzer) Name() string    { return "virtual-analyzer" }
func (VirtualAnalyzer) Service() string { return services.Libvirt }

// wanted says whether a file goes to the sandbox by its type or name.
func (v VirtualAnalyzer) wanted(trueType, name string) bool {
	return typeIn(v.FileTypes, trueType, name) || typeIn(v.ForcedTypes, trueType, name)
}

// typeIn says whether a file's true type or name extension is listed.
func typeIn(types []string, trueType, name string) bool {
	ext := strings.ToLower(path.Ext(name))
	for _, t := range types {
		if t == trueType || (strings.HasPrefix(t, ".") && strings.EqualFold(t, ext)) {
			return true
		}
	}
	return false
}

// sample is a file to submit (an attachment or a member of an archive
// attachment) or a link (url set, fileObject's SHA256 its LinkKey).
type sample struct {
	fileObject
	name string
	url  string
}

// objectRisk is the highest risk any finding gave each object.
func objectRisk(m *Message) map[string]string {
	risk := map[string]string{}
	for _, f := range m.Findings {
		if Rank(f.Risk) > Rank(risk[f.Object]) {
			risk[f.Object] = f.Risk
		}
	}
	return risk
}

// links are the links to submit: not convicted already, not approved, and
// found suspicious by another engine unless every unrated link goes.
func (v VirtualAnalyzer) links(m *Message, risk map[string]string) []sample {
	if v.Links == "" || v.Links == "off" {
		return nil
	}
	urls, _ := messageURLs(m) // distinct, as the other link checks saw them
	var out []sample
	for _, u := range urls {
		r := risk[u.URL]
		switch {
		case len(out) == MaxSandboxLinks:
		case !strings.HasPrefix(u.URL, "http://") && !strings.HasPrefix(u.URL, "https://"):
		case r == RiskHigh:
		case v.Links == "suspicious" && Rank(r) < Rank(RiskLow):
		case v.Exempt != nil && exempt(v.Exempt, u.URL):
		default:
			out = append(out, sample{fileObject: fileObject{SHA256: LinkKey(u.URL), Where: "link " + u.URL + " in part " + u.Where, Part: -1}, name: u.URL, url: u.URL})
		}
	}
	return out
}

// object is what findings about the sample name: a file's SHA-256, or the
// link itself.
func (s sample) object() string {
	if s.url != "" {
		return s.url
	}
	return s.SHA256
}

func exempt(f func(Finding) (string, bool), object string) bool {
	_, ok := f(Finding{Object: object})
	return ok
}

// candidates are the files to submit (of a wanted type, not known good,
// not convicted already: high risk means the verdict is in; with MinRisk,
// rated at least that by another engine unless of a forced type), and
// the links.
func (v VirtualAnalyzer) candidates(m *Message) []sample {
	files, _ := messageFiles(m)
	risk := objectRisk(m)
	memberName := map[string]string{}
	for _, mb := range m.Members {
		memberName[mb.Member.SHA256] = path.Base(mb.Member.Path)
	}
	var out []sample
	for _, f := range files {
		name := memberName[f.SHA256]
		if f.Part >= 0 {
			name = m.Extract.Parts[f.Part].Filename
		}
		switch {
		case !v.wanted(f.TrueType, name):
		case risk[f.SHA256] == RiskHigh:
		case v.MinRisk != "" && Rank(risk[f.SHA256]) < Rank(v.MinRisk) && !typeIn(v.ForcedTypes, f.TrueType, name):
		case v.Exempt != nil && exempt(v.Exempt, f.SHA256):
		default:
			out = append(out, sample{fileObject: f, name: name})
		}
	}
	return append(out, v.links(m, risk)...)
}

// contents reads the candidates' bytes: attachments as decoded, archive
// members by opening their archives again (with the passwords that opened
// them for the extraction).
func (v VirtualAnalyzer) contents(m *Message, files []sample) (map[string][]byte, error) {
	want := map[string]bool{}
	for _, f := range files {
		if f.url == "" {
			want[f.SHA256] = true
		}
	}
	if len(want) == 0 {
		return nil, nil // links only: no part to read again
	}
	data := map[string][]byte{}
	keep := func(r io.Reader) error {
		b, err := io.ReadAll(io.LimitReader(r, v.MaxSample))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		if h := hex.EncodeToString(sum[:]); want[h] {
			data[h] = b
		}
		return nil
	}
	pws := passwords(m, v.Passwords)
	err := eachPart(m, v.Limits, func(p *message.Part, content io.Reader) error {
		if !p.Attachment {
			return nil
		}
		if !archive.IsArchive(p.TrueType) {
			if p.SHA256 != "" && !want[p.SHA256] {
				return nil // known, and not a sample: not read again
			}
			return keep(content) // kept when its hash is wanted
		}
		pk, err := archive.Peek(content, v.Archives.MaxInMemory)
		if err != nil || pk.Data == nil {
			return nil
		}
		_, err = archive.Walk(archiveName(p), pk.TrueType, pk.Data, v.Archives, pws, func(mb *archive.Member, r io.Reader) error {
			if want[mb.SHA256] || mb.SHA256 == "" {
				return keep(r)
			}
			return nil
		})
		return err
	})
	return data, err
}

func (v VirtualAnalyzer) Run(ctx context.Context, m *Message) (Result, error) {
	if v.Sandbox == nil {
		return Result{}, fmt.Errorf("%w: %v (sandbox.libvirt)", ErrUnavailable, services.ErrNotConfigured)
	}
	files := v.candidates(m)
	if len(files) == 0 {
		return Result{Detail: "nothing for the sandbox"}, nil
	}
	if err := v.Sandbox.Usable(); err != nil {
		// Skipped by the contract, and what could not be analysed is said,
		// so that sandbox.on_error applies to it.
		if v.Contract != nil {
			v.Contract.Skip()
		}
		res := Result{Outcome: OutcomeSkipped, Detail: fmt.Sprintf("%s: %v; sandbox.on_error applies", services.Libvirt, err)}
		for _, f := range files {
			res.Findings = append(res.Findings, Finding{Engine: "virtual-analyzer", Name: VAError, Risk: RiskUnrated,
				Location: f.Where, Object: f.object(), Detail: "not analysed: " + err.Error()})
		}
		return res, nil
	}
	data, err := v.contents(m, files)
	if err != nil {
		return Result{}, fmt.Errorf("reading attachments: %w", err)
	}
	var res Result
	var waiting, done []string
	var oldest time.Duration
	for _, f := range files {
		b, ok := data[f.SHA256]
		if f.url != "" {
			ok = true
		}
		if !ok {
			res.Findings = append(res.Findings, Finding{Engine: "virtual-analyzer", Name: VAError, Risk: RiskUnrated,
				Location: f.Where, Object: f.object(), Detail: "not analysed: its content could not be read again"})
			continue
		}
		a, err := v.Sandbox.Verdict(ctx, SandboxSample{Key: f.SHA256, Name: f.name, Data: b, URL: f.url}, m.Meta.Received)
		if err != nil {
			return Result{}, err
		}
		switch a.State {
		case store.SandboxPending:
			if time.Since(a.Submitted) < v.SubmissionTimeout {
				waiting = append(waiting, f.Where)
				oldest = max(oldest, time.Since(a.Submitted))
				if w, ok := v.Sandbox.(SandboxWaiter); ok && m.Meta != nil {
					w.Await(f.SHA256, m.Meta.ID)
				}
				continue
			}
			fallthrough
		case store.SandboxTimeout:
			res.Findings = append(res.Findings, Finding{Engine: "virtual-analyzer", Name: VATimeout, Risk: RiskUnrated,
				Location: f.Where, Object: f.object(), Detail: fmt.Sprintf("no verdict within %s", v.SubmissionTimeout)})
		case store.SandboxError:
			res.Findings = append(res.Findings, Finding{Engine: "virtual-analyzer", Name: VAError, Risk: RiskUnrated,
				Location: f.Where, Object: f.object(), Detail: a.Error})
		case store.SandboxDone:
			done = append(done, fmt.Sprintf("%s: %s", f.Where, a.Summary))
			if Rank(a.Risk) >= Rank(RiskLow) {
				threat := "suspicious file"
				if a.Risk == RiskHigh {
					threat = "malware"
				}
				if f.url != "" {
					// The link is the object (f.object()), so that the
					// policy's link actions (rewrite to the block page)
					// apply to it.
					threat = "suspicious URL"
					if a.Risk == RiskHigh {
						threat = "malicious URL"
					}
				}
				res.Findings = append(res.Findings, Finding{Engine: "virtual-analyzer", Threat: threat, Risk: a.Risk,
					Name: "sandbox-behaviour", Location: f.Where, Object: f.object(), Detail: a.Summary + " (show analysis " + f.SHA256 + ")"})
			}
		}
	}
	if len(waiting) > 0 {
		maxWait := v.MaxWait
		if maxWait <= 0 {
			maxWait = 30 * time.Second
		}
		if _, ok := v.Sandbox.(SandboxWaiter); ok {
			// The verdict wakes the message; the look is for a wake that
			// was lost, and for the submission timeout.
			hold := min(max(v.Poll, v.SubmissionTimeout-oldest), maxWait)
			return Result{Hold: hold, Detail: fmt.Sprintf("waiting for the sandbox: %s (woken by the verdict, else looked at again in %s)",
				strings.Join(waiting, ", "), hold.Round(time.Second))}, nil
		}
		// Each look runs the whole pipeline again: look soon at first, then
		// at half the time waited so far (a run under TCG takes tens of
		// seconds), never less often than every maxWait.
		hold := min(max(v.Poll, oldest/2), maxWait)
		return Result{Hold: hold, Detail: fmt.Sprintf("waiting for the sandbox: %s", strings.Join(waiting, ", "))}, nil
	}
	res.Detail = strings.Join(done, "; ")
	if res.Detail == "" {
		res.Detail = "no verdict"
	}
	return res, nil
}
