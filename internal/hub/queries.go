package hub

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"mailinspector/internal/hubapi"
)

// The store's queries the handlers ask: feed rows of a URL or an address,
// the census of an object, Smart Feedback kept and counted, what the feeds
// say of a file.

// lookupURL finds feed rows for the exact URL, then its host, then its
// registered domain, and the network of an IP host.
func (s *Store) lookupURL(ctx context.Context, u string) ([]hubapi.URLMatch, error) {
	ix, err := s.idx(ctx)
	if err != nil {
		return nil, err
	}
	host, domain := HostAndDomain(u)
	for _, ms := range [][]hubapi.URLMatch{ix.byURL[u], ix.byHost[host], ix.byDomain[domain]} {
		if len(ms) > 0 {
			return ms[:min(len(ms), 20)], nil
		}
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if n := ix.network(a); n != nil {
			return []hubapi.URLMatch{{Feed: "spamhaus-drop-json", Match: "network " + n.cidr, Threat: "hijacked network", Ref: n.ref}}, nil
		}
	}
	return nil, nil
}

func (s *Store) lookupIP(ctx context.Context, a netip.Addr) (*hubapi.URLMatch, error) {
	ix, err := s.idx(ctx)
	if err != nil {
		return nil, err
	}
	if n := ix.network(a); n != nil {
		return &hubapi.URLMatch{Feed: "spamhaus-drop-json", Match: "network " + n.cidr, Threat: "hijacked network", Ref: n.ref}, nil
	}
	return nil, nil
}

// census counts the appliances and sightings of an object in Smart
// Feedback, and when it was first seen.
func (s *Store) census(ctx context.Context, kind, object string) (appliances, sightings int, first int64, err error) {
	err = s.censusQ.QueryRowContext(ctx, kind, object).Scan(&appliances, &sightings, &first)
	return
}

// Sightings is how many Smart Feedback records the hub holds.
func (s *Store) Sightings(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sightings`).Scan(&n)
	return n, err
}

// AddSightings keeps an appliance's Smart Feedback records, all or none. A
// record without a time, or dated more than an hour ahead, counts as now.
func (s *Store) AddSightings(ctx context.Context, appliance string, recs []hubapi.FeedbackRecord) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	for _, rec := range recs {
		at := rec.At
		if at.IsZero() || at.After(time.Now().Add(time.Hour)) {
			at = time.Now()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sightings (appliance, kind, object, verdict, at) VALUES (?,?,?,?,?)`,
			appliance, rec.Kind, strings.ToLower(rec.Object), rec.Verdict, at.Unix()); err != nil {
			return 0, err
		}
	}
	return len(recs), tx.Commit()
}

// hashFacts is what the feeds say of a file: "feed: name signature" per row.
func (s *Store) hashFacts(ctx context.Context, sha string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT feed, name, signature FROM hashes WHERE sha256 = ?`, sha)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var facts []string
	for rows.Next() {
		var feed, name, sig string
		if err := rows.Scan(&feed, &name, &sig); err != nil {
			return nil, err
		}
		facts = append(facts, fmt.Sprintf("%s: %s %s", feed, name, sig))
	}
	return facts, rows.Err()
}

// censusCount is what the census knows of an object.
type censusCount struct {
	appliances, sightings int
	first, last           int64
	verdicts              string // "high 3, none 1"
}

// censusDetail is the census of an object with its last sighting and the
// verdicts appliances gave it.
func (s *Store) censusDetail(ctx context.Context, kind, object string) (censusCount, error) {
	var c censusCount
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT appliance), COUNT(*), COALESCE(MIN(at), 0), COALESCE(MAX(at), 0)
		FROM sightings WHERE kind = ? AND object = ?`, kind, object).Scan(&c.appliances, &c.sightings, &c.first, &c.last)
	if err != nil || c.sightings == 0 {
		return c, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT verdict, COUNT(*) FROM sightings WHERE kind = ? AND object = ? AND verdict != ''
		GROUP BY verdict ORDER BY COUNT(*) DESC`, kind, object)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var v string
		var n int
		if err := rows.Scan(&v, &n); err != nil {
			return c, err
		}
		parts = append(parts, fmt.Sprintf("%s %d", v, n))
	}
	c.verdicts = strings.Join(parts, ", ")
	return c, rows.Err()
}

// verifyPage checks a page link against the keys whose secret starts
// with keyID.
func (s *Store) verifyPage(ctx context.Context, keyID, kind, indicator string, exp int64, sig string) bool {
	rows, err := s.db.QueryContext(ctx, `SELECT key_hash FROM keys WHERE substr(key_hash, 1, ?) = ?`, len(keyID), keyID)
	if err != nil {
		return false
	}
	defer rows.Close()
	for rows.Next() {
		var h string
		if rows.Scan(&h) == nil && hubapi.VerifyPage(h, kind, indicator, exp, sig) {
			return true
		}
	}
	return false
}
