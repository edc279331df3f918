package appliance

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// statusEvery is how often the daemon tells systemd what it is doing
// (STATUS=, shown by systemctl status).
const statusEvery = 10 * time.Second

// progress follows one worker pool: work waiting or in progress while the
// count of finished items does not move means the pool is stuck.
type progress struct {
	name  string
	busy  func() int
	done  func() int64
	after time.Duration // how long without progress is stuck
	last  int64
	since time.Time
}

func (p *progress) stuck(now time.Time) string {
	after := p.after
	d := p.done()
	if d != p.last || p.busy() == 0 {
		p.last, p.since = d, now
		return ""
	}
	if now.Sub(p.since) > after {
		return fmt.Sprintf("%s: %d in progress, none finished for %s", p.name, p.busy(), now.Sub(p.since).Round(time.Second))
	}
	return ""
}

// watchdog pings systemd (WATCHDOG=1) at half the interval it asked for,
// but only while analysis and delivery make progress: a stuck pool stops
// the pings and systemd restarts the daemon, which resumes every message
// from the database. Every statusEvery it also sends a STATUS= line.
func (a *Appliance) watchdog(ctx context.Context) {
	interval, _ := daemon.SdWatchdogEnabled(false)
	tick := statusEvery
	if interval > 0 {
		tick = min(interval/2, statusEvery)
	}
	stall := a.Settings.Analysis.StallAfter
	pools := []*progress{
		{name: "analysis", busy: a.runner.Busy, done: a.runner.Processed.Load, after: stall},
		// One delivery attempt may legitimately take its whole timeout.
		{name: "delivery", busy: a.queue.Busy, done: a.queue.Attempts.Load, after: max(stall, a.queue.Timeout+time.Minute)},
	}
	now := time.Now()
	for _, p := range pools {
		p.last, p.since = p.done(), now
	}
	lastStatus := now
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now = <-t.C:
		}
		var stuck []string
		for _, p := range pools {
			if why := p.stuck(now); why != "" {
				stuck = append(stuck, why)
			}
		}
		switch {
		case len(stuck) > 0:
			msg := strings.Join(stuck, "; ")
			if a.stuckLogged.CompareAndSwap(false, true) {
				a.Log.Error("watchdog: not pinging systemd, a worker pool is stuck", "why", msg)
			}
			daemon.SdNotify(false, "STATUS=stuck: "+msg)
			continue
		case interval > 0:
			a.stuckLogged.Store(false)
			daemon.SdNotify(false, daemon.SdNotifyWatchdog)
		}
		if now.Sub(lastStatus) >= statusEvery {
			lastStatus = now
			daemon.SdNotify(false, "STATUS="+a.statusLine())
		}
	}
}

// statusLine is what systemctl status shows.
func (a *Appliance) statusLine() string {
	return fmt.Sprintf("receiving mail on %s: %d accepted, %d analysed, %d delivered, %d deferred",
		a.smtp.Addr(), a.smtp.Stats.Accepted.Load(), a.runner.Processed.Load(), a.queue.Delivered.Load(), a.queue.Deferred.Load())
}
