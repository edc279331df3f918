package appliance

import (
	"io"
	"log/slog"
	"runtime/debug"
	"testing"

	"mailinspector/internal/settings"
)

// The settings pace the collector, and GOGC/GOMEMLIMIT in the environment
// win over them. The process's own values are put back afterwards.
func TestMemorySettingsPaceTheCollectorUnlessTheEnvironmentDoes(t *testing.T) {
	prevPct := debug.SetGCPercent(100)
	prevLim := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(prevPct); debug.SetMemoryLimit(prevLim) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	s, err := settings.Build(map[string]string{"runtime.gc_percent": "250", "runtime.memory_limit": "134217728"})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	applyMemory(s, log)
	if got := debug.SetGCPercent(100); got != 250 {
		t.Errorf("gc percent %d, want 250 from the settings", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 128<<20 {
		t.Errorf("memory limit %d, want %d from the settings", got, 128<<20)
	}

	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetGCPercent(150)
	debug.SetMemoryLimit(1 << 30)
	applyMemory(s, log)
	if got := debug.SetGCPercent(100); got != 150 {
		t.Errorf("gc percent %d with GOGC=150 set", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("memory limit %d with GOMEMLIMIT=1GiB set", got)
	}
}
