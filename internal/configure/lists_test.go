package configure

import (
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestListCSV: a list comes in as DDEI's CSV (header, comments, quoted
// notes with commas, source and notes optional) and goes out in the same
// form; a file with any bad line (a type the list does not take, an entry
// the setting refuses, a short line) changes nothing and names each line;
// replace puts the file's entries instead of the list's.
func TestListCSV(t *testing.T) {
	dir := t.TempDir()
	c := &Configurator{DataDir: dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, err := c.Edit("lists.blocked_hashes", strings.Repeat("a", 64), true); err != nil {
		t.Fatal(err)
	}
	sha1 := strings.Repeat("b", 40)
	good := "type,object,source,notes\n# from the SOC\nsha256," + strings.Repeat("c", 64) + ",soc,\"ticket 12, urgent\"\nsha1," + sha1 + "\n\nSHA256," + strings.Repeat("A", 64) + ",dup\n"
	if _, err := c.ImportList("lists.blocked_hashes", good, false); err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("a", 64) + "," + strings.Repeat("c", 64) + "," + sha1
	if got := value(t, dir, "lists.blocked_hashes"); got != want {
		t.Fatalf("after the import: %q, want %q", got, want)
	}
	out, err := c.ExportList("lists.blocked_hashes")
	if err != nil || out != "type,object,source,notes\nsha256,"+strings.Repeat("a", 64)+",mailinspector,\nsha256,"+strings.Repeat("c", 64)+",mailinspector,\nsha1,"+sha1+",mailinspector,\n" {
		t.Fatalf("export: %v\n%s", err, out)
	}
	bad := "url,http://x.test/\nsha256,nothex\nsha1\nsha256," + strings.Repeat("d", 64) + "\n"
	_, err = c.ImportList("lists.blocked_hashes", bad, false)
	for _, says := range []string{"nothing imported", `line 1: type "url" does not go in lists.blocked_hashes`, "line 2: nothex", "line 3: want <type>,<object>"} {
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("a bad file: %v, want %q", err, says)
		}
	}
	if got := value(t, dir, "lists.blocked_hashes"); got != want {
		t.Fatalf("a bad file changed the list: %q", got)
	}
	if _, err := c.ImportList("lists.blocked_hashes", out, false); err == nil || !strings.Contains(err.Error(), "in lists.blocked_hashes already") {
		t.Errorf("importing what is there: %v", err)
	}
	if _, err := c.ImportList("senders.blocked", "sender,spam@bad.example\ndomain,.evil.example\n", true); err != nil {
		t.Fatal(err)
	}
	if got := value(t, dir, "senders.blocked"); got != "spam@bad.example,.evil.example" {
		t.Fatalf("senders after replace: %q", got)
	}
	if out, _ := c.ExportList("senders.blocked"); !strings.Contains(out, "sender,spam@bad.example,") || !strings.Contains(out, "domain,.evil.example,") {
		t.Errorf("senders export:\n%s", out)
	}
	if _, err := c.ImportList("lists.blocked_urls", "url,http://x.test/\nurl,\"http://x.test/b\nurl,http://y.test/\n", false); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("an unclosed quote: %v", err)
	}
	if _, err := c.ImportList("lists.blocked_urls", "url,\"http://x.test/a,b\"\n", false); err == nil {
		t.Error("an entry with a comma went into a comma-separated list")
	}
}
