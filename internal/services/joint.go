package services

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A joint call is one request made for several services at once: the hub
// answers all the per-message services of a message in one round trip
// (POST /v1/lookup). Each service keeps its own contract: it goes in only
// through its own breaker (Admit), is counted as one call, and gets its
// own outcome, so that its status, its breaker and its trail read as if it
// had been asked alone.

// Admit lets c into a joint call: nil when its breaker is closed, or when
// it is open and due for its half-open probe (the joint call is that
// probe). An error leaves c out, and its step skipped, counted as a skip.
func (c *Client) Admit() error {
	if err := c.admit(); err != nil {
		c.skips.Add(1)
		return err
	}
	return nil
}

// ErrJointUnsupported is what a joint call's fn returns when the other side
// does not know joint requests (an older hub): Joint then records nothing
// and hands every admitted client back, so that each asks alone.
var ErrJointUnsupported = errors.New("joint requests not supported")

// Joint runs fn once for the admitted clients cs, under the shortest of
// their deadlines (callers put services with different deadlines in
// different joint calls), and records each client's outcome: fn's error
// for all of them, or else the error fn gives for that client alone. A
// client stands for asks[c] asks (the messages whose questions the call
// carries; 1 when absent): its calls, failures and skips count once per
// ask, as if each had been asked alone, so that a breaker opens after as
// many failed messages whether or not their questions travelled together.
// It returns each client's outcome.
func Joint(ctx context.Context, cs []*Client, asks map[*Client]int, fn func(ctx context.Context) (map[*Client]error, error)) map[*Client]error {
	out := make(map[*Client]error, len(cs))
	if len(cs) == 0 {
		return out
	}
	deadline := cs[0].cfg.Deadline
	for _, c := range cs[1:] {
		deadline = min(deadline, c.cfg.Deadline)
	}
	per, err := within(ctx, deadline, fn)
	switch {
	case errors.Is(err, ErrJointUnsupported):
		for _, c := range cs {
			c.release()
			out[c] = err
		}
		return out
	case err != nil && errors.Is(ctx.Err(), context.Canceled):
		for _, c := range cs { // our caller gave up: not the service's fault
			c.release()
			c.skips.Add(int64(max(asks[c], 1)))
			out[c] = ctx.Err()
		}
		return out
	}
	for _, c := range cs {
		e := err
		if e == nil {
			e = per[c]
		}
		n := max(asks[c], 1)
		c.calls.Add(int64(n))
		for range n {
			c.Record(e)
		}
		if e != nil {
			c.skips.Add(int64(n))
		}
		out[c] = e
	}
	return out
}

// Failed counts one call that failed without being made: a message whose
// questions waited their whole deadline behind a joint call in flight got
// no answer from the service in time, as if asked alone and unanswered.
func (c *Client) Failed(err error) {
	c.calls.Add(1)
	c.Record(err)
	c.skips.Add(1)
}

// TimeoutError is a call that got no answer within its wait.
type TimeoutError struct{ Wait time.Duration }

func (e *TimeoutError) Error() string { return fmt.Sprintf("no answer within %s", e.Wait) }

// within runs fn under deadline (or what is left of ctx's, if shorter) and
// turns running out of time into "no answer within …".
func within[T any](ctx context.Context, deadline time.Duration, fn func(ctx context.Context) (T, error)) (T, error) {
	// The wait is the deadline, or what is left of the caller's if that
	// is shorter (the hub's own breaker runs inside a service's call).
	wait := deadline
	if cd, ok := ctx.Deadline(); ok && time.Until(cd) < wait {
		wait = max(time.Until(cd), 0).Round(time.Millisecond)
	}
	cctx, cancel := context.WithTimeout(ctx, deadline)
	v, err := fn(cctx)
	// A reader whose socket deadline came from cctx may report its own
	// i/o timeout a moment before cctx says so: past the deadline, it is
	// the deadline.
	dl, _ := cctx.Deadline()
	timedOut := errors.Is(cctx.Err(), context.DeadlineExceeded) || !time.Now().Before(dl)
	cancel()
	if err != nil && !errors.Is(ctx.Err(), context.Canceled) && (timedOut || errors.Is(err, context.DeadlineExceeded)) {
		err = &TimeoutError{Wait: wait}
	}
	return v, err
}

// Lookup is key's cached answer, counting a cache hit.
func Lookup[T any](c *Client, key string) (T, bool) {
	v, ok := c.lookup(key)
	if !ok {
		var zero T
		return zero, false
	}
	t, ok := v.(T)
	if ok {
		c.hits.Add(1)
	}
	return t, ok
}

// Peek is key's cached answer without counting a hit (the answer is
// looked at to decide what to ask, not used for a step).
func Peek[T any](c *Client, key string) (T, bool) {
	v, _ := c.lookup(key)
	t, ok := v.(T)
	return t, ok
}

// Remember caches an answer got in a joint call (found as for Call).
func Remember(c *Client, key string, v any, found bool) { c.store(key, v, found) }
