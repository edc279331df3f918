package analysis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"mailinspector/internal/hubapi"
	"mailinspector/internal/message"
	"mailinspector/internal/services"
)

// The hub-backed stages. Each names its service; every call goes through
// the service's client (deadline, breaker, cache), the calls of one
// message run concurrently, at most fanOutLimit at a time, and a call that
// fails leaves the rest standing: the stage is then "skipped" with the
// reason, keeping what the calls that did answer found.

// fanOutLimit bounds the concurrent calls one stage makes for one message.
const fanOutLimit = 8

// maxObjects bounds the URLs or files one stage asks about per message; the
// rest are counted in the trail.
const maxObjects = 64

// Cloud is what the hub stages share.
type Cloud struct {
	Hub      *services.Hub
	Services *services.Registry
	// Limits bound reading attachments back for ML's features.
	Limits message.Limits
	// Joints groups the joint requests of concurrent messages
	// (joint_queue.go); nil sends each message's alone.
	Joints *JointQueue
}

// hubBatch is how many objects one request to the hub carries (the hub
// takes up to 100).
const hubBatch = hubapi.MaxBatch

// askBatch asks the hub about keys in one round trip (cache first), through
// the service's contract. The hub answers {"results": [...]} in the order
// asked.
func askBatch[T any](ctx context.Context, cl *services.Client, hub *services.Hub, path, field string, keys []string,
	found func(T) bool) (map[string]T, map[string]error) {
	return services.CallBatch(ctx, cl, keys, hubBatch, func(ctx context.Context, ks []string) (map[string]T, error) {
		var ans hubapi.Results[T]
		if err := hub.Post(ctx, path, map[string][]string{field: ks}, &ans); err != nil {
			return nil, err
		}
		if len(ans.Results) != len(ks) {
			return nil, fmt.Errorf("hub answered %d results for %d items", len(ans.Results), len(ks))
		}
		out := make(map[string]T, len(ks))
		for i, k := range ks {
			out[k] = ans.Results[i]
		}
		return out, nil
	}, found)
}

// errsOf lines up a batch's per-key errors with keys, for settle.
func errsOf(keys []string, failed map[string]error) []error {
	errs := make([]error, len(keys))
	for i, k := range keys {
		errs[i] = failed[k]
	}
	return errs
}

func fileKeys(files []fileObject) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.SHA256
	}
	return out
}

func urlKeys(urls []message.URL) []string {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = u.URL
	}
	return out
}

// fanOut runs fn for 0..n-1 concurrently, bounded, and returns the first
// error of each call.
func fanOut(ctx context.Context, n int, fn func(ctx context.Context, i int) error) []error {
	errs := make([]error, n)
	sem := make(chan struct{}, fanOutLimit)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			errs[i] = fn(ctx, i)
		}(i)
	}
	wg.Wait()
	return errs
}

// settle turns per-object errors into the stage's outcome: all failed is
// ErrUnavailable; some failed is a "skipped" result that keeps what was
// found; none failed is the result as it is.
func settle(res Result, what string, errs []error, extra int) (Result, error) {
	failed, first := 0, error(nil)
	for _, err := range errs {
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	if extra > 0 {
		res.Detail = strings.TrimPrefix(res.Detail+fmt.Sprintf("; %d more %s not asked (limit %d)", extra, what, maxObjects), "; ")
	}
	switch {
	case failed == 0:
		return res, nil
	case failed == len(errs):
		return Result{}, fmt.Errorf("%w: %v", ErrUnavailable, first)
	}
	res.Outcome = OutcomeSkipped
	res.Detail = strings.TrimPrefix(fmt.Sprintf("%s; %d of %d %s not checked: %v", res.Detail, failed, len(errs), what, first), "; ")
	return res, nil
}

func (c Cloud) client(name string) (*services.Client, error) {
	cl := c.Services.Get(name)
	if cl == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnavailable, services.ErrNotConfigured)
	}
	// Disabled, not configured or breaker open: skipped at once, at no
	// cost to the message.
	if err := cl.Usable(); err != nil {
		if errors.Is(err, services.ErrNotConfigured) {
			err = fmt.Errorf("%w (hub.url, hub.key)", err)
		}
		cl.Skip()
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return cl, nil
}

// asked memoises the objects the hub stages ask about: the joint request,
// several stages and the Smart Feedback records each want them, and taking
// the link hosts apart (url.Parse) was a visible part of a message's cost
// with the hub up. Computed once the extraction ran; read-only after.
