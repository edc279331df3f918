package console

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"mailinspector/internal/accounts"
	"mailinspector/internal/settings"
	"mailinspector/internal/testutil"
)

// testRoot is a throw-away root: two network interfaces, the passwd
// files chpasswd -R needs, and a data directory.
func testRoot(t *testing.T) (*System, *[]string) {
	t.Helper()
	testutil.RequireTool(t, "chpasswd")
	testutil.RequireTool(t, "ssh-keygen")
	root := t.TempDir()
	for _, d := range []string{"sys/class/net/lo", "sys/class/net/ens3", "sys/class/net/ens4", "etc", "var/lib/mailinspector"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000:Administrator:/home/admin:/usr/bin/mailinspector-shell\n",
		"etc/shadow": "root:*:19000:0:99999:7:::\nadmin:!:19000:0:99999:7:::\n",
		"etc/group":  "root:x:0:\nadmin:x:1000:\n",
	}
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	var systemctl []string
	sys := &System{Root: root, DataDir: "/var/lib/mailinspector", Run: func(ctx context.Context, stdin, name string, args ...string) error {
		switch name {
		case "chpasswd", "ssh-keygen", "passwd": // they work inside root (-R, -f)
		default: // systemctl, hostnamectl …: not on the machine running the test
			systemctl = append(systemctl, name+" "+strings.Join(args, " "))
			return nil
		}
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("%s: %s", name, out)
		}
		return err
	}}
	return sys, &systemctl
}

func TestWizardStatic(t *testing.T) {
	sys, systemctl := testRoot(t)
	answers := strings.Join([]string{
		"short",            // too short
		"Correct-Horse-42", // good
		"Correct-Horse-43", // mismatch
		"Correct-Horse-42", "Correct-Horse-42",
		"eth9", // no such interface
		"ens4", "static",
		"192.0.2.0/24", // the network's own address
		"192.0.2.10/24",
		"198.51.100.1", // outside the prefix
		"192.0.2.1",
		"192.0.2.53, 2001:db8::53",
		"-bad-", // host name
		"mi.example.com",
		"", // NTP default
		"example.com, .example.org",
		"mx.example.com", // no port
		"mx.example.com:25",
		"yes",
	}, "\n") + "\n"
	var out bytes.Buffer
	w := &Wizard{In: bufio.NewReader(strings.NewReader(answers)), Out: &out, Sys: sys}
	if err := w.Run(); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{"at least 12 characters", "the two passwords differ", `answer ens3 or ens4`,
		"the network's own address", "the gateway must be in 192.0.2.0/24", `label "-bad-"`, "want HOST:PORT",
		"SMTP:  192.0.2.10 port 25", "ssh admin@192.0.2.10", "SSH host key: SHA256:"} {
		if !strings.Contains(text, want) {
			t.Errorf("console output lacks %q:\n%s", want, text)
		}
	}
	root := sys.Root
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got, want := read(NetworkUnit), "[Match]\nName=ens4\n\n[Network]\nAddress=192.0.2.10/24\nGateway=192.0.2.1\nDNS=192.0.2.53\nDNS=2001:db8::53\n"; !strings.HasSuffix(got, want) {
		t.Errorf("network unit:\n%s\nwant it to end with:\n%s", got, want)
	}
	if read("etc/hostname") != "mi.example.com\n" || !strings.Contains(read("etc/hosts"), "127.0.1.1\tmi.example.com mi\n") {
		t.Errorf("host name files: %q %q", read("etc/hostname"), read("etc/hosts"))
	}
	if !strings.Contains(read("etc/chrony/sources.d/mailinspector.sources"), "server 2.debian.pool.ntp.org iburst") {
		t.Error("chrony source not written")
	}
	if shadow := read("etc/shadow"); !strings.Contains(shadow, "admin:$6$") {
		t.Errorf("admin password not set: %s", shadow)
	}
	// The password never went on a command line: chpasswd read it.
	s, err := settings.Load(filepath.Join(root, "var/lib/mailinspector"), nil)
	if err != nil || s.SMTP.Listen != "0.0.0.0:25" || s.Hostname != "mi.example.com" || s.Engine.Clamd != "unix:/run/clamav/clamd.ctl" ||
		s.DNS.Resolver != "127.0.0.1:53" || strings.Join(s.SMTP.AcceptedDomains, ",") != "example.com,.example.org" ||
		strings.Join(s.Delivery.Relay, ",") != "mx.example.com:25" || s.Web.Listen != "0.0.0.0:443" ||
		s.Engine.ClamdDatabase != "/var/lib/clamav" || s.Updates.SeedDir != ImageSeedDir || strings.Join(s.Updates.TrustedKeys, ",") != ImageSeedKey {
		t.Fatalf("daemon settings: %+v %v", s, err)
	}
	// The web console's admin gets the same password: a hash the daemon
	// adopts at its first start (it does not run yet).
	if hash := strings.TrimSpace(read("var/lib/mailinspector/" + accounts.PendingHashFile)); !accounts.Verify(hash, "Correct-Horse-42") {
		t.Errorf("admin's account hash: %q", hash)
	}
	if !sys.Done() {
		t.Fatal("first boot not marked done")
	}
	fp, _ := exec.Command("ssh-keygen", "-lf", filepath.Join(root, "etc/ssh/ssh_host_ed25519_key.pub")).Output()
	if f := strings.Fields(string(fp)); len(f) < 2 || !strings.Contains(text, f[1]) {
		t.Errorf("fingerprint shown is not ssh-keygen's %q", fp)
	}
	if strings.Join(*systemctl, "; ") != "systemctl restart systemd-networkd.service; systemctl enable --now ssh.service mailinspector.service" {
		t.Errorf("services: %q", *systemctl)
	}
}

func TestWizardDHCPAndClosedConsole(t *testing.T) {
	sys, _ := testRoot(t)
	answers := "Correct-Horse-42\nCorrect-Horse-42\n\n\n\n\n\n\n\nyes\n"
	var out bytes.Buffer
	if err := (&Wizard{In: bufio.NewReader(strings.NewReader(answers)), Out: &out, Sys: sys}).Run(); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	unit, _ := os.ReadFile(filepath.Join(sys.Root, NetworkUnit))
	if !strings.Contains(string(unit), "Name=ens3\n\n[Network]\nDHCP=yes\n") || strings.Contains(string(unit), "DNS=") {
		t.Errorf("DHCP unit:\n%s", unit)
	}
	// A console that closes in the middle changes nothing.
	sys2, _ := testRoot(t)
	err := (&Wizard{In: bufio.NewReader(strings.NewReader("Correct-Horse-42\nCorrect-Horse-42\nens3\n")), Out: &out, Sys: sys2}).Run()
	if err != ErrClosed || sys2.Done() {
		t.Fatalf("closed console: %v, done %v", err, sys2.Done())
	}
	if _, err := os.Stat(filepath.Join(sys2.Root, NetworkUnit)); err == nil {
		t.Fatal("a half-answered wizard wrote the network unit")
	}
}

func TestCheckPassword(t *testing.T) {
	for pw, ok := range map[string]bool{
		"Correct-Horse-42": true, "correcthorse42x": false, "CORRECT-HORSE-42": true,
		"MyAdminPassword-1": false, "short-A1": false, "Tab\tInside-Pass1": false,
	} {
		if err := CheckPassword(pw); (err == nil) != ok {
			t.Errorf("%q: %v", pw, err)
		}
	}
}
