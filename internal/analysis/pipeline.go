// Package analysis is the pipeline a message goes through after the queue:
// stages add findings and trail entries; the message takes the highest risk
// of any finding. Stages declare the service they depend on, so that the
// degradation contract (a failing service is skipped and says so) is applied
// here, in one place, for every stage.
package analysis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"sync"
	"time"

	"mailinspector/internal/archive"
	"mailinspector/internal/message"
	"mailinspector/internal/risk"
	"mailinspector/internal/store"
)

// Risk levels (DESIGN.md). Unrated means nothing could rate an object.
const (
	RiskNone    = risk.None
	RiskUnrated = risk.Unrated
	RiskLow     = risk.Low
	RiskMedium  = risk.Medium
	RiskHigh    = risk.High
)

// Rank orders risks for "the message takes the highest risk".
func Rank(r string) int { return risk.Rank(r) }

// Names of the findings that make a message unrated: what needed judging
// and could not be judged.
const (
	// Unscannable content: a part the walk could not look at, an archive
	// that stayed locked or unopened, attachments the pattern engine could
	// not scan. The default policy holds such a message (releasable).
	Unscannable = "unscannable"
	// NotScanned: the pattern engine could not scan a message without
	// attachments.
	NotScanned = "not-scanned"
)

// Trail outcomes.
const (
	OutcomeOK      = "ok"
	OutcomeFinding = "finding"
	OutcomeSkipped = "skipped"
	OutcomeError   = "error"
)

// Finding is a store finding; stages fill it in.
type Finding = store.Finding

// Message is what a stage sees of a message.
type Message struct {
	Meta   *store.Message
	Header mail.Header
	// Open returns the whole message (our Received header first) from the
	// spool. Each call gives a fresh reader.
	Open func() (io.ReadCloser, error)
	// Extract is the message taken apart, once the extraction stage ran.
	Extract *message.Result
	// Members are the files found in its archives.
	Members []ArchiveMember
	// Parts holds the decoded content of Extract.Parts, index for index,
	// when the extraction stage could keep it (nil otherwise).
	Parts *Parts
	// Findings are those of the stages that ran before (threat-connect
	// links them to the hub's detail pages).
	Findings []Finding
	// KnownGood holds the SHA-256 of files the csss stage found known
	// good: later file checks skip them (the pattern engine does not).
	KnownGood map[string]string
	// joint is the message's one request to the hub for the per-object
	// services (joint.go), made by JointLookup.
	joint joint
	// asked are the URLs and names the hub stages ask about (cloud.go).
	asked asked
}

// ArchiveMember is a file inside an archive attachment.
type ArchiveMember struct {
	Part   message.Part
	Member archive.Member
}

// Result is what one stage concluded.
type Result struct {
	Outcome  string // empty: OutcomeFinding if there are findings, else OutcomeOK
	Detail   string
	Findings []store.Finding
	// Hold asks to keep the message back and analyse it again after this
	// long (the virtual analyzer waits for a verdict this way).
	Hold time.Duration
}

// Stage is one step of the pipeline.
type Stage interface {
	Name() string
	// Service names the service the stage depends on ("" for a purely
	// local stage). When the call fails, the stage returns an error
	// wrapping ErrUnavailable and the trail says "skipped".
	Service() string
	Run(ctx context.Context, m *Message) (Result, error)
}

// ErrUnavailable marks a stage error as "the service could not be used":
// the step is skipped, the message goes on.
var ErrUnavailable = errors.New("service unavailable")

// Blinding is a stage whose skip leaves content unjudged (the pattern
// engine). When the pipeline records it as skipped, Skipped says what that
// means for the message: findings that make it unrated, or a hold to try
// again later. What nothing looked at never passes as none.
type Blinding interface {
	Skipped(m *Message, err error) Result
}

// Report is the outcome of running the pipeline on one message.
type Report struct {
	Subject     string   // decoded, for policies and notifications
	Attachments []string // file names
	Risk        string
	Trail       []store.TrailEntry
	Findings    []store.Finding
	Hold        time.Duration // longest hold any stage asked for; 0: none
	// ResumeAt names the stage the next analysis of a held message can
	// resume at: the one top-level stage that asked for the hold. Empty:
	// from the start (no hold, or a hold asked inside a group).
	ResumeAt string
}

// Pipeline runs stages in order.
type Pipeline struct {
	Stages []Stage
	// StageTimeout bounds each stage; a stage that overruns is recorded as
	// skipped (service stages) or error (local ones).
	StageTimeout time.Duration
	// Exempt drops findings about objects the administrator approved
	// (object-level exceptions); it says why. May be nil.
	Exempt func(Finding) (string, bool)
}

// Concurrent runs its members at the same time: steps that wait on
// different services (the file checks, the link checks) need not wait on
// each other. Members must not touch what another member writes; their
// trail entries keep the declared order.
type Concurrent []Stage

// Sequence runs its stages one after the other, as one member of a
// Concurrent group (csss must answer before the file census skips
// known-good files).
type Sequence []Stage

func (Concurrent) Name() string                                  { return "concurrent" }
func (Concurrent) Service() string                               { return "" }
func (Concurrent) Run(context.Context, *Message) (Result, error) { panic("run by Pipeline") }
func (Sequence) Name() string                                    { return "sequence" }
func (Sequence) Service() string                                 { return "" }
func (Sequence) Run(context.Context, *Message) (Result, error)   { panic("run by Pipeline") }

// outcome is what one stage adds to the report.
type outcome struct {
	trail    []store.TrailEntry
	findings []Finding
	hold     time.Duration
}

// Run runs every stage. It never fails: what goes wrong in a stage is in the
// trail, and the message goes on.
func (p *Pipeline) Run(ctx context.Context, m *Message) Report {
	rep := Report{Risk: RiskNone}
	p.run(ctx, m, p.Stages, &rep)
	return rep
}

// Preparer is a stage later stages build on (the message taken apart, the
// files found known good): when a held message resumes after it, it runs
// again for that, without a trail entry or findings, as its findings from
// the run before stand.
type Preparer interface {
	Prepare(ctx context.Context, m *Message)
}

// Resume analyses a message that a run before held at the top-level stage
// named at (Report.ResumeAt): the findings of that run (prior) stand for
// the stages before it, whose Preparers run again for their state, and
// the stages from at on run as in Run. Without a top-level stage of that
// name, it is Run.
func (p *Pipeline) Resume(ctx context.Context, m *Message, at string, prior []Finding) Report {
	i := slices.IndexFunc(p.Stages, func(st Stage) bool { return st.Name() == at && !isGroup(st) })
	if i <= 0 {
		return p.Run(ctx, m)
	}
	for _, st := range p.Stages[:i] {
		p.prepare(ctx, m, st)
	}
	rep := Report{Risk: RiskNone}
	rep.Trail = append(rep.Trail, store.TrailEntry{At: time.Now(), Stage: "resume", Outcome: OutcomeOK,
		Detail: fmt.Sprintf("analysis resumed at %s; the %d findings of the steps before it stand", at, len(prior))})
	rep.addFindings(prior)
	p.run(ctx, m, p.Stages[i:], &rep)
	return rep
}

func isGroup(st Stage) bool {
	switch st.(type) {
	case JointLookup, Concurrent, Sequence:
		return true
	}
	return false
}

// prepare runs the Preparers of st (st itself, or the members of a group)
// under the stage timeout; a panic is contained as in a run.
func (p *Pipeline) prepare(ctx context.Context, m *Message, st Stage) {
	switch s := st.(type) {
	case JointLookup:
		p.prepare(ctx, m, s.Group)
	case Concurrent:
		for _, x := range s {
			p.prepare(ctx, m, x)
		}
	case Sequence:
		for _, x := range s {
			p.prepare(ctx, m, x)
		}
	case Preparer:
		sctx, cancel := ctx, context.CancelFunc(func() {})
		if p.StageTimeout > 0 {
			sctx, cancel = context.WithTimeout(ctx, p.StageTimeout)
		}
		defer cancel()
		defer func() { recover() }() // its failure shows in the stages that needed it
		s.Prepare(sctx, m)
	}
}

func (rep *Report) addFindings(fs []Finding) {
	for _, f := range fs {
		rep.Findings = append(rep.Findings, f)
		if Rank(f.Risk) > Rank(rep.Risk) {
			rep.Risk = f.Risk
		}
	}
}

// run runs stages, adding to rep; it notes which stage asked for a hold.
func (p *Pipeline) run(ctx context.Context, m *Message, stages []Stage, rep *Report) {
	var holders []string // "" for a hold asked inside a group
	add := func(o outcome) {
		rep.Trail = append(rep.Trail, o.trail...)
		rep.addFindings(o.findings)
		rep.Hold = max(rep.Hold, o.hold)
	}
	defer func() {
		if len(holders) == 1 && holders[0] != "" {
			rep.ResumeAt = holders[0]
		}
	}()
	for _, st := range stages {
		m.Findings = rep.Findings
		if jl, ok := st.(JointLookup); ok {
			jl.prepareJoint(ctx, m)
			st = jl.Group
		}
		group, ok := st.(Concurrent)
		if !ok {
			for _, o := range p.runSeq(ctx, m, st) {
				add(o)
				if o.hold > 0 {
					holder := ""
					if _, seq := st.(Sequence); !seq {
						holder = st.Name()
					}
					holders = append(holders, holder)
				}
			}
			continue
		}
		outs := make([][]outcome, len(group))
		var wg sync.WaitGroup
		for i, member := range group {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i] = p.runSeq(ctx, m, member)
			}()
		}
		wg.Wait()
		for _, os := range outs {
			for _, o := range os {
				add(o)
				if o.hold > 0 {
					holders = append(holders, "")
				}
			}
		}
	}
}

// runSeq runs a stage, or the stages of a Sequence in order.
func (p *Pipeline) runSeq(ctx context.Context, m *Message, st Stage) []outcome {
	seq, ok := st.(Sequence)
	if !ok {
		return []outcome{p.runOne(ctx, m, st)}
	}
	var out []outcome
	for _, s := range seq {
		out = append(out, p.runSeq(ctx, m, s)...)
	}
	return out
}

// runOne runs one stage under the stage timeout and turns what it says
// into trail entries and the findings that count.
func (p *Pipeline) runOne(ctx context.Context, m *Message, st Stage) outcome {
	sctx, cancel := ctx, context.CancelFunc(func() {})
	if p.StageTimeout > 0 {
		sctx, cancel = context.WithTimeout(ctx, p.StageTimeout)
	}
	start := time.Now()
	res, err := runStage(sctx, st, m)
	cancel()
	e := store.TrailEntry{At: time.Now(), Stage: st.Name(), Service: st.Service(), Outcome: res.Outcome, Detail: res.Detail,
		Elapsed: time.Since(start)}
	switch {
	case err != nil && (errors.Is(err, ErrUnavailable) || st.Service() != "" && errors.Is(err, context.DeadlineExceeded)):
		e.Outcome, e.Detail = OutcomeSkipped, fmt.Sprintf("%s: %v", st.Service(), err)
	case err != nil:
		e.Outcome, e.Detail = OutcomeError, err.Error()
	case e.Outcome == "" && len(res.Findings) > 0:
		e.Outcome = OutcomeFinding
	case e.Outcome == "":
		e.Outcome = OutcomeOK
	}
	var o outcome
	if b, ok := st.(Blinding); ok && e.Outcome == OutcomeSkipped {
		sk := b.Skipped(m, err)
		res.Findings, res.Hold, err = sk.Findings, sk.Hold, nil
		if sk.Hold > 0 {
			e.Detail += fmt.Sprintf("; analysed again in %s", sk.Hold.Round(time.Second))
		}
	}
	if err == nil {
		for _, f := range res.Findings {
			if f.Stage == "" {
				f.Stage = st.Name()
			}
			if p.Exempt != nil {
				if why, ok := p.Exempt(f); ok {
					o.trail = append(o.trail, store.TrailEntry{At: time.Now(), Stage: "exception", Outcome: OutcomeOK,
						Detail: fmt.Sprintf("%s finding %s at %s does not count: %s", f.Engine, f.Name, f.Location, why)})
					continue
				}
			}
			o.findings = append(o.findings, f)
		}
		o.hold = res.Hold
	}
	o.trail = append(o.trail, e)
	return o
}

// runStage contains a panicking stage: one bad message must not stop the
// pool.
func runStage(ctx context.Context, st Stage, m *Message) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("stage %s panicked: %v", st.Name(), r)
		}
	}()
	return st.Run(ctx, m)
}
