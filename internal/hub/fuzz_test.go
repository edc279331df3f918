package hub

import (
	"context"
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
