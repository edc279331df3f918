package timeofclick

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKeys: a token is valid under the key history it was made with, and
// stays valid after a rotation and a restart; a changed one, one of
// another appliance's keys and one of the wrong form are not; a rotation
// drops the keys whose links have all expired.
func TestKeys(t *testing.T) {
	dir := t.TempDir()
	ks, err := OpenKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok := ks.NewToken()
	if !ks.Valid(tok) || len(tok) != 32 {
		t.Fatalf("a new token %q is not valid", tok)
	}
	other, err := OpenKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	changed := "A" + tok[1:]
	if tok[0] == 'A' {
		changed = "B" + tok[1:]
	}
	for _, bad := range []string{changed, other.NewToken(), tok[:31], tok + "A", strings.Repeat("A", 32), ""} {
		if ks.Valid(bad) {
			t.Errorf("%q is taken", bad)
		}
	}
	if err := ks.Rotate(time.Hour); err != nil {
		t.Fatal(err)
	}
	again, err := OpenKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Count() != 2 || !again.Valid(tok) || !again.Valid(ks.NewToken()) {
		t.Fatalf("after a rotation and a restart: %d keys, the old token valid %v", again.Count(), again.Valid(tok))
	}
	// The key before the newest stopped signing two hours ago: with a
	// lifetime of an hour its links are gone, and it goes.
	data, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	old := strings.Fields(lines[0])
	lines[0] = strings.Replace(lines[0], old[0], strconv.FormatInt(time.Now().Add(-2*time.Hour).Unix(), 10), 1)
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ks, err = OpenKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Rotate(time.Hour); err != nil {
		t.Fatal(err)
	}
	if ks.Count() != 2 {
		t.Fatalf("%d keys after a rotation that should drop the oldest", ks.Count())
	}
	if os.WriteFile(filepath.Join(dir, KeyFile), []byte("12 nothex\n"), 0o600) == nil {
		if _, err := OpenKeys(dir); err == nil {
			t.Error("a broken key file was taken")
		}
	}
}
