package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// RequireTool returns the path of an outside program a test talks to. When
// it is missing the test is skipped, unless MAILINSPECTOR_REQUIRE_TOOLS=1
// (set by `make test`, which installs them), where it fails.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin/", "/sbin/"} {
		if _, err := os.Stat(dir + name); err == nil {
			return dir + name
		}
	}
	if os.Getenv("MAILINSPECTOR_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s is not installed (make test-setup installs it)", name)
	}
	t.Skipf("%s is not installed (make test-setup installs it)", name)
	return ""
}
