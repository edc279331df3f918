package analysis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"mailinspector/internal/engine/clamd"
	"mailinspector/internal/message"
)

// PatternEngine scans every part of the message with ClamAV's clamd. When
// clamd cannot be reached, answers nonsense or is too slow, the scan is
// skipped (ErrUnavailable) and the message goes on: the degradation
// contract, here for clamd.
type PatternEngine struct {
	Clamd   *clamd.Client // nil: not configured
	Timeout time.Duration // for the whole message
	Limits  message.Limits
}

func (PatternEngine) Name() string    { return "pattern-engine" }
func (PatternEngine) Service() string { return "clamd" }

func (pe PatternEngine) Run(ctx context.Context, m *Message) (Result, error) {
	if pe.Clamd == nil {
		return Result{}, fmt.Errorf("%w: not configured (engine.clamd)", ErrUnavailable)
	}
	if pe.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pe.Timeout)
		defer cancel()
	}
	f, err := m.Open()
	if err != nil {
		return Result{}, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	var out Result
	scanned, unscannable := 0, 0
	_, err = message.Walk(f, pe.Limits, func(p *message.Part, content io.Reader) error {
		res, err := pe.Clamd.Scan(ctx, content)
		switch {
		case errors.Is(err, clamd.ErrSizeLimit):
			unscannable++
			out.Findings = append(out.Findings, Finding{Engine: "clamd", Risk: RiskLow, Name: "unscannable", Location: partLocation(p),
				Detail: "larger than clamd's StreamMaxLength"})
			return nil
		case err != nil:
			return err
		}
		scanned++
		if res.Infected {
			out.Findings = append(out.Findings, Finding{Engine: "clamd", Threat: "malware", Risk: RiskHigh, Name: res.Signature,
				Location: partLocation(p), Detail: "declared as " + p.DeclaredType})
		}
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v (after %d of the parts)", ErrUnavailable, err, scanned)
	}
	out.Detail = fmt.Sprintf("%d parts scanned", scanned)
	if unscannable > 0 {
		out.Detail += fmt.Sprintf(", %d too large to scan", unscannable)
	}
	return out, nil
}
