package testutil

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Clamd is a private clamd with the project's test signatures
// (testdata/clamav), listening on a unix socket in a temporary directory.
type Clamd struct {
	Socket string // the path; engine.clamd is "unix:" + Socket
	DB     string // its DatabaseDirectory (engine.clamd_database)
	cmd    *exec.Cmd
	dir    string
	bin    string
}

// Spec is the engine.clamd setting for this clamd.
func (c *Clamd) Spec() string { return "unix:" + c.Socket }

// Stop ends clamd (a test of "clamd is down").
func (c *Clamd) Stop() {
	if c.cmd != nil && c.cmd.Process != nil {
		c.cmd.Process.Kill()
		c.cmd.Wait()
		c.cmd = nil
	}
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// StartClamd starts a clamd for the test and stops it when the test ends.
func StartClamd(t testing.TB) *Clamd {
	t.Helper()
	bin := RequireTool(t, "clamd")
	dir, err := os.MkdirTemp("", "mailinspector-clamd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o755); err != nil {
		t.Fatal(err)
	}
	sigs, _ := filepath.Glob(filepath.Join(repoRoot(), "testdata", "clamav", "mailinspector-test.*"))
	if len(sigs) == 0 {
		t.Fatal("no test signatures in testdata/clamav")
	}
	for _, s := range sigs {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(db, filepath.Base(s)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := &Clamd{Socket: filepath.Join(dir, "clamd.sock"), DB: db, dir: dir, bin: bin}
	conf := fmt.Sprintf(`LocalSocket %s
LocalSocketMode 600
DatabaseDirectory %s
TemporaryDirectory %s
LogFile %s
PidFile %s
Foreground yes
ScanMail yes
ScanArchive yes
AlertEncrypted yes
Bytecode no
MaxThreads 4
StreamMaxLength 60M
`, c.Socket, db, dir, filepath.Join(dir, "clamd.log"), filepath.Join(dir, "clamd.pid"))
	if os.Geteuid() == 0 {
		conf += "User root\n"
	}
	confPath := filepath.Join(dir, "clamd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	c.Start(t)
	return c
}

// Start starts clamd (again) on the same socket and waits until it answers.
func (c *Clamd) Start(t testing.TB) {
	t.Helper()
	c.cmd = exec.Command(c.bin, "-c", filepath.Join(c.dir, "clamd.conf"))
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("clamd: %v", err)
	}
	dir := c.dir
	deadline := time.Now().Add(60 * time.Second)
	for {
		if conn, err := net.Dial("unix", c.Socket); err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "clamd.log"))
			t.Fatalf("clamd did not open %s:\n%s", c.Socket, strings.TrimSpace(string(log)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
