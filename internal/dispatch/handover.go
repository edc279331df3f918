package dispatch

import "sync"

// Handover carries, by id, what a work item's first run would otherwise
// read back from the database: the producer has it in hand as it commits.
//
// The producer Puts before its commit and Drops if the commit failed; the
// first run for the id, whatever started it (Submit after the commit, or a
// Scan that found the committed rows first), Takes it. Before, not after
// the commit: a Scan may find the rows before Submit, and its run must take
// the copy then, or the copy would be left for a later run to use stale.
// Take removes it, so a copy is never used twice; every later run reads the
// database.
type Handover[T any] struct{ m sync.Map }

// Put hands v over for id, before the commit that makes id's rows due.
func (h *Handover[T]) Put(id string, v T) { h.m.Store(id, v) }

// Drop forgets id's copy: its commit failed.
func (h *Handover[T]) Drop(id string) { h.m.Delete(id) }

// Take returns id's copy and forgets it; ok is false when there is none.
func (h *Handover[T]) Take(id string) (v T, ok bool) {
	x, ok := h.m.LoadAndDelete(id)
	if ok {
		v = x.(T)
	}
	return v, ok
}
