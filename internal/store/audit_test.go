package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAuditIsAppendOnly: entries are listed newest first and filtered; an
// update is refused, and so is a delete of an entry younger than a year;
// an older one may go (retention).
func TestAuditIsAppendOnly(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "mi.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	old := time.Now().Add(-400 * 24 * time.Hour)
	for _, e := range []AuditEntry{
		{At: old, Who: "admin", Via: "uid 0", Kind: "queue", Command: "queue flush", OK: true},
		{Who: "admin", Via: "uid 0", Kind: "quarantine", Command: "quarantine release m1", OK: true, Detail: "released m1"},
		{Who: "ops", Via: "ssh 192.0.2.7", Kind: "quarantine", Command: "quarantine delete m2", OK: false, Detail: "not quarantined"},
	} {
		if err := db.Write(ctx, func(tx *Tx) error { return AddAudit(tx, &e) }); err != nil {
			t.Fatal(err)
		}
	}
	all, err := db.Audit(ctx, AuditFilter{})
	if err != nil || len(all) != 3 || all[0].Who != "ops" || all[0].OK || all[2].Command != "queue flush" {
		t.Fatalf("audit %+v, %v", all, err)
	}
	if q, _ := db.Audit(ctx, AuditFilter{Kind: "quarantine", Who: "admin"}); len(q) != 1 || q[0].Detail != "released m1" {
		t.Errorf("filtered %+v", q)
	}
	if q, _ := db.Audit(ctx, AuditFilter{Since: time.Now().Add(-time.Hour)}); len(q) != 2 {
		t.Errorf("since: %d entries", len(q))
	}
	err = db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE audit SET who = 'nobody'`)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("update: %v", err)
	}
	err = db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`DELETE FROM audit WHERE who = 'ops'`)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "at least a year") {
		t.Errorf("delete of a recent entry: %v", err)
	}
	err = db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`DELETE FROM audit WHERE at < ?`, time.Now().Add(-365*24*time.Hour).UnixNano())
		return err
	})
	if err != nil {
		t.Errorf("delete of a 400-day-old entry: %v", err)
	}
	if all, _ := db.Audit(ctx, AuditFilter{}); len(all) != 2 {
		t.Errorf("%d entries left, want 2", len(all))
	}
}
