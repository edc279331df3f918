// Package logring keeps the daemon's most recent log lines in memory for
// show logs: an io.Writer beside standard error (which journald keeps).
package logring

import (
	"strings"
	"sync"
)

// Ring holds the last lines written, at most Lines of them and at most
// Bytes in all.
type Ring struct {
	mu      sync.Mutex
	lines   []string
	next    int // where the next line goes once full
	full    bool
	size    int
	partial strings.Builder // a line written in pieces
	max     int
	maxSize int
}

// New keeps the last lines lines, and no more than bytes bytes of them.
func New(lines, bytes int) *Ring {
	return &Ring{lines: make([]string, lines), max: lines, maxSize: bytes}
}

// Write takes log output; whole lines are kept.
func (r *Ring) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := string(p)
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			r.partial.WriteString(s)
			break
		}
		r.partial.WriteString(s[:i])
		r.add(r.partial.String())
		r.partial.Reset()
		s = s[i+1:]
	}
	return len(p), nil
}

func (r *Ring) add(line string) {
	if len(line) > r.maxSize {
		line = line[:r.maxSize]
	}
	if r.full {
		r.size -= len(r.lines[r.next])
	}
	r.lines[r.next] = line
	r.size += len(line)
	r.next = (r.next + 1) % r.max
	if r.next == 0 {
		r.full = true
	}
	// Over the byte budget: drop the oldest (blank them) until under.
	for r.size > r.maxSize {
		oldest := r.next
		if !r.full {
			oldest = 0
		}
		for r.lines[oldest] == "" && oldest != (r.next+r.max-1)%r.max {
			oldest = (oldest + 1) % r.max
		}
		r.size -= len(r.lines[oldest])
		r.lines[oldest] = ""
	}
}

// Last is the newest n lines holding grep (all lines: ""), oldest first.
func (r *Ring) Last(n int, grep string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	count := r.next
	if r.full {
		count = r.max
	}
	for k := 0; k < count && len(out) < n; k++ {
		l := r.lines[(r.next-1-k+r.max)%r.max]
		if l != "" && strings.Contains(l, grep) {
			out = append(out, l)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
