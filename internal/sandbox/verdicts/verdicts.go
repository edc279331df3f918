// Package verdicts is the virtual analyzer's verdict store: one verdict
// per sample (a file's SHA-256, a link's key) in the database, reused by
// every later message that carries the same sample, and the samples in
// flight. It is what the pipeline's VirtualAnalyzer stage
// (internal/analysis) asks (analysis.Sandbox); the pool (internal/sandbox)
// runs what it submits.
package verdicts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"mailinspector/internal/analysis"
	"mailinspector/internal/sandbox"
	"mailinspector/internal/services"
	"mailinspector/internal/store"
)

// Store files sandbox verdicts and submits the samples that have none.
type Store struct {
	Pool     *sandbox.Pool
	DB       *store.DB
	Image    string        // the guest image every sample runs in
	Timeout  time.Duration // a submission's whole time (sandbox.submission_timeout)
	RunTime  time.Duration // a sample's run in the guest (sandbox.run_time)
	Contract *services.Client
	Log      *slog.Logger
	// Ctx is the appliance's run context: runs in flight end with it, and
	// their rows stay pending, to be submitted again after a restart.
	Ctx context.Context

	// Wake is given the messages waiting for a sample whose verdict just
	// landed (analysis.SandboxWaiter); nil: nobody is woken.
	Wake func(ids []string)

	wg       sync.WaitGroup
	mu       sync.Mutex
	inflight map[string]bool
	waiters  map[string][]string // sample key -> ids of messages waiting for it
}

// Await wakes message id when sample key has its verdict: at once when its
// run is no longer in flight here (it ended between the message's look and
// now, or it never was: the message's next look submits it again).
func (v *Store) Await(key, id string) {
	v.mu.Lock()
	if v.inflight[key] {
		if v.waiters == nil {
			v.waiters = map[string][]string{}
		}
		v.waiters[key] = append(v.waiters[key], id)
		v.mu.Unlock()
		return
	}
	v.mu.Unlock()
	v.wake([]string{id})
}

func (v *Store) wake(ids []string) {
	if v.Wake != nil && len(ids) > 0 {
		v.Wake(ids)
	}
}

// landed ends a sample's flight; stored says its outcome is in the
// database, so that the messages waiting for it are woken.
func (v *Store) landed(key string, stored bool) {
	v.mu.Lock()
	delete(v.inflight, key)
	ids := v.waiters[key]
	delete(v.waiters, key)
	v.mu.Unlock()
	if stored {
		v.wake(ids)
	}
}

// Wait returns when every run in flight has stored its outcome (or given
// up because Ctx ended).
func (v *Store) Wait() { v.wg.Wait() }

// Usable: the stage is skipped (and sandbox.on_error applies) when every
// instance is out of the pool; instances still being prepared take
// submissions, which wait in the queue.
func (v *Store) Usable() error {
	st := v.Pool.Status()
	var reasons []string
	for _, im := range st.Images {
		if im.Free+im.Busy+im.Preparing > 0 {
			return nil
		}
		for _, in := range im.Instances {
			reasons = append(reasons, in.Domain+": "+in.Reason)
		}
	}
	if len(reasons) == 0 {
		return errors.New("no sandbox instance")
	}
	return fmt.Errorf("no sandbox instance usable (%s)", strings.Join(reasons, "; "))
}

// Verdict returns a sample's row, submitting it when it has none, when a
// try that failed before since is to be repeated, or when its run was lost
// (pending, but not in flight here: the appliance restarted).
func (v *Store) Verdict(ctx context.Context, smp analysis.SandboxSample, since time.Time) (*store.SandboxAnalysis, error) {
	sha, name := smp.Key, smp.Name
	row, err := v.DB.SandboxVerdict(ctx, sha)
	if err != nil && !errors.Is(err, store.ErrNoAnalysis) {
		return nil, err
	}
	v.mu.Lock()
	flying := v.inflight[sha]
	v.mu.Unlock()
	was, claim := "", false
	switch {
	case row == nil:
		claim = true
	case row.State == store.SandboxPending && !flying:
		was, claim = row.State, true
	case (row.State == store.SandboxError || row.State == store.SandboxTimeout) && row.Finished.Before(since):
		was, claim = row.State, true
	case smp.URL != "" && row.State == store.SandboxDone && row.Finished.Before(since.Add(-linkVerdictTTL)):
		// A file stays what it is; a page changes (a phishing kit goes up
		// on a clean page): a link's verdict is redone once it is old.
		was, claim = row.State, true
	}
	if !claim {
		return row, nil
	}
	now := time.Now()
	won := false
	if err := v.DB.Write(ctx, func(tx *store.Tx) error {
		var err error
		won, err = store.ClaimSandbox(tx, sha, name, v.Image, now, was)
		return err
	}); err != nil {
		return nil, err
	}
	if won {
		v.submit(smp)
	}
	return &store.SandboxAnalysis{SHA256: sha, Name: name, Image: v.Image, State: store.SandboxPending, Submitted: now}, nil
}

// linkVerdictTTL is how long a link's verdict serves later messages.
const linkVerdictTTL = 24 * time.Hour

// submit detonates a sample in the background and stores its outcome.
func (v *Store) submit(smp analysis.SandboxSample) {
	sha, name := smp.Key, smp.Name
	v.mu.Lock()
	if v.inflight == nil {
		v.inflight = map[string]bool{}
	}
	v.inflight[sha] = true
	v.mu.Unlock()
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		stored := false
		defer func() { v.landed(sha, stored) }()
		ctx, cancel := context.WithTimeout(v.Ctx, v.Timeout)
		res, err := v.Pool.Submit(ctx, &sandbox.Task{Image: v.Image, Name: name, SHA256: sha, Sample: smp.Data, URL: smp.URL, Timeout: v.RunTime})
		cancel()
		if v.Ctx.Err() != nil {
			return // stopping: the row stays pending and is submitted again after the restart
		}
		a := &store.SandboxAnalysis{SHA256: sha, Finished: time.Now()}
		switch {
		case err != nil && errors.Is(err, context.DeadlineExceeded):
			a.State, a.Error = store.SandboxTimeout, err.Error()
		case err != nil:
			a.State, a.Error = store.SandboxError, err.Error()
			v.Contract.Record(err)
		default:
			v.Contract.Record(nil)
			verdict := sandbox.Judge(res.Report)
			rep := &sandbox.AnalysisReport{SHA256: sha, Name: name, Image: v.Image, Instance: res.Instance,
				Finished: a.Finished.UTC(), TookMS: res.Took.Milliseconds(), Verdict: verdict, Report: res.Report}
			rep.SetScreenshot(res.Screenshot)
			a.Report, _ = json.Marshal(rep)
			a.HTML, _ = sandbox.HTML(rep)
			a.Summary = verdict.Summary()
			if verdict.Failed {
				a.State, a.Error = store.SandboxError, "va-error: "+verdict.Reason
			} else {
				a.State, a.Risk = store.SandboxDone, verdict.Risk
			}
		}
		if err := v.DB.Write(context.WithoutCancel(v.Ctx), func(tx *store.Tx) error { return store.FinishSandbox(tx, a) }); err != nil {
			// The row stays pending: the next look at a message with this
			// sample submits it again.
			v.Log.Error("sandbox: store the verdict", "sha256", sha, "err", err)
			return
		}
		stored = true
	}()
}
