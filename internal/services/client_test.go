package services

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func testClient() *Client {
	return New(Config{Name: "web-reputation", Enabled: true, Configured: true, Deadline: 200 * time.Millisecond,
		Failures: 2, Backoff: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond, TTL: time.Minute, NegativeTTL: time.Minute})
}

func TestBreakerOpensSkipsAndRecovers(t *testing.T) {
	c := testClient()
	var down atomic.Bool
	var calls atomic.Int64
	ask := func(key string) (string, error) {
		return Call(context.Background(), c, key, func(ctx context.Context) (string, bool, error) {
			calls.Add(1)
			if down.Load() {
				return "", false, errors.New("connection refused")
			}
			return "rating-" + key, true, nil
		})
	}
	if v, err := ask("a"); err != nil || v != "rating-a" {
		t.Fatalf("healthy call: %q %v", v, err)
	}
	if st := c.Status(); st.State != StateOK || st.LastOK.IsZero() {
		t.Fatalf("status after success: %+v", st)
	}
	down.Store(true)
	if _, err := ask("b"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("first failure: %v", err)
	}
	if st := c.Status(); st.State != StateDegraded {
		t.Fatalf("after one failure want degraded, got %s", st.State)
	}
	ask("c")
	if st := c.Status(); st.State != StateUnreachable {
		t.Fatalf("after %d failures want unreachable, got %s", 2, st.State)
	}
	before := calls.Load()
	for i := 0; i < 100; i++ {
		if _, err := ask("d"); !errors.Is(err, ErrOpen) {
			t.Fatalf("open breaker answered %v", err)
		}
	}
	if calls.Load() != before {
		t.Fatalf("an open breaker called the service %d times", calls.Load()-before)
	}
	// A cached answer is still served while the breaker is open.
	if v, err := ask("a"); err != nil || v != "rating-a" {
		t.Fatalf("cached answer while open: %q %v", v, err)
	}
	// The probe after the back-off fails: open again, back-off doubled.
	time.Sleep(120 * time.Millisecond)
	if _, err := ask("e"); err == nil || errors.Is(err, ErrOpen) {
		t.Fatalf("probe should reach the service and fail: %v", err)
	}
	time.Sleep(120 * time.Millisecond)
	if _, err := ask("e"); !errors.Is(err, ErrOpen) {
		t.Fatalf("back-off should have doubled: %v", err)
	}
	down.Store(false)
	time.Sleep(120 * time.Millisecond)
	if v, err := ask("f"); err != nil || v != "rating-f" {
		t.Fatalf("probe after recovery: %q %v", v, err)
	}
	st := c.Status()
	if st.State != StateOK || st.CacheHits != 1 || st.Failures != 3 || st.Skips < 100 {
		t.Fatalf("status after recovery: %+v", st)
	}
}

func TestDeadlineBoundsEveryCall(t *testing.T) {
	c := testClient()
	start := time.Now()
	_, err := Call(context.Background(), c, "x", func(ctx context.Context) (int, bool, error) {
		<-ctx.Done() // a service that accepts and never answers
		return 0, false, ctx.Err()
	})
	if err == nil || !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Fatalf("want a deadline error, got %v", err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("waited %s on a 200ms deadline", waited)
	}
}

func TestNegativeAnswersAreCached(t *testing.T) {
	c := testClient()
	n := 0
	for i := 0; i < 3; i++ {
		Call(context.Background(), c, "unknown.example", func(ctx context.Context) (string, bool, error) {
			n++
			return "", false, nil
		})
	}
	if n != 1 {
		t.Fatalf("a negative answer was asked %d times", n)
	}
}

func TestDisabledAndNotConfigured(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		state string
		err   error
	}{
		{Config{Name: "ml", Enabled: false, Configured: true}, StateDisabled, ErrDisabled},
		{Config{Name: "ml", Enabled: true, Configured: false}, StateNotConfigured, ErrNotConfigured},
	} {
		c := New(tc.cfg)
		_, err := Call(context.Background(), c, "k", func(ctx context.Context) (int, bool, error) {
			t.Fatal("called a service that is not to be used")
			return 0, false, nil
		})
		if !errors.Is(err, tc.err) || c.Status().State != tc.state {
			t.Fatalf("%+v: err %v, state %s", tc.cfg, err, c.Status().State)
		}
	}
}

func TestBackgroundProbeRestoresStatus(t *testing.T) {
	c := testClient()
	var up atomic.Bool
	c.Probe = func(ctx context.Context) error {
		if up.Load() {
			return nil
		}
		return errors.New("still down")
	}
	c.Record(errors.New("refused"))
	c.Record(errors.New("refused"))
	if c.Status().State != StateUnreachable {
		t.Fatal("breaker did not open")
	}
	up.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go NewRegistry(c).Run(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for c.Status().State != StateOK {
		if time.Now().After(deadline) {
			t.Fatalf("probe did not bring the service back: %+v", c.Status())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMetrics(t *testing.T) {
	c := testClient()
	c.Record(errors.New("refused"))
	r := NewRegistry(c)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r)
	want := `# HELP mailinspector_service_failures_total Calls that failed.
# TYPE mailinspector_service_failures_total counter
mailinspector_service_failures_total{service="web-reputation"} 1
# HELP mailinspector_service_state 1 for the state the service is in.
# TYPE mailinspector_service_state gauge
mailinspector_service_state{service="web-reputation",state="degraded"} 1
mailinspector_service_state{service="web-reputation",state="disabled"} 0
mailinspector_service_state{service="web-reputation",state="not-configured"} 0
mailinspector_service_state{service="web-reputation",state="ok"} 0
mailinspector_service_state{service="web-reputation",state="unreachable"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "mailinspector_service_failures_total", "mailinspector_service_state"); err != nil {
		t.Fatal(err)
	}
}

func TestCallBatchUsesCacheAndChunks(t *testing.T) {
	c := testClient()
	var calls [][]string
	var mu sync.Mutex
	ask := func(keys ...string) (map[string]int, map[string]error) {
		return CallBatch(context.Background(), c, keys, 2, func(ctx context.Context, ks []string) (map[string]int, error) {
			mu.Lock()
			calls = append(calls, ks)
			mu.Unlock()
			out := map[string]int{}
			for _, k := range ks {
				out[k] = len(k)
			}
			return out, nil
		}, func(n int) bool { return n > 1 })
	}
	got, errs := ask("a", "bb", "ccc")
	if len(errs) != 0 || got["ccc"] != 3 || len(calls) != 2 {
		t.Fatalf("first batch: %v %v, %d calls", got, errs, len(calls))
	}
	got, _ = ask("a", "bb", "dddd", "bb")
	if len(calls) != 3 || len(calls[2]) != 1 || calls[2][0] != "dddd" || got["a"] != 1 {
		t.Fatalf("second batch asked %v", calls)
	}
	if st := c.Status(); st.Calls != 3 || st.CacheHits != 2 {
		t.Fatalf("status %+v", st)
	}
}
