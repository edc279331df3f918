package spool

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestCommitIsDurableAndConcurrentCommitsShareDirSyncs(t *testing.T) {
	dir := t.TempDir()
	sp, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := sp.Put(fmt.Sprintf("m%02d", i), strings.NewReader(strings.Repeat("x", i*100))); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	ids, err := sp.IDs()
	if err != nil || len(ids) != 64 {
		t.Fatalf("ids %d %v", len(ids), err)
	}
	f, err := sp.Open("m10")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if len(b) != 1000 {
		t.Fatalf("m10 has %d bytes", len(b))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "tmp", "*")); len(left) != 0 {
		t.Fatalf("temp files left: %v", left)
	}
}

func TestOpenRemovesUnacknowledgedTempFilesAndIdsCannotEscape(t *testing.T) {
	dir := t.TempDir()
	sp, _ := Open(dir)
	f, _ := sp.Create()
	f.Write([]byte("half a message"))
	// A crash here: the file stays in tmp/ and its client never got 250.
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "tmp", "*")); len(left) != 0 {
		t.Fatalf("temp files survive a restart: %v", left)
	}
	for _, bad := range []string{"../x", "a/b", ".", ""} {
		if p := sp.Path(bad); filepath.Dir(p) != filepath.Join(dir, "msg") || filepath.Base(p) != "invalid" {
			t.Errorf("Path(%q) = %s", bad, p)
		}
	}
	if err := sp.Remove("never-existed"); err != nil {
		t.Fatalf("removing a missing file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "msg")); err != nil {
		t.Fatal(err)
	}
}
