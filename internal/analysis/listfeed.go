package analysis

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// ListFeed is the blocked hashes, URLs and domains of the lists update
// bundle (internal/updates, kind lists) in use, beside the administrator's
// own lists: one pointer swapped when a new version goes live, looked up
// by map (a feed holds far more entries than a person types).
type ListFeed struct{ p atomic.Pointer[ParsedLists] }

// ParsedLists is a lists bundle read and checked, ready for Use.
type ParsedLists struct {
	version               uint64
	hashes, urls, domains map[string]bool
}

// ListFeedFiles are the files a lists bundle may hold: one entry a line,
// # comments and blank lines ignored.
var ListFeedFiles = []string{"blocked-hashes.txt", "blocked-urls.txt", "blocked-domains.txt"}

// ParseListFeed reads a lists bundle's folder; a line that is not an
// entry of its file's kind fails it, naming file and line.
func ParseListFeed(dir string, version uint64) (*ParsedLists, error) {
	f := &ParsedLists{version: version, hashes: map[string]bool{}, urls: map[string]bool{}, domains: map[string]bool{}}
	for _, name := range ListFeedFiles {
		r, err := os.Open(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 64<<10)
		for line := 1; sc.Scan(); line++ {
			e := strings.TrimSpace(sc.Text())
			if e == "" || strings.HasPrefix(e, "#") {
				continue
			}
			if err := f.add(name, e); err != nil {
				r.Close()
				return nil, fmt.Errorf("%s line %d: %w", name, line, err)
			}
		}
		err = sc.Err()
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return f, nil
}

func (f *ParsedLists) add(file, e string) error {
	switch file {
	case "blocked-hashes.txt":
		b, err := hex.DecodeString(e)
		if err != nil || (len(b) != 32 && len(b) != 20 && len(b) != 16) {
			return fmt.Errorf("%q is not a SHA-256, SHA-1 or MD5 in hex", e)
		}
		f.hashes[strings.ToLower(e)] = true
	case "blocked-urls.txt":
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ftp") || u.Host == "" {
			return fmt.Errorf("%q is not an http, https or ftp URL", e)
		}
		f.urls[strings.TrimSuffix(e, "/")] = true
	case "blocked-domains.txt":
		d := strings.ToLower(strings.TrimPrefix(e, "."))
		if !strings.Contains(d, ".") || strings.ContainsAny(d, " /:@*") {
			return fmt.Errorf("%q is not a domain", e)
		}
		f.domains[d] = true
	}
	return nil
}

// Use makes a parsed feed the one in use (nil: none).
func (l *ListFeed) Use(f *ParsedLists) { l.p.Store(f) }

// Version is the version in use, 0 when none.
func (l *ListFeed) Version() uint64 {
	if f := l.feed(); f != nil {
		return f.version
	}
	return 0
}

// Counts are the distinct entries in use: hashes, URLs, domains.
func (l *ListFeed) Counts() (int, int, int) {
	if f := l.feed(); f != nil {
		return len(f.hashes), len(f.urls), len(f.domains)
	}
	return 0, 0, 0
}

func (l *ListFeed) feed() *ParsedLists {
	if l == nil {
		return nil
	}
	return l.p.Load()
}

func (l *ListFeed) hash(h string) bool {
	f := l.feed()
	return f != nil && h != "" && f.hashes[strings.ToLower(h)]
}

// url is the listed URL u is, or lies under (the same scheme and host, a
// path below), "" for none.
func (l *ListFeed) url(u string) string {
	f := l.feed()
	if f == nil || len(f.urls) == 0 {
		return ""
	}
	if q := strings.IndexAny(u, "?#"); q >= 0 {
		if f.urls[u[:q]] {
			return u[:q]
		}
		u = u[:q]
	}
	for p := strings.TrimSuffix(u, "/"); strings.Count(p, "/") >= 2; p = p[:strings.LastIndex(p, "/")] {
		if f.urls[p] {
			return p
		}
	}
	return ""
}

// domain is the listed domain host is, or lies under, "" for none.
func (l *ListFeed) domain(host string) string {
	f := l.feed()
	if f == nil || len(f.domains) == 0 {
		return ""
	}
	for d := strings.ToLower(host); d != ""; {
		if f.domains[d] {
			return d
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			break
		}
		d = d[i+1:]
	}
	return ""
}
