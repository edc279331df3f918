package timeofclick

import (
	"sync"
	"time"
)

// limiter counts requests per key in one-minute windows: a token or a
// client address asking more than its bound in a minute waits for the
// next.
type limiter struct {
	mu     sync.Mutex
	window time.Time
	counts map[string]int
}

// allow counts one request of key and says whether it is within max a
// minute.
func (l *limiter) allow(key string, max int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.counts == nil || now.Sub(l.window) >= time.Minute {
		l.window, l.counts = now, map[string]int{} // a new window forgets the old one: memory stays bounded
	}
	l.counts[key]++
	return l.counts[key] <= max
}
