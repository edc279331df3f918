package logring

import (
	"fmt"
	"strings"
	"testing"
)

func TestRingKeepsTheNewestWholeLines(t *testing.T) {
	r := New(3, 1<<20)
	fmt.Fprint(r, "one\ntwo\nthr")
	fmt.Fprint(r, "ee\nfour\n")
	if got := strings.Join(r.Last(10, ""), ","); got != "two,three,four" {
		t.Fatalf("last: %q", got)
	}
	if got := strings.Join(r.Last(1, ""), ","); got != "four" {
		t.Fatalf("last 1: %q", got)
	}
	if got := strings.Join(r.Last(10, "t"), ","); got != "two,three" {
		t.Fatalf("grep t: %q", got)
	}
}

func TestRingKeepsToItsByteBudget(t *testing.T) {
	r := New(100, 10)
	for i := 0; i < 20; i++ {
		fmt.Fprintf(r, "line%02d\n", i) // 6 bytes each
	}
	got := r.Last(100, "")
	if len(got) != 1 || got[0] != "line19" {
		t.Fatalf("within 10 bytes: %q", got)
	}
}
