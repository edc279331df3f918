package appliance

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"mailinspector/internal/testutil"
)

const unitFile = "../rootfs/usr/lib/systemd/system/mailinspector.service"

// TestUnitHardening rates the shipped unit with systemd's own tool, offline
// (no running systemd needed): the issue asks for 2.0 or lower.
func TestUnitHardening(t *testing.T) {
	analyze := testutil.RequireTool(t, "systemd-analyze")
	unit, err := filepath.Abs(unitFile)
	must(t, err)
	out, _ := exec.Command(analyze, "security", "--offline=true", "--no-pager", unit).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for mailinspector\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze gave no exposure level:\n%s", out)
	}
	level, err := strconv.ParseFloat(string(m[1]), 64)
	must(t, err)
	if level > 2.0 {
		t.Fatalf("exposure level %.1f, want 2.0 or lower:\n%s", level, out)
	}
	t.Logf("systemd-analyze security: exposure level %.1f", level)
}

// TestUnitMatchesTheDaemon: what the unit promises systemd is what the
// daemon does.
func TestUnitMatchesTheDaemon(t *testing.T) {
	b, err := os.ReadFile(unitFile)
	must(t, err)
	unit := string(b)
	for _, want := range []string{
		"Type=notify",                        // READY=1 only once SMTP and the control socket listen
		"WatchdogSec=",                       // WATCHDOG=1 from the progress-checking loop
		"ExecReload=/bin/kill -HUP $MAINPID", // RELOADING=1 / READY=1 around the reload
		"RestartPreventExitStatus=78",        // exitBadSettings: no restart loop on bad settings
		"Restart=on-failure",
		"StateDirectory=mailinspector",
		"ProtectSystem=strict",
		"CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
		"NoNewPrivileges=yes",
		"PrivateTmp=yes",
		"SystemCallFilter=@system-service",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
}
