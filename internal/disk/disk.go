// Package disk watches the data disk: how full it is, and whether it has
// passed the high-water mark (limits.disk_high_water), above which the
// appliance answers new mail 452 4.3.1 rather than accept what it might
// not be able to keep.
package disk

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"
)

// Usage is the filesystem holding a path.
type Usage struct {
	Total, Used, Free uint64 // bytes; Free is what an unprivileged writer may still use
}

// Ratio is the share used, as df counts it: used / (used + available).
func (u Usage) Ratio() float64 {
	if u.Used+u.Free == 0 {
		return 0
	}
	return float64(u.Used) / float64(u.Used+u.Free)
}

// Watcher measures Path every Interval and says whether it is past
// HighWater (a share, 0.9 for 90%).
type Watcher struct {
	Path      string
	HighWater float64
	Interval  time.Duration // 0: 5 seconds
	Log       *slog.Logger

	full  atomic.Bool
	ratio atomic.Uint64 // math.Float64bits of the last ratio
}

// Full says whether the disk was past the high-water mark when last
// measured.
func (w *Watcher) Full() bool { return w.full.Load() }

// Ratio is the share used when last measured.
func (w *Watcher) Ratio() float64 { return math.Float64frombits(w.ratio.Load()) }

// Check measures once, logging a crossing of the mark either way.
func (w *Watcher) Check() error {
	u, err := Measure(w.Path)
	if err != nil {
		return err
	}
	r := u.Ratio()
	w.ratio.Store(math.Float64bits(r))
	full := r >= w.HighWater
	if was := w.full.Swap(full); was != full {
		if full {
			w.Log.Error("data disk past its high-water mark: new mail is answered 452 4.3.1 until space is freed",
				"path", w.Path, "used", fmt.Sprintf("%.1f%%", 100*r), "high_water", fmt.Sprintf("%.0f%%", 100*w.HighWater))
		} else {
			w.Log.Info("data disk below its high-water mark again: mail is accepted",
				"path", w.Path, "used", fmt.Sprintf("%.1f%%", 100*r))
		}
	}
	return nil
}

// Run checks every Interval until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	iv := w.Interval
	if iv <= 0 {
		iv = 5 * time.Second
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := w.Check(); err != nil {
				w.Log.Warn("disk: measure", "err", err)
			}
		}
	}
}
