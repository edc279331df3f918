package web

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestVendoredAssets: each library file the console embeds is the one
// scripts/web-assets.sh copied from the npm registry at the version
// package-lock.json pins: VENDOR.sums names the version the lock has and
// the file's SHA-256, and a script says its version.
func TestVendoredAssets(t *testing.T) {
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	data, err := os.ReadFile("package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		t.Fatal(err)
	}
	sums, err := os.ReadFile("VENDOR.sums")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			t.Fatalf("VENDOR.sums line %q", line)
		}
		pkg, version, sum, file := f[0], f[1], f[2], f[3]
		if got := lock.Packages["node_modules/"+pkg].Version; got != version {
			t.Errorf("%s: VENDOR.sums has %s, package-lock.json %s: run make web-assets", pkg, version, got)
		}
		b, err := staticFS.ReadFile(file)
		if err != nil {
			t.Fatalf("%s is not embedded: %v", file, err)
		}
		h := sha256.Sum256(b)
		if hex.EncodeToString(h[:]) != sum {
			t.Errorf("%s changed since make web-assets copied it", file)
		}
		// A script says its version (htmx: version:"2.0.11"; uPlot: its
		// banner, (v1.6.32)); a stylesheet need not.
		if strings.HasSuffix(file, ".js") && !strings.Contains(string(b), `version:"`+version+`"`) && !strings.Contains(string(b), "(v"+version+")") {
			t.Errorf("%s does not say it is version %s", file, version)
		}
		n++
	}
	if n == 0 {
		t.Fatal("VENDOR.sums lists nothing")
	}
}
