package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// FuzzImport feeds arbitrary files to every importer: an error or rows,
// never a panic, and a failed import leaves the feed as it was.
func FuzzImport(f *testing.F) {
	for _, name := range []string{"urlhaus.csv", "malwarebazaar.csv", "openphish.txt", "phishtank.csv", "drop_v4.json", "known-good.txt"} {
		b, _ := os.ReadFile(filepath.Join("testdata", name))
		f.Add(b)
	}
	dir := f.TempDir()
	st, err := OpenStore(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(t.TempDir(), "feed")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, kind := range FeedKinds {
			st.Import(context.Background(), kind, file)
		}
		var pendingRows int
		for _, table := range []string{"urls", "hashes", "networks"} {
			var n int
			st.db.QueryRow(`SELECT COUNT(*) FROM `+table+` WHERE feed = ?`, pending).Scan(&n)
			pendingRows += n
		}
		if pendingRows != 0 {
			t.Fatalf("%d rows left half-imported", pendingRows)
		}
	})
}

// FuzzLookup feeds arbitrary bodies to POST /v1/lookup: a 200 with one
// part per service asked, each results or an error, or a 400; never a
// panic, never a 5xx.
func FuzzLookup(f *testing.F) {
	for _, seed := range []string{
		`{"csss":{"sha256":["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]},"web-reputation":{"urls":["http://cdn.badfiles.test/payload.exe"]}}`,
		`{"ml":{"items":[{"features":{"entropy":7.9}}]},"domain-census":{"names":["example.org","192.0.2.1"]}}`,
		`{"web-inspection":{"urls":["javascript:x"]},"x":{}}`, `{}`, `[]`, `{"file-census":{"sha256":null}}`,
	} {
		f.Add([]byte(seed))
	}
	st, err := OpenStore(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	srv, err := NewServer(st, f.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		srv.lookup(rec, httptest.NewRequest("POST", "/v1/lookup", bytes.NewReader(body)))
		switch rec.Code {
		case 200:
			var req, ans map[string]json.RawMessage
			if json.Unmarshal(body, &req) != nil || json.Unmarshal(rec.Body.Bytes(), &ans) != nil || len(ans) != len(req) {
				t.Fatalf("200 for %q: %s", body, rec.Body)
			}
			for name, part := range ans {
				var p struct {
					Results []json.RawMessage `json:"results"`
					Error   *struct{ Code string }
				}
				if json.Unmarshal(part, &p) != nil || (p.Results == nil) == (p.Error == nil) {
					t.Fatalf("part %s of %q: %s", name, body, part)
				}
			}
		case 400:
		default:
			t.Fatalf("%d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}
