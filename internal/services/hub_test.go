package services

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The hub's own breaker: once the hub stops answering, the next requests
// fail at once instead of each waiting out its deadline; answers the hub
// gives (4xx) do not count against it; a probe after the back-off finds it
// back.
func TestHubHostBreaker(t *testing.T) {
	var hang atomic.Bool
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if hang.Load() {
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("bad") != "" {
			w.WriteHeader(400)
			w.Write([]byte(`{"error":{"code":"bad_request","message":"no"}}`))
			return
		}
		w.Write([]byte(`{"api":"v1"}`))
	}))
	defer srv.Close()
	h := NewHub(srv.URL, "k")
	h.SetHostBreaker(2, 300*time.Millisecond)
	get := func(q string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		var out map[string]any
		return h.Get(ctx, "/v1/status", map[string][]string{"bad": {q}}, &out)
	}
	for i := 0; i < 5; i++ {
		var se *StatusError
		if err := get("1"); !errors.As(err, &se) || se.Code != 400 {
			t.Fatalf("a 400 answer: %v", err)
		}
	}
	hang.Store(true)
	for i := 0; i < 2; i++ {
		if err := get(""); err == nil || !strings.Contains(err.Error(), "no answer within") {
			t.Fatalf("hanging hub: %v", err)
		}
	}
	before := requests.Load()
	start := time.Now()
	if err := get(""); !errors.Is(err, ErrOpen) || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("open host breaker: %v after %s", err, time.Since(start))
	}
	if requests.Load() != before {
		t.Fatal("an open host breaker still sent the request")
	}
	hang.Store(false)
	time.Sleep(350 * time.Millisecond)
	if err := get(""); err != nil {
		t.Fatalf("probe after the back-off: %v", err)
	}
}
