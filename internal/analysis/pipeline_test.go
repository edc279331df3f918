package analysis

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeStage is a stage whose behaviour a test sets: what it returns, or a
// wait for its context, or a panic.
type fakeStage struct {
	name, service string
	res           Result
	err           error
	block         bool // wait until the context ends, then return its error
	panics        bool
	ran           *atomic.Int32
	skipped       *Result // when set, the stage is Blinding and says this when skipped
}

func (f fakeStage) Name() string    { return f.name }
func (f fakeStage) Service() string { return f.service }
func (f fakeStage) Run(ctx context.Context, m *Message) (Result, error) {
	if f.ran != nil {
		f.ran.Add(1)
	}
	if f.panics {
		panic("boom")
	}
	if f.block {
		<-ctx.Done()
		return Result{}, ctx.Err()
	}
	return f.res, f.err
}

// blindStage is a fakeStage that is Blinding.
type blindStage struct{ fakeStage }

func (b blindStage) Skipped(m *Message, err error) Result { return *b.skipped }

func finding(risk, name, object string) Finding {
	return Finding{Engine: "fake", Risk: risk, Name: name, Object: object, Location: "part 1"}
}

// outcomes lists the trail as "stage:outcome".
func outcomes(rep Report) string {
	var out []string
	for _, e := range rep.Trail {
		out = append(out, e.Stage+":"+e.Outcome)
	}
	return strings.Join(out, " ")
}

// TestRunOneSkippedVersusError: a service stage that cannot reach its
// service (ErrUnavailable, or its deadline) is skipped, naming the
// service; a local stage's error, or any other error, is an error; either
// way its findings do not count and the stages after it run.
func TestRunOneSkippedVersusError(t *testing.T) {
	lost := []Finding{finding(RiskHigh, "lost", "")}
	p := &Pipeline{StageTimeout: 50 * time.Millisecond, Stages: []Stage{
		fakeStage{name: "a", service: "hub", err: errors.Join(ErrUnavailable, errors.New("refused")), res: Result{Findings: lost}},
		fakeStage{name: "b", service: "hub", block: true},
		fakeStage{name: "c", block: true},
		fakeStage{name: "d", service: "hub", err: errors.New("bad answer"), res: Result{Findings: lost}},
		fakeStage{name: "e", res: Result{Findings: []Finding{finding(RiskLow, "x", "")}}},
		fakeStage{name: "f"},
		fakeStage{name: "g", res: Result{Outcome: OutcomeSkipped, Detail: "nothing to do"}},
	}}
	rep := p.Run(context.Background(), &Message{})
	if got, want := outcomes(rep), "a:skipped b:skipped c:error d:error e:finding f:ok g:skipped"; got != want {
		t.Fatalf("trail %q, want %q", got, want)
	}
	if !strings.HasPrefix(rep.Trail[0].Detail, "hub: ") || !strings.Contains(rep.Trail[1].Detail, "deadline") {
		t.Errorf("a skip names its service and why: %q, %q", rep.Trail[0].Detail, rep.Trail[1].Detail)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Name != "x" || rep.Findings[0].Stage != "e" || rep.Risk != RiskLow {
		t.Errorf("findings %+v risk %s: only e's should count, stamped with its stage", rep.Findings, rep.Risk)
	}
}

// TestRunOneBlindingSkipIsNotClean: a Blinding stage that is skipped puts
// its Skipped findings (unrated) and hold in the report instead of nothing.
func TestRunOneBlindingSkipIsNotClean(t *testing.T) {
	sk := &Result{Findings: []Finding{finding(RiskUnrated, NotScanned, "")}, Hold: time.Minute}
	p := &Pipeline{Stages: []Stage{blindStage{fakeStage{name: "pattern", service: "clamd", err: ErrUnavailable, skipped: sk}}}}
	rep := p.Run(context.Background(), &Message{})
	if rep.Risk != RiskUnrated || len(rep.Findings) != 1 || rep.Hold != time.Minute {
		t.Fatalf("risk %s findings %+v hold %s", rep.Risk, rep.Findings, rep.Hold)
	}
	if !strings.Contains(rep.Trail[0].Detail, "analysed again in 1m0s") || rep.Trail[0].Outcome != OutcomeSkipped {
		t.Errorf("trail %+v", rep.Trail[0])
	}
	// Not skipped, not blind: an error stays an error, without findings.
	p.Stages = []Stage{blindStage{fakeStage{name: "pattern", service: "clamd", err: errors.New("garbage"), skipped: sk}}}
	if rep := p.Run(context.Background(), &Message{}); rep.Risk != RiskNone || len(rep.Findings) != 0 {
		t.Errorf("an error used the skip's findings: %+v", rep)
	}
}

// TestRunOneExemptions: an exempted finding does not count and the trail
// says why, before the stage's own entry.
func TestRunOneExemptions(t *testing.T) {
	p := &Pipeline{
		Stages: []Stage{fakeStage{name: "lists", res: Result{Findings: []Finding{
			finding(RiskHigh, "blocked", "https://ok.example/"), finding(RiskMedium, "odd", "https://bad.example/")}}}},
		Exempt: func(f Finding) (string, bool) {
			return "approved URL", f.Object == "https://ok.example/"
		},
	}
	rep := p.Run(context.Background(), &Message{})
	if got, want := outcomes(rep), "exception:ok lists:finding"; got != want {
		t.Fatalf("trail %q, want %q", got, want)
	}
	if !strings.Contains(rep.Trail[0].Detail, "blocked") || !strings.Contains(rep.Trail[0].Detail, "approved URL") {
		t.Errorf("exception entry %q", rep.Trail[0].Detail)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Name != "odd" || rep.Risk != RiskMedium {
		t.Errorf("findings %+v risk %s", rep.Findings, rep.Risk)
	}
}

// TestRunOneContainsAPanic: a stage that panics is an error in the trail;
// the stages after it run.
func TestRunOneContainsAPanic(t *testing.T) {
	var ran atomic.Int32
	p := &Pipeline{Stages: []Stage{fakeStage{name: "bad", panics: true}, fakeStage{name: "next", ran: &ran}}}
	rep := p.Run(context.Background(), &Message{})
	if got, want := outcomes(rep), "bad:error next:ok"; got != want || ran.Load() != 1 {
		t.Fatalf("trail %q (want %q), next ran %d times", got, want, ran.Load())
	}
	if !strings.Contains(rep.Trail[0].Detail, "panicked: boom") {
		t.Errorf("detail %q", rep.Trail[0].Detail)
	}
}

// TestTrailOrderIsDeclaredOrder: members of a Concurrent group run at the
// same time but their entries keep the declared order, a Sequence's
// stages in order within it; each stage sees the findings of the stages
// before its group; the hold is the longest asked for.
func TestTrailOrderIsDeclaredOrder(t *testing.T) {
	var seen []Finding
	p := &Pipeline{Stages: []Stage{
		fakeStage{name: "first", res: Result{Findings: []Finding{finding(RiskLow, "f1", "")}}},
		Concurrent{
			fakeStage{name: "slow", service: "s", block: true},
			Sequence{fakeStage{name: "seq1", res: Result{Hold: time.Second}}, fakeStage{name: "seq2", res: Result{Hold: 3 * time.Second}}},
			fakeStage{name: "fast", res: Result{Findings: []Finding{finding(RiskHigh, "f2", "")}}},
		},
		inspect{&seen},
	}, StageTimeout: 20 * time.Millisecond}
	rep := p.Run(context.Background(), &Message{})
	if got, want := outcomes(rep), "first:finding slow:skipped seq1:ok seq2:ok fast:finding last:ok"; got != want {
		t.Fatalf("trail %q, want %q", got, want)
	}
	if len(seen) != 2 || seen[0].Name != "f1" || seen[1].Name != "f2" {
		t.Errorf("the last stage saw %+v", seen)
	}
	if rep.Risk != RiskHigh || rep.Hold != 3*time.Second {
		t.Errorf("risk %s hold %s", rep.Risk, rep.Hold)
	}
}

// inspect records the findings it is shown.
type inspect struct{ seen *[]Finding }

func (inspect) Name() string    { return "last" }
func (inspect) Service() string { return "" }
func (i inspect) Run(ctx context.Context, m *Message) (Result, error) {
	*i.seen = append([]Finding(nil), m.Findings...)
	return Result{}, nil
}

// preparing is a stage that is a Preparer: it counts its runs and its
// preparations.
type preparing struct {
	fakeStage
	prepared *atomic.Int32
}

func (p preparing) Prepare(ctx context.Context, m *Message) { p.prepared.Add(1) }

// TestResumeStartsAtTheStageThatHeld: a run held by one top-level stage
// says where to resume; resuming runs that stage and the ones after it,
// prepares what the stages before it built (without running them), and
// keeps the findings of the run before. A hold asked inside a group
// resumes from the start.
func TestResumeStartsAtTheStageThatHeld(t *testing.T) {
	var extractRuns, extractPrepared, scans, sandboxRuns, after atomic.Int32
	held := Result{Hold: time.Minute, Detail: "waiting"}
	sandbox := &fakeStage{name: "sandbox", res: held, ran: &sandboxRuns}
	p := &Pipeline{Stages: []Stage{
		preparing{fakeStage{name: "extract", ran: &extractRuns}, &extractPrepared},
		Concurrent{fakeStage{name: "scan", ran: &scans, res: Result{Findings: []Finding{finding(RiskLow, "odd", "")}}}},
		sandbox,
		fakeStage{name: "after", ran: &after},
	}}
	first := p.Run(context.Background(), &Message{})
	if first.ResumeAt != "sandbox" || first.Hold != time.Minute {
		t.Fatalf("resume at %q, hold %s", first.ResumeAt, first.Hold)
	}
	// The verdict is in: the sandbox has a finding now.
	p.Stages[2] = fakeStage{name: "sandbox", ran: &sandboxRuns, res: Result{Findings: []Finding{finding(RiskHigh, "behaviour", "")}}}
	rep := p.Resume(context.Background(), &Message{}, first.ResumeAt, first.Findings)
	if got, want := outcomes(rep), "resume:ok sandbox:finding after:ok"; got != want {
		t.Fatalf("trail %q, want %q", got, want)
	}
	if extractRuns.Load() != 1 || extractPrepared.Load() != 1 || scans.Load() != 1 || sandboxRuns.Load() != 2 || after.Load() != 2 {
		t.Errorf("runs: extract %d (prepared %d), scan %d, sandbox %d, after %d; want 1 (1), 1, 2, 2",
			extractRuns.Load(), extractPrepared.Load(), scans.Load(), sandboxRuns.Load(), after.Load())
	}
	if len(rep.Findings) != 2 || rep.Findings[0].Name != "odd" || rep.Findings[1].Name != "behaviour" || rep.Risk != RiskHigh || rep.ResumeAt != "" {
		t.Errorf("findings %+v risk %s resume %q", rep.Findings, rep.Risk, rep.ResumeAt)
	}

	// Held inside a group, or by two stages: from the start.
	p.Stages = []Stage{Concurrent{fakeStage{name: "clamd", res: held}}, fakeStage{name: "x"}}
	if rep := p.Run(context.Background(), &Message{}); rep.Hold == 0 || rep.ResumeAt != "" {
		t.Errorf("a group's hold: resume at %q", rep.ResumeAt)
	}
	p.Stages = []Stage{fakeStage{name: "a", res: held}, fakeStage{name: "b", res: held}}
	if rep := p.Run(context.Background(), &Message{}); rep.ResumeAt != "" {
		t.Errorf("two holds: resume at %q", rep.ResumeAt)
	}
	// A stage of that name no longer there: from the start.
	if rep := p.Resume(context.Background(), &Message{}, "gone", nil); outcomes(rep) != "a:ok b:ok" {
		t.Errorf("resume at a missing stage: %q", outcomes(rep))
	}
}
