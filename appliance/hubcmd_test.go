package appliance

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailinspector/internal/services"
)

// TestHubCommand drives `mailinspector hub` as an operator would: create a
// key, import a feed (and a wrong one), serve, and answer an appliance's
// request; an unknown key gets 401.
func TestHubCommand(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	run := func(args ...string) (string, int) {
		out, err := exec.Command(bin, append([]string{"hub"}, args...)...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return string(out), code
	}
	keyOut, code := run("keys", "add", "--data-dir", dir, "appliance-1")
	key := strings.TrimSpace(keyOut)
	if code != 0 || !strings.HasPrefix(key, "mih_") {
		t.Fatalf("keys add: %d %q", code, keyOut)
	}
	if out, code := run("keys", "list", "--data-dir", dir); code != 0 || strings.TrimSpace(out) != "appliance-1" {
		t.Fatalf("keys list: %d %q", code, out)
	}
	feed := filepath.Join("..", "internal", "hub", "testdata", "urlhaus.csv")
	if out, code := run("import", "--data-dir", dir, "urlhaus-csv", feed); code != 0 || !strings.Contains(out, "urlhaus-csv: 3 rows") {
		t.Fatalf("import: %d %q", code, out)
	}
	if out, code := run("import", "--data-dir", dir, "known-good-sha256", feed); code != 1 || !strings.Contains(out, "line 7") {
		t.Fatalf("import of a wrong file: %d %q", code, out)
	}
	if out, code := run("import", "--data-dir", dir, "nonsense", feed); code != 1 || !strings.Contains(out, "unknown feed kind") {
		t.Fatalf("import of an unknown kind: %d %q", code, out)
	}
	addr := freePort(t)
	cmd := exec.Command(bin, "hub", "--data-dir", dir, "--listen", addr)
	must(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	h := services.NewHub("http://"+addr, key)
	var st struct {
		API   string `json:"api"`
		Feeds []struct {
			Kind string `json:"kind"`
			Rows int    `json:"rows"`
		} `json:"feeds"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := h.Get(context.Background(), "/v1/status", nil, &st)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hub status: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.API != "v1" || len(st.Feeds) != 1 || st.Feeds[0].Rows != 3 {
		t.Fatalf("status: %+v", st)
	}
	var out map[string]any
	err := services.NewHub("http://"+addr, "mih_unknown").Get(context.Background(), "/v1/status", nil, &out)
	if se, ok := err.(*services.StatusError); !ok || se.Code != 401 {
		t.Fatalf("unknown key: %v", err)
	}
}
