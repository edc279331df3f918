// Package services holds the one contract every cloud service and local
// helper of the appliance is called under (DESIGN.md, "The cloud services
// and the degradation contract"): a per-call deadline, a circuit breaker
// (closed → open after N consecutive failures → one half-open probe after a
// back-off), a result cache with TTL that keeps negative answers too, and a
// status with counters. A caller whose call fails, or whose breaker is open,
// gets an error at once and skips its step; nothing has to be done when the
// service comes back.
package services

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// States of a service as `show services` and the metrics give them.
const (
	StateOK            = "ok"
	StateDegraded      = "degraded"    // answering, but the last call(s) failed
	StateUnreachable   = "unreachable" // breaker open: calls are skipped
	StateDisabled      = "disabled"
	StateNotConfigured = "not-configured"
)

// Errors a call can end with besides the service's own.
var (
	ErrOpen          = errors.New("circuit open after repeated failures")
	ErrDisabled      = errors.New("disabled in settings")
	ErrNotConfigured = errors.New("not configured")
)

// Config is one service's contract.
type Config struct {
	Name       string
	Enabled    bool
	Configured bool
	// Deadline bounds each call; a message never waits longer on it.
	Deadline time.Duration
	// Failures is how many consecutive failures open the breaker.
	Failures int
	// Backoff is how long the breaker stays open before one probe; it
	// doubles on each failed probe up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// TTL and NegativeTTL keep answers ("found" and "not found"); zero
	// disables caching of that kind.
	TTL, NegativeTTL time.Duration
	// CacheSize bounds the cache (entries); 0 means 10000.
	CacheSize int
}

// Client calls one service under its contract. It is safe for concurrent
// use.
type Client struct {
	cfg Config

	mu        sync.Mutex
	failures  int       // consecutive
	openUntil time.Time // zero: closed
	probing   bool
	backoff   time.Duration
	lastOK    time.Time
	lastErrAt time.Time
	lastErr   string
	cache     map[string]cached

	calls, fails, hits, skips atomic.Int64
	// Probe, when set, is run by the registry once the back-off is over
	// so that the status comes back without mail having to try first.
	Probe func(ctx context.Context) error
}

type cached struct {
	v       any
	expires time.Time
}

// New makes a client.
func New(cfg Config) *Client {
	if cfg.Failures <= 0 {
		cfg.Failures = 3
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 10 * time.Second
	}
	if cfg.MaxBackoff < cfg.Backoff {
		cfg.MaxBackoff = max(cfg.Backoff, 5*time.Minute)
	}
	if cfg.Deadline <= 0 {
		cfg.Deadline = 2 * time.Second
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10000
	}
	return &Client{cfg: cfg, backoff: cfg.Backoff, cache: map[string]cached{}}
}

// Name is the service identifier.
func (c *Client) Name() string { return c.cfg.Name }

// Deadline is the per-call deadline.
func (c *Client) Deadline() time.Duration { return c.cfg.Deadline }

// Usable says whether a call would be attempted now (enabled, configured,
// breaker not open). It costs a lock and nothing else.
// InUse says whether the service is enabled and configured, whether it
// answers now or not (its breaker): what is kept for it waits.
func (c *Client) InUse() bool { return c.cfg.Enabled && c.cfg.Configured }

func (c *Client) Usable() error {
	if !c.cfg.Enabled {
		return ErrDisabled
	}
	if !c.cfg.Configured {
		return ErrNotConfigured
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.openUntil.IsZero() && (c.probing || time.Now().Before(c.openUntil)) {
		return fmt.Errorf("%w (last error: %s)", ErrOpen, c.lastErr)
	}
	return nil
}

// Call asks the service through the cache and the breaker. fn answers
// (value, found, error); found=false is a negative answer, cached for
// NegativeTTL. key "" is never cached. An error means: skip the step; it
// says why.
func Call[T any](ctx context.Context, c *Client, key string, fn func(ctx context.Context) (T, bool, error)) (T, error) {
	var zero T
	if key != "" {
		if v, ok := c.lookup(key); ok {
			c.hits.Add(1)
			return v.(T), nil
		}
	}
	if err := c.admit(); err != nil {
		c.skips.Add(1)
		return zero, err
	}
	c.calls.Add(1)
	var found bool
	v, err := within(ctx, c.cfg.Deadline, func(ctx context.Context) (T, error) {
		v, f, err := fn(ctx)
		found = f
		return v, err
	})
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		// Our caller gave up (shutting down): not the service's fault.
		c.release()
		c.skips.Add(1)
		return zero, ctx.Err()
	}
	c.Record(err)
	if err != nil {
		c.skips.Add(1)
		return zero, err
	}
	if key != "" {
		c.store(key, v, found)
	}
	return v, nil
}

// Cached says whether key has a cached answer (without counting a hit: the
// Call that follows does), so that a caller can skip the work of preparing
// a request it will not send.
func Cached(c *Client, key string) bool {
	_, ok := c.lookup(key)
	return ok
}

// admit lets a call through a closed breaker, or one probe through an
// open one whose back-off is over.
func (c *Client) admit() error {
	if !c.cfg.Enabled {
		return ErrDisabled
	}
	if !c.cfg.Configured {
		return ErrNotConfigured
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.openUntil.IsZero() {
		return nil
	}
	if c.probing || time.Now().Before(c.openUntil) {
		return fmt.Errorf("%w (last error: %s)", ErrOpen, c.lastErr)
	}
	c.probing = true
	return nil
}

// release gives back a probe slot that was not used to its end.
func (c *Client) release() {
	c.mu.Lock()
	c.probing = false
	c.mu.Unlock()
}

// Record counts the outcome of one call made outside Call (clamd, delivery
// and the resolver report theirs this way) or inside it.
func (c *Client) Record(err error) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	wasProbe := c.probing
	c.probing = false
	if err == nil {
		c.failures, c.openUntil, c.backoff, c.lastOK = 0, time.Time{}, c.cfg.Backoff, now
		return
	}
	c.fails.Add(1)
	c.failures++
	c.lastErr, c.lastErrAt = err.Error(), now
	switch {
	case wasProbe:
		c.backoff = min(2*c.backoff, c.cfg.MaxBackoff)
		c.openUntil = now.Add(c.backoff)
	case c.openUntil.IsZero() && c.failures >= c.cfg.Failures:
		c.openUntil = now.Add(c.backoff)
	}
}

func (c *Client) lookup(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cache[key]
	if !ok {
		return nil, false
	}
	if time.Now().After(e.expires) {
		delete(c.cache, key)
		return nil, false
	}
	return e.v, true
}

func (c *Client) store(key string, v any, found bool) {
	ttl := c.cfg.TTL
	if !found {
		ttl = c.cfg.NegativeTTL
	}
	if ttl <= 0 {
		return
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cache) >= c.cfg.CacheSize {
		// Drop what expired; if that frees nothing, drop an arbitrary
		// half (map order) rather than grow without bound.
		for k, e := range c.cache {
			if now.After(e.expires) {
				delete(c.cache, k)
			}
		}
		for k := range c.cache {
			if len(c.cache) < c.cfg.CacheSize/2 {
				break
			}
			delete(c.cache, k)
		}
	}
	c.cache[key] = cached{v: v, expires: now.Add(ttl)}
}

// Status is what `show services` and the metrics report of one service.
type Status struct {
	Name      string    `json:"name"`
	State     string    `json:"state"`
	LastOK    time.Time `json:"last_ok"`
	LastError string    `json:"last_error"`
	LastErrAt time.Time `json:"last_error_at"`
	Calls     int64     `json:"calls"`
	Failures  int64     `json:"failures"`
	CacheHits int64     `json:"cache_hits"`
	Skips     int64     `json:"skips"`
	Deadline  string    `json:"deadline"`
}

// Status reports the service's state now.
func (c *Client) Status() Status {
	c.mu.Lock()
	st := Status{Name: c.cfg.Name, LastOK: c.lastOK, LastError: c.lastErr, LastErrAt: c.lastErrAt}
	switch {
	case !c.cfg.Enabled:
		st.State = StateDisabled
	case !c.cfg.Configured:
		st.State = StateNotConfigured
	case !c.openUntil.IsZero():
		st.State = StateUnreachable
	case c.failures > 0:
		st.State = StateDegraded
	default:
		st.State = StateOK
	}
	c.mu.Unlock()
	st.Calls, st.Failures, st.CacheHits, st.Skips = c.calls.Load(), c.fails.Load(), c.hits.Load(), c.skips.Load()
	st.Deadline = c.cfg.Deadline.String()
	return st
}

// Skip counts a step skipped for a reason found outside Call.
func (c *Client) Skip() { c.skips.Add(1) }

// probeDue says whether the background probe should run now.
func (c *Client) probeDue(now time.Time) bool {
	if c.Probe == nil || !c.cfg.Enabled || !c.cfg.Configured {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.openUntil.IsZero() || c.probing || now.Before(c.openUntil) {
		return false
	}
	c.probing = true
	return true
}
