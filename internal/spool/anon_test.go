package spool

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// modes are the ways a spool can name new files, each forced in turn. A
// way this system does not offer is skipped (named temp files always work).
var modes = []struct {
	name string
	link linkMode
}{{"named", linkNone}, {"empty-path", linkEmptyPath}, {"proc-fd", linkProcFD}}

func openMode(t *testing.T, link linkMode) (*Spool, string) {
	t.Helper()
	dir := t.TempDir()
	sp, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if link != linkNone {
		f, err := openAnon(filepath.Join(dir, "tmp"))
		if err != nil {
			t.Skipf("no O_TMPFILE here: %v", err)
		}
		err = link.link(f, filepath.Join(dir, "tmp", "probe"))
		f.Close()
		if err != nil {
			t.Skipf("this way of naming a file does not work here: %v", err)
		}
		os.Remove(filepath.Join(dir, "tmp", "probe"))
	}
	sp.link = link
	return sp, dir
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	for _, d := range []string{"tmp", "msg"} {
		ents, err := os.ReadDir(filepath.Join(dir, d))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			names = append(names, d+"/"+e.Name())
		}
	}
	return names
}

func content(t *testing.T, sp *Spool, id string) string {
	t.Helper()
	f, err := sp.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEveryWayOfNamingCommitsReplacesAndAborts(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			sp, dir := openMode(t, m.link)
			if err := sp.Put("m1", strings.NewReader("first")); err != nil {
				t.Fatal(err)
			}
			// A rewrite in place (the analysis strips a part) replaces.
			if err := sp.Put("m1", strings.NewReader("second, longer")); err != nil {
				t.Fatal(err)
			}
			if got := content(t, sp, "m1"); got != "second, longer" {
				t.Fatalf("m1 holds %q after the rewrite", got)
			}
			f, err := sp.Create()
			if err != nil {
				t.Fatal(err)
			}
			if f.anon != (m.link != linkNone) {
				t.Fatalf("file nameless %v with link mode %d", f.anon, m.link)
			}
			f.Write([]byte("never acknowledged"))
			f.Abort()
			if got := entries(t, dir); len(got) != 1 || got[0] != "msg/m1" {
				t.Fatalf("spool holds %q, want only msg/m1", got)
			}
			if err := f.Commit("m2"); err == nil {
				t.Fatal("an aborted file committed")
			}
		})
	}
}

// A nameless file is nowhere in the spool before its Commit: a crash while
// a client sends leaves nothing to clean up.
func TestNewFileHasNoNameUntilCommit(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("nameless files are Linux's")
	}
	sp, dir := openMode(t, linkEmptyPath)
	f, err := sp.Create()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("Subject: x\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, dir); len(got) != 0 {
		t.Fatalf("a message being received already has a name: %q", got)
	}
	if err := f.Commit("m1"); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, dir); len(got) != 1 || got[0] != "msg/m1" {
		t.Fatalf("after Commit the spool holds %q", got)
	}
	if got := content(t, sp, "m1"); got != "Subject: x\r\n\r\nbody\r\n" || f.Size() != int64(len(got)) {
		t.Fatalf("m1 holds %q, size %d", got, f.Size())
	}
}

// The probe runs in tmp/ and leaves nothing there or in msg/, where a
// stray name would look like a message.
func TestProbeLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	sp, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" && sp.link == linkNone {
		t.Log("no way to name a nameless file here: the spool uses named temp files")
	}
	if got := entries(t, dir); len(got) != 0 {
		t.Fatalf("Open left %q", got)
	}
}
