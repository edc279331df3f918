package analysis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"mailinspector/internal/archive"
	"mailinspector/internal/engine/clamd"
	"mailinspector/internal/message"
	"mailinspector/internal/services"
)

// PatternEngine scans every part of the message with ClamAV's clamd. When
// clamd cannot be reached, answers nonsense or is too slow (or is not
// configured), the scan is skipped (ErrUnavailable) and the message goes
// on: the degradation contract, here for clamd. What was not scanned is not
// clean: the skip makes the message unrated (Skipped), and OnError says
// what happens next.
type PatternEngine struct {
	Clamd     *clamd.Client // nil: not configured
	Timeout   time.Duration // for the whole message
	Limits    message.Limits
	Archives  archive.Limits
	Passwords []string // the administrator's list for encrypted archives
	// EachMember sends every file of an archive to clamd on its own (for a
	// clamd with ScanArchive off). Otherwise an archive goes whole and
	// clamd opens it itself, so that ClamAV's container-aware signatures
	// (OOXML, zip metadata) and files past our own archive limits are in
	// its reach; the speed measured the same either way. See scanArchive.
	EachMember bool
	// Service is clamd's place under the services contract (breaker,
	// status); nil: called directly.
	Contract *services.Client
	// OnError is engine.clamd_on_error: pass (the message goes on,
	// unrated, to the policy), quarantine (the policy engine holds it), or
	// defer (it waits and is analysed again, for up to DeferFor since it
	// was received; then as quarantine).
	OnError  string
	DeferFor time.Duration
}

// ClamdOnError values (engine.clamd_on_error).
const (
	ClamdPass       = "pass"
	ClamdQuarantine = "quarantine"
	ClamdDefer      = "defer"
)

func (PatternEngine) Name() string    { return "pattern-engine" }
func (PatternEngine) Service() string { return "clamd" }

// Skipped is what a skipped scan means: each attachment no pattern engine
// looked at is unscannable (a finding about it, so that an approved hash
// exempts it); a message without any is unrated (not-scanned). In defer
// mode a configured clamd is waited for: the message is held and analysed
// again, sooner at first, until DeferFor.
func (pe PatternEngine) Skipped(m *Message, err error) Result {
	if pe.OnError == ClamdDefer && pe.Clamd != nil {
		if age := time.Since(m.Meta.Received); age < pe.DeferFor {
			// The wait doubles with the message's age: from a sixtieth of
			// the window (30s of the default 30m) up to 10 minutes.
			return Result{Hold: min(max(age, pe.DeferFor/60, time.Second), 10*time.Minute, pe.DeferFor-age)}
		}
	}
	detail := "not scanned for malware: " + err.Error()
	if m.Extract == nil || len(m.Extract.Blind) > 0 {
		// The walk did not run, or did not see everything: whatever is
		// there was not scanned.
		return Result{Findings: []Finding{{Engine: "pattern-engine", Risk: RiskUnrated, Name: Unscannable, Location: "the whole message", Detail: detail}}}
	}
	var out []Finding
	for i := range m.Extract.Parts {
		p := &m.Extract.Parts[i]
		if !p.Attachment {
			continue
		}
		if len(out) == maxSkipFindings {
			out = append(out, Finding{Engine: "pattern-engine", Risk: RiskUnrated, Name: Unscannable, Location: "the other attachments", Detail: detail})
			break
		}
		out = append(out, Finding{Engine: "pattern-engine", Risk: RiskUnrated, Name: Unscannable, Location: partLocation(p), Detail: detail, Object: p.SHA256})
	}
	if len(out) == 0 {
		out = []Finding{{Engine: "pattern-engine", Risk: RiskUnrated, Name: NotScanned, Location: "every part", Detail: detail}}
	}
	return Result{Findings: out}
}

// maxSkipFindings bounds the findings one skipped scan makes.
const maxSkipFindings = 20

func (pe PatternEngine) Run(ctx context.Context, m *Message) (Result, error) {
	if pe.Clamd == nil {
		return Result{}, fmt.Errorf("%w: not configured (engine.clamd)", ErrUnavailable)
	}
	if pe.Contract == nil {
		return pe.scan(ctx, m)
	}
	res, err := services.Call(ctx, pe.Contract, "", func(ctx context.Context) (Result, bool, error) {
		r, err := pe.scan(ctx, m)
		return r, true, err
	})
	if err != nil && !errors.Is(err, ErrUnavailable) {
		err = fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return res, err
}

func (pe PatternEngine) scan(ctx context.Context, m *Message) (Result, error) {
	if pe.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pe.Timeout)
		defer cancel()
	}
	var out Result
	scanned, unscanned := 0, 0
	pws := passwords(m, pe.Passwords)
	// scanOne sends one file to clamd; where says where it was found. A
	// file past clamd's StreamMaxLength is a finding (unscannable), not an
	// error; report false keeps an infection out of the findings (the
	// caller looks for where it is).
	scanOne := func(p *message.Part, where string, content io.Reader, report bool) (bool, error) {
		h := sha256.New()
		res, err := pe.Clamd.Scan(ctx, io.TeeReader(content, h))
		switch {
		case errors.Is(err, clamd.ErrSizeLimit):
			unscanned++
			out.Findings = append(out.Findings, Finding{Engine: "clamd", Risk: RiskUnrated, Name: Unscannable, Location: where,
				Detail: "larger than clamd's StreamMaxLength: not scanned"})
			return false, nil
		case err != nil:
			return false, err
		}
		scanned++
		if res.Infected && strings.HasPrefix(res.Signature, "Heuristics.Encrypted.") {
			// clamd could not look inside (AlertEncrypted): not judged,
			// unless it is an archive we opened ourselves (report false:
			// its files are scanned on their own, decrypted, or the
			// extraction stage already says it stayed locked).
			if report {
				unscanned++
				out.Findings = append(out.Findings, Finding{Engine: "clamd", Risk: RiskUnrated, Name: Unscannable, Location: where,
					Detail: "encrypted: clamd could not look inside (" + res.Signature + ")", Object: hex.EncodeToString(h.Sum(nil))})
			}
			return false, nil
		}
		if res.Infected && report {
			out.Findings = append(out.Findings, Finding{Engine: "clamd", Threat: "malware", Risk: RiskHigh, Name: res.Signature,
				Location: where, Detail: "declared as " + p.DeclaredType, Object: hex.EncodeToString(h.Sum(nil))})
		}
		return res.Infected, nil
	}
	err := eachPart(m, pe.Limits, func(p *message.Part, content io.Reader) error {
		pk, err := archive.Peek(content, pe.Archives.MaxInMemory)
		if err != nil {
			return nil // a damaged body: the extraction stage reports it
		}
		if pk.Data == nil {
			_, err := scanOne(p, partLocation(p), pk.Stream, true)
			return err
		}
		return pe.scanArchive(m, p, pk, pws, scanOne)
	})
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v (after %d of the parts)", ErrUnavailable, err, scanned)
	}
	out.Detail = fmt.Sprintf("%d parts scanned", scanned)
	if unscanned > 0 {
		out.Detail += fmt.Sprintf(", %d unscannable", unscanned)
	}
	return out, nil
}

// scanArchive scans an archive part. With EachMember, or when the extraction
// stage did not run, every file in it goes to clamd on its own, decrypted
// where a password opened it. Otherwise the archive goes whole and clamd
// opens it; then only what clamd cannot see is sent on its own: the files
// we decrypted with a password. When clamd finds something in the whole,
// each file is scanned to say which one; if none alone is infected (a
// signature on the archive itself), the finding names the archive. What
// could not be opened the extraction stage reports as unscannable.
func (pe PatternEngine) scanArchive(m *Message, p *message.Part, pk archive.Peeked, pws archive.Passwords,
	scanOne func(*message.Part, string, io.Reader, bool) (bool, error)) error {
	where := partLocation(p)
	each := pe.EachMember || m.Extract == nil
	infected := false
	if !each {
		var err error
		if infected, err = scanOne(p, where, bytes.NewReader(pk.Data), false); err != nil {
			return err
		}
		if !infected && !decryptedIn(m, p) {
			return nil
		}
	}
	located := false
	_, err := archive.Walk(archiveName(p), pk.TrueType, pk.Data, pe.Archives, pws, func(mb *archive.Member, r io.Reader) error {
		if !each && !infected && mb.Password == "" {
			return nil // clamd saw it in the whole archive
		}
		hit, err := scanOne(p, where+": "+mb.Path, r, true)
		located = located || hit
		return err
	})
	if err != nil {
		return err
	}
	if infected && !located {
		_, err = scanOne(p, where, bytes.NewReader(pk.Data), true)
	}
	return err
}

// decryptedIn reports whether the extraction stage opened a file of part p
// with a password: clamd cannot look inside an encrypted archive.
func decryptedIn(m *Message, p *message.Part) bool {
	for _, mb := range m.Members {
		if mb.Part.Path == p.Path && mb.Member.Password != "" {
			return true
		}
	}
	return false
}
