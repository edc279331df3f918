package dispatch

import "testing"

func TestHandoverIsTakenOnceAndDropped(t *testing.T) {
	var h Handover[string]
	h.Put("a", "row a")
	h.Put("b", "row b")
	h.Drop("b")
	if v, ok := h.Take("a"); !ok || v != "row a" {
		t.Fatalf("first take: %q %v", v, ok)
	}
	if v, ok := h.Take("a"); ok {
		t.Fatalf("second take gave %q", v)
	}
	if v, ok := h.Take("b"); ok {
		t.Fatalf("dropped copy taken: %q", v)
	}
}
