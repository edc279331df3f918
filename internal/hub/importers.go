package hub

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"mailinspector/internal/message"
)

// Feed kinds `hub import` understands, each in its publisher's format.
var FeedKinds = []string{"urlhaus-csv", "malwarebazaar-csv", "openphish-txt", "phishtank-csv", "spamhaus-drop-json", "known-good-sha256"}

// maxFeedLine bounds one line of a feed file.
const maxFeedLine = 1 << 20

// Import replaces the rows of one feed with those of file, atomically: a
// bad file changes nothing and says which line is wrong.
func (s *Store) Import(ctx context.Context, kind, file string) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var table string
	var n int
	switch kind {
	case "urlhaus-csv":
		table = "urls"
		n, err = importURLhaus(tx, f)
	case "openphish-txt":
		table = "urls"
		n, err = importOpenPhish(tx, f)
	case "phishtank-csv":
		table = "urls"
		n, err = importPhishTank(tx, f)
	case "malwarebazaar-csv":
		table = "hashes"
		n, err = importMalwareBazaar(tx, f)
	case "known-good-sha256":
		table = "hashes"
		n, err = importKnownGood(tx, f)
	case "spamhaus-drop-json":
		table = "networks"
		n, err = importDrop(tx, f)
	default:
		return 0, fmt.Errorf("unknown feed kind %q (want one of %s)", kind, strings.Join(FeedKinds, ", "))
	}
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", kind, file, err)
	}
	// Rows were written under a temporary feed name; swap them in.
	if _, err := tx.Exec(`DELETE FROM `+table+` WHERE feed = ?`, kind); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(`UPDATE `+table+` SET feed = ? WHERE feed = ?`, kind, pending); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(`INSERT INTO feeds (kind, rows, imported_at, source) VALUES (?,?,?,?)
		ON CONFLICT(kind) DO UPDATE SET rows = excluded.rows, imported_at = excluded.imported_at, source = excluded.source`,
		kind, n, time.Now().Unix(), filepath.Base(file)); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	// The next lookup rebuilds the index: an import in this process
	// answers at once (another process's is seen within indexCheck).
	s.index.cur.Store(nil)
	return n, nil
}

// pending is the feed name rows carry until the import commits.
const pending = "importing"

// lines calls fn for each line that is not empty or a # comment, with its
// number.
func lines(r io.Reader, fn func(no int, line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxFeedLine)
	no := 0
	for sc.Scan() {
		no++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := fn(no, line); err != nil {
			return fmt.Errorf("line %d: %w", no, err)
		}
	}
	return sc.Err()
}

// csvRecords reads a CSV feed, skipping # comment lines, and calls fn for
// each record.
func csvRecords(r io.Reader, fn func(no int, rec []string) error) error {
	var body strings.Builder
	if err := lines(r, func(no int, line string) error {
		body.WriteString(line)
		body.WriteByte('\n')
		return nil
	}); err != nil {
		return err
	}
	cr := csv.NewReader(strings.NewReader(body.String()))
	cr.TrimLeadingSpace = true // MalwareBazaar writes `", "` between fields
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	for no := 1; ; no++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(no, rec); err != nil {
			return fmt.Errorf("record %d: %w", no, err)
		}
	}
}

func insertURL(tx *sql.Tx, raw, threat, tags string, firstSeen int64, ref string) (bool, error) {
	u, ok := message.Normalize(raw, nil)
	if !ok {
		return false, nil // not an http/https/ftp URL: nothing to match mail links against
	}
	host, domain := HostAndDomain(u)
	_, err := tx.Exec(`INSERT INTO urls (feed, url, host, domain, threat, tags, first_seen, ref) VALUES (?,?,?,?,?,?,?,?)`,
		pending, u, host, domain, threat, tags, firstSeen, ref)
	return err == nil, err
}

// HostAndDomain gives a normalised URL's host and registered domain (the
// public suffix plus one label; the host itself for IP addresses).
func HostAndDomain(u string) (host, domain string) {
	pu, err := url.Parse(u)
	if err != nil {
		return "", ""
	}
	host = pu.Hostname()
	return host, RegisteredDomain(host)
}

// RegisteredDomain is the public suffix plus one label of host.
func RegisteredDomain(host string) string {
	if _, err := netip.ParseAddr(host); err == nil {
		return host
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return host
	}
	return d
}

func parseTime(s string) int64 {
	for _, layout := range []string{"2006-01-02 15:04:05", time.RFC3339, "2006-01-02T15:04:05-07:00"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t.Unix()
		}
	}
	return 0
}

// importURLhaus reads URLhaus's csv.txt: id,dateadded,url,url_status,
// last_online,threat,tags,urlhaus_link,reporter.
func importURLhaus(tx *sql.Tx, r io.Reader) (int, error) {
	n := 0
	err := csvRecords(r, func(no int, rec []string) error {
		if len(rec) < 8 {
			return fmt.Errorf("want 9 fields (id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter), got %d", len(rec))
		}
		if rec[0] == "id" {
			return nil // a header line without its #
		}
		ok, err := insertURL(tx, rec[2], orDefault(rec[5], "malware_download"), rec[6], parseTime(rec[1]), rec[7])
		if ok {
			n++
		}
		return err
	})
	return n, err
}

// importOpenPhish reads OpenPhish's feed.txt: one URL per line.
func importOpenPhish(tx *sql.Tx, r io.Reader) (int, error) {
	n := 0
	err := lines(r, func(no int, line string) error {
		ok, err := insertURL(tx, line, "phishing", "", 0, "")
		if ok {
			n++
		}
		return err
	})
	return n, err
}

// importPhishTank reads PhishTank's online-valid.csv: phish_id,url,
// phish_detail_url,submission_time,verified,verification_time,online,target.
func importPhishTank(tx *sql.Tx, r io.Reader) (int, error) {
	n := 0
	err := csvRecords(r, func(no int, rec []string) error {
		if len(rec) < 8 {
			return fmt.Errorf("want 8 fields (phish_id,url,phish_detail_url,submission_time,verified,verification_time,online,target), got %d", len(rec))
		}
		if rec[0] == "phish_id" || rec[4] != "yes" {
			return nil // the header, or not verified
		}
		ok, err := insertURL(tx, rec[1], "phishing", rec[7], parseTime(rec[3]), rec[2])
		if ok {
			n++
		}
		return err
	})
	return n, err
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// importMalwareBazaar reads MalwareBazaar's full.csv / recent.csv:
// first_seen_utc,sha256_hash,md5_hash,sha1_hash,reporter,file_name,
// file_type_guess,mime_type,signature,clamav,vtpercent,imphash,ssdeep,tlsh.
func importMalwareBazaar(tx *sql.Tx, r io.Reader) (int, error) {
	n := 0
	err := csvRecords(r, func(no int, rec []string) error {
		if len(rec) < 9 {
			return fmt.Errorf("want 14 fields (first_seen_utc,sha256_hash,…,signature,…), got %d", len(rec))
		}
		if rec[0] == "first_seen_utc" {
			return nil
		}
		h := strings.ToLower(rec[1])
		if !sha256Hex.MatchString(h) {
			return fmt.Errorf("sha256_hash %q is not 64 hex digits", rec[1])
		}
		sig := rec[8]
		if sig == "n/a" {
			sig = ""
		}
		if _, err := tx.Exec(`INSERT INTO hashes (feed, sha256, name, file_type, signature, first_seen) VALUES (?,?,?,?,?,?)`,
			pending, h, rec[5], rec[6], sig, parseTime(rec[0])); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// importKnownGood reads "SHA256 [name]" lines.
func importKnownGood(tx *sql.Tx, r io.Reader) (int, error) {
	n := 0
	err := lines(r, func(no int, line string) error {
		h, name, _ := strings.Cut(line, " ")
		h = strings.ToLower(h)
		if !sha256Hex.MatchString(h) {
			return fmt.Errorf("%q is not a SHA-256 (64 hex digits)", h)
		}
		if _, err := tx.Exec(`INSERT INTO hashes (feed, sha256, name) VALUES (?,?,?)`, pending, h, strings.TrimSpace(name)); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// importDrop reads Spamhaus DROP in its JSON-lines form (drop_v4.json,
// drop_v6.json): {"cidr":"…","sblid":"…","rir":"…"} per line and a last
// {"type":"metadata",…} line.
func importDrop(tx *sql.Tx, r io.Reader) (int, error) {
	n := 0
	err := lines(r, func(no int, line string) error {
		var rec struct {
			CIDR  string `json:"cidr"`
			SBLID string `json:"sblid"`
			Type  string `json:"type"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			return fmt.Errorf("not a JSON object: %w", err)
		}
		if rec.Type == "metadata" {
			return nil
		}
		p, err := netip.ParsePrefix(rec.CIDR)
		if err != nil {
			return fmt.Errorf("cidr: %w", err)
		}
		first, last := prefixRange(p.Masked())
		if _, err := tx.Exec(`INSERT INTO networks (feed, cidr, first, last, ref) VALUES (?,?,?,?,?)`, pending, p.Masked().String(), first, last, rec.SBLID); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// addrKey is an address as 32 hex digits, IPv4 mapped into IPv6, so that
// text order is address order.
func addrKey(a netip.Addr) string {
	b := a.As16()
	return hex.EncodeToString(b[:])
}

func prefixRange(p netip.Prefix) (string, string) {
	first := p.Addr().As16()
	last := first
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	for i := bits; i < 128; i++ {
		last[i/8] |= 1 << (7 - uint(i%8))
	}
	return hex.EncodeToString(first[:]), hex.EncodeToString(last[:])
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
