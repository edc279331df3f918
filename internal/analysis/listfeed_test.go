package analysis

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListFeed(t *testing.T) {
	dir := t.TempDir()
	h := strings.Repeat("ab", 32)
	os.WriteFile(filepath.Join(dir, "blocked-hashes.txt"), []byte("# a comment\n\n"+strings.ToUpper(h)+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "blocked-urls.txt"), []byte("http://bad.example/dl/\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "blocked-domains.txt"), []byte(".evil.example\n"), 0o644)
	p, err := ParseListFeed(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	var f ListFeed
	if f.hash(h) || f.url("http://bad.example/dl/x") != "" || f.Version() != 0 {
		t.Fatal("an empty feed matched")
	}
	f.Use(p)
	for _, c := range []struct {
		got, want any
	}{
		{f.hash(h), true}, {f.hash(strings.ToUpper(h)), true}, {f.hash(strings.Repeat("cd", 32)), false},
		{f.url("http://bad.example/dl"), "http://bad.example/dl"}, {f.url("http://bad.example/dl/x.exe?a=1"), "http://bad.example/dl"},
		{f.url("http://bad.example/dlx"), ""}, {f.url("http://bad.example/"), ""},
		{f.domain("evil.example"), "evil.example"}, {f.domain("a.b.EVIL.example"), "evil.example"}, {f.domain("notevil.example"), ""},
		{f.Version(), uint64(3)},
	} {
		if c.got != c.want {
			t.Errorf("got %v, want %v", c.got, c.want)
		}
	}
	os.WriteFile(filepath.Join(dir, "blocked-domains.txt"), []byte("ok.example\nnot a domain\n"), 0o644)
	if _, err := ParseListFeed(dir, 4); err == nil || !strings.Contains(err.Error(), "blocked-domains.txt line 2") {
		t.Fatalf("a bad line: %v", err)
	}
}
