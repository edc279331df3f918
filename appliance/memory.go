package appliance

import (
	"log/slog"
	"os"
	"runtime/debug"

	"mailinspector/internal/settings"
)

// applyMemory paces Go's garbage collector from runtime.gc_percent and
// runtime.memory_limit. The daemon's live heap is small (tens of MB) and
// it allocates per message, so Go's default pace collected many times a
// second under load; a higher percentage trades some memory for CPU, and
// the soft limit keeps a burst of large messages from growing the heap
// without bound. GOGC or GOMEMLIMIT in the environment win, as everywhere
// in Go, so an operator can still tune a running appliance's unit.
func applyMemory(s *settings.Settings, log *slog.Logger) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(s.Runtime.GCPercent)
	} else {
		log.Info("runtime.gc_percent not applied: GOGC is set", "GOGC", os.Getenv("GOGC"))
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(s.Runtime.MemoryLimit)
	} else {
		log.Info("runtime.memory_limit not applied: GOMEMLIMIT is set", "GOMEMLIMIT", os.Getenv("GOMEMLIMIT"))
	}
}
