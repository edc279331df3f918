package analysis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"mailinspector/internal/archive"
	"mailinspector/internal/engine/clamd"
	"mailinspector/internal/message"
	"mailinspector/internal/services"
)

// PatternEngine scans every part of the message with ClamAV's clamd. When
// clamd cannot be reached, answers nonsense or is too slow, the scan is
// skipped (ErrUnavailable) and the message goes on: the degradation
// contract, here for clamd.
type PatternEngine struct {
	Clamd     *clamd.Client // nil: not configured
	Timeout   time.Duration // for the whole message
	Limits    message.Limits
	Archives  archive.Limits
	Passwords []string // the administrator's list for encrypted archives
	// Service is clamd's place under the services contract (breaker,
	// status); nil: called directly.
	Contract *services.Client
}

func (PatternEngine) Name() string    { return "pattern-engine" }
func (PatternEngine) Service() string { return "clamd" }

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
	// scan sends one file to clamd; where says where it was found.
	scan := func(p *message.Part, where string, content io.Reader) error {
		h := sha256.New()
		res, err := pe.Clamd.Scan(ctx, io.TeeReader(content, h))
		switch {
		case errors.Is(err, clamd.ErrSizeLimit):
			unscanned++
			out.Findings = append(out.Findings, Finding{Engine: "clamd", Risk: RiskLow, Name: "unscannable", Location: where,
				Detail: "larger than clamd's StreamMaxLength"})
			return nil
		case err != nil:
			return err
		}
		scanned++
		if res.Infected {
			out.Findings = append(out.Findings, Finding{Engine: "clamd", Threat: "malware", Risk: RiskHigh, Name: res.Signature,
				Location: where, Detail: "declared as " + p.DeclaredType, Object: hex.EncodeToString(h.Sum(nil))})
		}
		return nil
	}
	err := eachPart(m, pe.Limits, func(p *message.Part, content io.Reader) error {
		pk, err := archive.Peek(content, pe.Archives.MaxInMemory)
		if err != nil {
			return nil // a damaged body: the extraction stage reports it
		}
		if pk.Data == nil {
			return scan(p, partLocation(p), pk.Stream)
		}
		// Each file of an archive is scanned on its own, decrypted where a
		// password opened it; what could not be opened the extraction stage
		// reports as unscannable.
		_, err = archive.Walk(archiveName(p), pk.TrueType, pk.Data, pe.Archives, pws, func(mb *archive.Member, r io.Reader) error {
			return scan(p, partLocation(p)+": "+mb.Path, r)
		})
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v (after %d of the parts)", ErrUnavailable, err, scanned)
	}
	out.Detail = fmt.Sprintf("%d parts scanned", scanned)
	if unscanned > 0 {
		out.Detail += fmt.Sprintf(", %d too large to scan", unscanned)
	}
	return out, nil
}
