package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A sample's row through its life: one claim wins, the outcome is kept,
// a failed try is claimed again only from the state it was read in; the
// verdict look-up leaves the report and page out, the full one has them.
func TestSandboxRows(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	if _, err := db.SandboxVerdict(ctx, "ab"); !errors.Is(err, ErrNoAnalysis) {
		t.Fatalf("unknown sample: %v", err)
	}
	claim := func(was string) bool {
		var won bool
		if err := db.Write(ctx, func(tx *Tx) error {
			var err error
			won, err = ClaimSandbox(tx, "ab", "x.sh", "linux", time.Now(), was)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return won
	}
	if !claim("") || claim("") {
		t.Fatal("the first claim wins, the second loses")
	}
	if err := db.Write(ctx, func(tx *Tx) error {
		return FinishSandbox(tx, &SandboxAnalysis{SHA256: "ab", State: SandboxError, Error: "va-error: x", Report: []byte(`{"a":1}`),
			HTML: []byte("<html>"), Finished: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	v, err := db.SandboxVerdict(ctx, "ab")
	if err != nil || v.State != SandboxError || v.Error != "va-error: x" || len(v.Report) != 0 || len(v.HTML) != 0 || v.Finished.IsZero() {
		t.Fatalf("verdict %+v %v", v, err)
	}
	full, err := db.SandboxAnalysis(ctx, "ab")
	if err != nil || string(full.Report) != `{"a":1}` || string(full.HTML) != "<html>" {
		t.Fatalf("full %+v %v", full, err)
	}
	if claim(SandboxTimeout) || !claim(SandboxError) {
		t.Fatal("a retry claims from the state read only")
	}
	if v, _ := db.SandboxVerdict(ctx, "ab"); v.State != SandboxPending || v.Error != "" || !v.Finished.IsZero() {
		t.Fatalf("claimed again: %+v", v)
	}
}
