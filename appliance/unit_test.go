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

// TestSSHDDropIn: OpenSSH's own parser (sshd -T) reads the appliance's
// drop-in as intended: admin only, no root, nothing forwarded.
func TestSSHDDropIn(t *testing.T) {
	sshd := testutil.RequireTool(t, "sshd")
	keygen := testutil.RequireTool(t, "ssh-keygen")
	dir := t.TempDir()
	key := filepath.Join(dir, "hostkey")
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	dropIn, err := filepath.Abs("../rootfs/etc/ssh/sshd_config.d/mailinspector.conf")
	must(t, err)
	main := filepath.Join(dir, "sshd_config")
	must(t, os.WriteFile(main, []byte("Include "+dropIn+"\nHostKey "+key+"\nPidFile none\n"), 0o600))
	os.MkdirAll("/run/sshd", 0o755) // sshd -T insists on its privilege separation directory
	out, err := exec.Command(sshd, "-T", "-f", main, "-C", "user=admin,host=client.test,addr=192.0.2.1").CombinedOutput()
	if err != nil {
		t.Fatalf("sshd -T: %v\n%s", err, out)
	}
	for _, want := range []string{"permitrootlogin no", "allowusers admin", "disableforwarding yes", "allowtcpforwarding no",
		"x11forwarding no", "permittunnel no", "permituserenvironment no", "authorizedkeysfile /etc/ssh/authorized_keys/%u"} {
		if !strings.Contains(string(out), "\n"+want+"\n") {
			t.Errorf("sshd -T lacks %q", want)
		}
	}
}

// TestUnboundConfig: unbound's own checker accepts the appliance's
// resolver configuration.
func TestUnboundConfig(t *testing.T) {
	check := testutil.RequireTool(t, "unbound-checkconf")
	conf, err := filepath.Abs("../rootfs/etc/unbound/unbound.conf.d/mailinspector.conf")
	must(t, err)
	if out, err := exec.Command(check, conf).CombinedOutput(); err != nil || !strings.Contains(string(out), "no errors") {
		t.Fatalf("unbound-checkconf: %v %s", err, out)
	}
}

// TestLoginShellLink: the image's login shell is the binary under the
// name main() answers to as the command line.
func TestLoginShellLink(t *testing.T) {
	target, err := os.Readlink("../rootfs/usr/bin/mailinspector-shell")
	if err != nil || target != "mailinspector" {
		t.Fatalf("rootfs/usr/bin/mailinspector-shell -> %q (%v), want mailinspector", target, err)
	}
	b, err := os.ReadFile("../rootfs/usr/lib/sysusers.d/mailinspector.conf")
	must(t, err)
	if !strings.Contains(string(b), "u admin - \"Mail Inspector administrator\" /home/admin /usr/bin/mailinspector-shell") ||
		!strings.Contains(string(b), "m admin mailinspector") {
		t.Fatalf("sysusers.d does not make admin's shell the command line:\n%s", b)
	}
}
