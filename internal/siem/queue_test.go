package siem

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func readAll(t *testing.T, q *Queue, from Pos) (recs []string, end Pos) {
	t.Helper()
	p := from
	for {
		rec, next, ok, err := q.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return recs, p
		}
		recs = append(recs, string(rec))
		p = next
	}
}

func TestQueueKeepsOrderAcrossSegmentsAndReopen(t *testing.T) {
	dir := t.TempDir()
	q, err := OpenQueue(dir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	rec := make([]byte, 100<<10) // ten to a segment
	for i := range 35 {
		copy(rec, fmt.Sprintf("record %02d", i))
		if err := q.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	recs, _ := readAll(t, q, q.Cursor())
	if len(recs) != 35 || recs[34][:9] != "record 34" {
		t.Fatalf("read %d records", len(recs))
	}
	// The collector has the first twelve.
	p := q.Cursor()
	for range 12 {
		_, p, _, _ = q.Read(p)
	}
	if err := q.Commit(p); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 3 {
		t.Errorf("%d segment files after the first one was sent, want 3", len(segs))
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q, err = OpenQueue(dir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	recs, _ = readAll(t, q, q.Cursor())
	if len(recs) != 23 || recs[0][:9] != "record 12" {
		t.Fatalf("after reopening: %d records from %q", len(recs), recs[0][:9])
	}
	if st := q.Stats(); st.Pending != 23*(4+100<<10) || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestQueueBoundDropsOldestAndCounts(t *testing.T) {
	q, err := OpenQueue(t.TempDir(), 3<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	rec := make([]byte, 100<<10)
	for i := range 60 {
		copy(rec, fmt.Sprintf("record %02d", i))
		q.Append(rec)
	}
	st := q.Stats()
	if st.Bytes > 3<<20 {
		t.Errorf("queue holds %d bytes, bound 3 MiB", st.Bytes)
	}
	recs, _ := readAll(t, q, Pos{})
	if uint64(len(recs))+st.Dropped != 60 {
		t.Fatalf("%d records left and %d dropped, of 60", len(recs), st.Dropped)
	}
	if recs[len(recs)-1][:9] != "record 59" || recs[0][:9] != fmt.Sprintf("record %02d", st.Dropped) {
		t.Errorf("left %q … %q after dropping %d: not the oldest that went", recs[0][:9], recs[len(recs)-1][:9], st.Dropped)
	}
}

func TestQueueCutsATornRecord(t *testing.T) {
	dir := t.TempDir()
	q, _ := OpenQueue(dir, 1<<30)
	q.Append([]byte("one"))
	q.Append([]byte("two"))
	q.Close()
	seg, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	f, _ := os.OpenFile(seg[0], os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{0, 0, 0, 9, 't', 'h'}) // a crash in the middle of "three…"
	f.Close()
	q, err := OpenQueue(dir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	q.Append([]byte("four"))
	recs, _ := readAll(t, q, q.Cursor())
	if fmt.Sprint(recs) != "[one two four]" {
		t.Fatalf("records %q", recs)
	}
}
