// Package delivery is the outbound queue of MTA mode: per-recipient rows in
// the database, message bodies in the spool, attempts by a bounded pool,
// retries with growing waits, and a DSN to the sender when a recipient
// fails for good.
package delivery

import (
	"context"
	"io"
)

// Envelope is one delivery attempt of one message to some of its
// recipients.
type Envelope struct {
	ID    string
	From  string
	To    []string
	UTF8  bool
	Size  int64
	Open  func() (io.ReadCloser, error)
	Trace func(detail string) // notes for the message's trail (the downstream's reply)
	// Route is the host:port an administrator rerouted the message to
	// (queue reroute); empty: the configured route.
	Route string
}

// Result is the outcome for one recipient.
type Result struct {
	Err       error // nil: delivered
	Permanent bool  // the failure will not go away by retrying
}

// Transport delivers an envelope and reports one result per recipient, in
// the order of Envelope.To.
type Transport interface {
	Deliver(ctx context.Context, env *Envelope) []Result
}

// allResults gives every recipient the same result.
func allResults(n int, err error, permanent bool) []Result {
	out := make([]Result, n)
	for i := range out {
		out[i] = Result{Err: err, Permanent: permanent}
	}
	return out
}

// Rerouted delivers a message an administrator rerouted (queue reroute) to
// its host by Via, every other by Default.
type Rerouted struct {
	Default Transport
	Via     *SMTP
}

func (r *Rerouted) Deliver(ctx context.Context, env *Envelope) []Result {
	if env.Route != "" {
		return r.Via.tryHosts(ctx, []string{env.Route}, env)
	}
	return r.Default.Deliver(ctx, env)
}
