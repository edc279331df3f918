package disk

import (
	"bytes"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestMeasureAgreesWithDf: the share used is df's (coreutils), to the
// percent it prints.
func TestMeasureAgreesWithDf(t *testing.T) {
	dir := t.TempDir()
	u, err := Measure(dir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("df", "--output=pcent", dir).Output()
	if err != nil {
		t.Skip("no df:", err)
	}
	lines := strings.Fields(string(out))
	pc, err := strconv.Atoi(strings.TrimSuffix(lines[len(lines)-1], "%"))
	if err != nil {
		t.Fatalf("df said %q", out)
	}
	// df rounds up; the disk may change a little between the two looks.
	if got := 100 * u.Ratio(); got < float64(pc)-2 || got > float64(pc)+1 || u.Total == 0 {
		t.Fatalf("Measure: %.2f%% of %d bytes, df: %d%%", got, u.Total, pc)
	}
}

// TestWatcherCrossesTheMarkBothWays: past the mark it is full and says so
// once; with the mark raised above the use, it is not, and says that.
func TestWatcherCrossesTheMarkBothWays(t *testing.T) {
	var log bytes.Buffer
	w := &Watcher{Path: t.TempDir(), HighWater: 0.0001, Log: slog.New(slog.NewTextHandler(&log, nil))}
	if err := w.Check(); err != nil {
		t.Fatal(err)
	}
	w.Check()
	if !w.Full() || w.Ratio() <= 0 || strings.Count(log.String(), "past its high-water mark") != 1 {
		t.Fatalf("full %v ratio %f log:\n%s", w.Full(), w.Ratio(), log.String())
	}
	w.HighWater = 1.01
	w.Check()
	if w.Full() || !strings.Contains(log.String(), "below its high-water mark again") {
		t.Fatalf("full %v log:\n%s", w.Full(), log.String())
	}
	if err := (&Watcher{Path: "/nonexistent/x", HighWater: 0.9, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Check(); err == nil {
		t.Error("a path that does not exist measured")
	}
}
