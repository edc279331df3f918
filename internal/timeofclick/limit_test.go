package timeofclick

import "testing"

// TestLimiter: a key gets max requests a minute, then waits; other keys
// are counted apart.
func TestLimiter(t *testing.T) {
	var l limiter
	for i := 0; i < 3; i++ {
		if !l.allow("a", 3) {
			t.Fatalf("request %d of 3 refused", i+1)
		}
	}
	if l.allow("a", 3) {
		t.Fatal("a fourth request in the minute went through")
	}
	if !l.allow("b", 3) {
		t.Fatal("another key was refused")
	}
}
