package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/digitalocean/go-libvirt"

	"mailinspector/internal/sandbox/agent"
)

// One run on an instance: revert, the agent's detonation, the screenshot,
// the teardown, and where the time went.

// screenshotTimeout bounds a screenshot (see Pool.screenshot).
const screenshotTimeout = 15 * time.Second

// Phases is where an analysis's time went: the orchestration (revert,
// agent ready, teardown) against the run itself.
type Phases struct {
	RevertMS int64 `json:"revert_ms"`
	ReadyMS  int64 `json:"ready_ms"`
	RunMS    int64 `json:"run_ms"`
	// ScreenshotMS is the screenshot after the run (Options.Screenshot).
	ScreenshotMS int64 `json:"screenshot_ms,omitempty"`
	TeardownMS   int64 `json:"teardown_ms"`
}

// run reverts the instance to its ready snapshot, has the agent detonate
// the task and tears the instance down again.
func (p *Pool) run(in *instance, j *job) (*agent.Report, Phases, *Screenshot, error) {
	var ph Phases
	var shot *Screenshot
	ctx, cancel := context.WithCancelCause(p.ctx)
	defer cancel(nil)
	d, err := p.lookup(ctx, in.domain)
	if err != nil {
		return nil, ph, nil, err
	}
	t0 := time.Now()
	err = p.conn.Call(ctx, "revert "+in.domain, func(l *libvirt.Libvirt) error {
		s, err := l.DomainSnapshotLookupByName(d, ReadySnapshot, 0)
		if err != nil {
			return err
		}
		return l.DomainRevertToSnapshot(s, uint32(libvirt.DomainSnapshotRevertRunning))
	})
	if err != nil {
		return nil, ph, nil, err
	}
	ph.RevertMS = time.Since(t0).Milliseconds()
	p.mu.Lock()
	p.stats.Reverts++
	in.runs++
	in.watching, in.cancel = true, cancel
	p.mu.Unlock()
	timeout := j.task.Timeout
	if timeout <= 0 {
		timeout = p.opts.RunTimeout
	}
	var rep *agent.Report
	t0 = time.Now()
	rctx, rcancel := context.WithTimeout(ctx, p.opts.ReadyTimeout)
	err = in.agent.WaitReady(rctx)
	rcancel()
	ph.ReadyMS = time.Since(t0).Milliseconds()
	if err == nil {
		// The agent enforces the time limit; the margin covers the report.
		t0 = time.Now()
		rctx, rcancel = context.WithTimeout(ctx, timeout+p.opts.ReadyTimeout)
		proxy := p.opts.Proxy
		if j.task.URL == "" && !p.opts.ProxySamples {
			proxy = ""
		}
		rep, err = in.agent.Run(rctx, &agent.RunRequest{Token: agent.NewToken(), Name: j.task.Name, SHA256: j.task.SHA256,
			Sample: j.task.Sample, URL: j.task.URL, TimeoutMS: timeout.Milliseconds(), Isolation: p.opts.Isolation, Proxy: proxy}, nil)
		rcancel()
		ph.RunMS = time.Since(t0).Milliseconds()
		if err == nil && p.opts.Observed != nil {
			host, _, _ := net.SplitHostPort(in.agent.Addr)
			for _, e := range p.opts.Observed(host, t0, time.Now()) {
				e.MS = max(0, e.MS)
				rep.Events = append(rep.Events, e)
			}
		}
	}
	if err == nil && p.opts.Screenshot {
		// What the display shows once the sample has had its time.
		t0 := time.Now()
		shot = p.screenshot(ctx, in.domain, d)
		ph.ScreenshotMS = time.Since(t0).Milliseconds()
	}
	p.mu.Lock()
	in.watching = false
	p.mu.Unlock()
	if c := context.Cause(ctx); err != nil && c != nil && !errors.Is(c, context.Canceled) {
		err = c
	}
	t0 = time.Now()
	teardown := p.destroy
	if p.opts.Pause && err == nil {
		teardown = p.pause
	}
	if derr := teardown(in, d); derr != nil && err == nil {
		// The report is in; an instance that will not power off is
		// taken out all the same.
		p.mu.Lock()
		in.prepared = false
		p.mu.Unlock()
	}
	ph.TeardownMS = time.Since(t0).Milliseconds()
	return rep, ph, shot, err
}

// screenshot takes the domain's display; a failure is said in the
// screenshot, never a failed run.
//
// libvirtd sends a download call's reply (the image's MIME type) and its
// stream packets from different threads, in either order. Published
// go-libvirt took the first packet for the reply: the MIME type was always
// lost, about one screenshot in ten under TCG lost its image, and then the
// stream's remaining packets blocked the connection for every later call.
// Our copy (third_party/go-libvirt, PATCHES.md) waits for the reply by
// packet type. A try still has its own deadline, far below the call
// timeout, past which the connection is dropped like any stuck call's (the
// next call dials again), and there are three tries: a screenshot is worth
// less than the destroy that comes after it.
func (p *Pool) screenshot(ctx context.Context, name string, d libvirt.Domain) *Screenshot {
	each := min(screenshotTimeout, p.opts.CallTimeout) / 3
	var last error
	for try := 0; try < 3; try++ {
		png, err := p.screenshotOnce(ctx, name, d, each)
		if err == nil {
			return &Screenshot{PNG: png}
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return &Screenshot{Error: fmt.Sprintf("no screenshot in three tries: %v", last)}
}

func (p *Pool) screenshotOnce(ctx context.Context, name string, d libvirt.Domain, within time.Duration) ([]byte, error) {
	out := &capped{max: maxScreenshot}
	err := p.conn.CallWithin(ctx, "screenshot "+name, within, func(l *libvirt.Libvirt) error {
		// The MIME type is not used: the image's own first bytes say
		// what it is (screenshotPNG).
		if _, err := l.DomainScreenshot(d, out, 0, 0); err != nil {
			return err
		}
		if out.buf.Len() == 0 {
			return errors.New("the stream brought no image")
		}
		return nil
	})
	// Without an error the call has returned, and with it the stream's
	// writer: out is ours.
	if err != nil {
		return nil, err
	}
	if out.lost > 0 {
		return nil, fmt.Errorf("larger than %d bytes", maxScreenshot)
	}
	return screenshotPNG(out.buf.Bytes())
}
