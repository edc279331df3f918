package hub

import (
	"context"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"mailinspector/internal/hubapi"
)

// index holds the feeds in memory: a lookup is a map access instead of
// three or four SQL statements per URL (BenchmarkBatchReputation: the SQL
// was four fifths of the hub's time). It is rebuilt when an import changed
// the feeds, which the hub notices within indexCheck.
type index struct {
	version  string
	byURL    map[string][]hubapi.URLMatch
	byHost   map[string][]hubapi.URLMatch
	byDomain map[string][]hubapi.URLMatch
	nets     []netRange // sorted by first
	malware  map[string]hashRow
	good     map[string]string
}

type netRange struct {
	first, last string // addrKey form
	cidr, ref   string
}

type hashRow struct{ name, signature string }

// indexCheck is how often a request may look whether the feeds changed.
const indexCheck = 5 * time.Second

type indexCache struct {
	mu      sync.Mutex
	cur     atomic.Pointer[index]
	checked atomic.Int64 // unix nanoseconds
}

// feedVersion changes with every import.
func (s *Store) feedVersion(ctx context.Context) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(GROUP_CONCAT(kind || ':' || imported_at || ':' || rows, ','), '') FROM feeds`).Scan(&v)
	return v, err
}

// idx returns the current index, rebuilding it if the feeds changed.
func (s *Store) idx(ctx context.Context) (*index, error) {
	cur := s.index.cur.Load()
	now := time.Now().UnixNano()
	if cur != nil && now-s.index.checked.Load() < int64(indexCheck) {
		return cur, nil
	}
	s.index.mu.Lock()
	defer s.index.mu.Unlock()
	if cur = s.index.cur.Load(); cur != nil && now-s.index.checked.Load() < int64(indexCheck) {
		return cur, nil
	}
	v, err := s.feedVersion(ctx)
	if err != nil {
		return nil, err
	}
	if cur != nil && cur.version == v {
		s.index.checked.Store(now)
		return cur, nil
	}
	ix, err := s.buildIndex(ctx, v)
	if err != nil {
		return nil, err
	}
	s.index.cur.Store(ix)
	s.index.checked.Store(now)
	return ix, nil
}

func (s *Store) buildIndex(ctx context.Context, version string) (*index, error) {
	ix := &index{version: version, byURL: map[string][]hubapi.URLMatch{}, byHost: map[string][]hubapi.URLMatch{}, byDomain: map[string][]hubapi.URLMatch{},
		malware: map[string]hashRow{}, good: map[string]string{}}
	rows, err := s.db.QueryContext(ctx, `SELECT feed, url, host, domain, threat, tags, first_seen, ref FROM urls WHERE feed != ?`, pending)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var m hubapi.URLMatch
		var u, host, domain string
		if err := rows.Scan(&m.Feed, &u, &host, &domain, &m.Threat, &m.Tags, &m.FirstSeen, &m.Ref); err != nil {
			rows.Close()
			return nil, err
		}
		m.Match = "url"
		ix.byURL[u] = append(ix.byURL[u], m)
		m.Match = "host"
		ix.byHost[host] = append(ix.byHost[host], m)
		m.Match = "domain"
		ix.byDomain[domain] = append(ix.byDomain[domain], m)
	}
	rows.Close()
	if rows, err = s.db.QueryContext(ctx, `SELECT feed, sha256, name, signature FROM hashes WHERE feed != ?`, pending); err != nil {
		return nil, err
	}
	for rows.Next() {
		var feed, h string
		var r hashRow
		if err := rows.Scan(&feed, &h, &r.name, &r.signature); err != nil {
			rows.Close()
			return nil, err
		}
		switch feed {
		case "malwarebazaar-csv":
			ix.malware[h] = r
		case "known-good-sha256":
			ix.good[h] = r.name
		}
	}
	rows.Close()
	if rows, err = s.db.QueryContext(ctx, `SELECT first, last, cidr, ref FROM networks WHERE feed != ? ORDER BY first`, pending); err != nil {
		return nil, err
	}
	for rows.Next() {
		var n netRange
		if err := rows.Scan(&n.first, &n.last, &n.cidr, &n.ref); err != nil {
			rows.Close()
			return nil, err
		}
		ix.nets = append(ix.nets, n)
	}
	rows.Close()
	return ix, rows.Err()
}

// network finds the DROP network holding a (networks do not overlap in the
// feed; the last one starting at or before a is the candidate).
func (ix *index) network(a netip.Addr) *netRange {
	k := addrKey(a)
	i := sort.Search(len(ix.nets), func(i int) bool { return ix.nets[i].first > k })
	for j := i - 1; j >= 0 && j >= i-8; j-- {
		if ix.nets[j].first <= k && k <= ix.nets[j].last {
			return &ix.nets[j]
		}
	}
	return nil
}
