package appliance

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailinspector/internal/cli"
	"mailinspector/internal/settings"
	"mailinspector/internal/testutil"
)

// sshRig is OpenSSH's sshd on a loopback port in front of a daemon, with
// two OS users whose login shell is the command line: one the daemon runs
// as (it acts as the admin account, as the image's admin user does) and
// one named as an Operator account.
type sshRig struct {
	t               *testing.T
	base, port, key string
	admin, operator string
	data            string
	daemon          *child
	sshBin          string
}

// addUser makes an OS user whose shell is the command line and whose
// password cannot be used ("*": not locked for sshd, no password either).
func addUser(t *testing.T, name, home, shell string, extra ...string) *user.User {
	t.Helper()
	exec.Command("userdel", name).Run() // a run that died before its cleanup
	args := append([]string{"-M", "-d", home, "-s", shell, "-p", "*"}, extra...)
	if out, err := exec.Command("useradd", append(args, name)...).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v %s", name, err, out)
	}
	t.Cleanup(func() {
		exec.Command("userdel", name).Run()
		exec.Command("groupdel", name).Run()
	})
	u, err := user.Lookup(name)
	must(t, err)
	return u
}

func startSSHRig(t *testing.T, sets map[string]string) *sshRig {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("MAILINSPECTOR_REQUIRE_TOOLS") == "1" {
			t.Fatal("the sshd test makes OS users: run make test as root")
		}
		t.Skip("the sshd test makes OS users: it runs as root")
	}
	sshd := testutil.RequireTool(t, "sshd")
	r := &sshRig{t: t, sshBin: testutil.RequireTool(t, "ssh")}
	keygen := testutil.RequireTool(t, "ssh-keygen")
	testutil.RequireTool(t, "useradd")
	var err error
	r.base, err = os.MkdirTemp("", "mi-sshd-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(r.base) })
	must(t, os.Chmod(r.base, 0o755))
	// The binary where the test users can run it, and the login shell's
	// name for it.
	bin := filepath.Join(r.base, "mailinspector")
	data, err := os.ReadFile(buildBinary(t))
	must(t, err)
	must(t, os.WriteFile(bin, data, 0o755))
	shellPath := filepath.Join(r.base, "mailinspector-shell")
	must(t, os.Symlink(bin, shellPath))

	suffix := strconv.Itoa(os.Getpid() % 100000)
	r.admin, r.operator = "mit"+suffix, "mio"+suffix
	adm := addUser(t, r.admin, r.base, shellPath, "-U")
	addUser(t, r.operator, r.base, shellPath, "-N", "-G", r.admin)
	uid, _ := strconv.Atoi(adm.Uid)
	gid, _ := strconv.Atoi(adm.Gid)

	// The daemon's data directory, its user's; the operator reaches the
	// control socket through the group, as on the appliance.
	r.data = filepath.Join(r.base, "data")
	must(t, os.Mkdir(r.data, 0o750))
	must(t, settings.Update(r.data, sets))
	must(t, filepath.Walk(r.data, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}))
	r.daemon = newChild(t, r.data)
	r.daemon.bin = bin
	r.daemon.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	r.daemon.env = []string{"MAILINSPECTOR_CONFIRM_MINUTE=3s"}
	r.daemon.start()
	t.Cleanup(r.daemon.stop)

	// sshd: its own host key, keys per user, the data directory in the
	// session's environment (the image's default path is /var/lib/…).
	sdir := filepath.Join(r.base, "sshd")
	must(t, os.MkdirAll(filepath.Join(sdir, "keys"), 0o755))
	for _, k := range []string{"host", "client"} {
		if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(sdir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	r.key = filepath.Join(sdir, "client")
	pub, err := os.ReadFile(r.key + ".pub")
	must(t, err)
	for _, u := range []string{r.admin, r.operator} {
		must(t, os.WriteFile(filepath.Join(sdir, "keys", u), pub, 0o644))
	}
	r.port = strings.Split(freePort(t), ":")[1]
	conf := fmt.Sprintf(`Port %s
ListenAddress 127.0.0.1
HostKey %s/host
PidFile %s/sshd.pid
AuthorizedKeysFile %s/keys/%%u
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AllowUsers %s %s
SetEnv MAILINSPECTOR_DATA_DIR=%s
LogLevel VERBOSE
`, r.port, sdir, sdir, sdir, r.admin, r.operator, r.data)
	must(t, os.WriteFile(filepath.Join(sdir, "sshd_config"), []byte(conf), 0o644))
	os.MkdirAll("/run/sshd", 0o755) // sshd's privilege separation directory
	logf, err := os.Create(filepath.Join(sdir, "sshd.log"))
	must(t, err)
	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(sdir, "sshd_config"))
	cmd.Stdout, cmd.Stderr = logf, logf
	must(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("sshd log:\n%s", tail(string(b), 30))
			b, _ = os.ReadFile(filepath.Join(r.data, "daemon.log"))
			t.Logf("daemon log:\n%s", tail(string(b), 30))
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := r.ssh(r.admin, "", "show version"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			out, err := r.ssh(r.admin, "", "show version")
			t.Fatalf("ssh does not get in: %v %s", err, out)
		}
	}
	return r
}

// ssh runs OpenSSH's client as user with stdin; no command: a login.
func (r *sshRig) ssh(user, stdin string, command ...string) (string, error) {
	args := []string{"-F", "/dev/null", "-i", r.key, "-p", r.port, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes", "-o", "LogLevel=ERROR", user + "@127.0.0.1"}
	if len(command) > 0 {
		args = append(args, "--", strings.Join(command, " "))
	}
	cmd := exec.Command(r.sshBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// sshAcrossReloads is ssh, tried again while the daemon reloads (a commit
// makes it restart its control socket).
func (r *sshRig) sshAcrossReloads(user, stdin string, command ...string) string {
	r.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := r.ssh(user, stdin, command...)
		if err == nil {
			return out
		}
		if !strings.Contains(out, "cannot reach the daemon") || time.Now().After(deadline) {
			r.t.Fatalf("ssh %s %q: %v\n%s", user, command, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCommandLineOverSSH drives the command line as an administrator does,
// through OpenSSH: configure mode on the login shell's standard input, a
// commit that applies without a restart, a commit confirmed that nobody
// confirms rolling back by itself, configure policies from standard input,
// a one-shot command with JSON output, and an Operator refused a message's
// bytes by the command layer.
func TestCommandLineOverSSH(t *testing.T) {
	sink := testutil.NewSink(t)
	r := startSSHRig(t, map[string]string{"delivery.relay": sink.Addr, "smtp.trusted_networks": "192.0.2.0/24",
		"smtp.accepted_domains": "example.com", "policy.unrated": "deliver"})
	addr := r.daemon.addr

	// configure, set, commit: a new accepted domain, the next second.
	out := r.sshAcrossReloads(r.admin, "configure\nset smtp.accepted_domains example.com,example.net\ncompare\ncommit\nexit\n")
	for _, want := range []string{"+ smtp.accepted_domains = example.com,example.net", "committed 1 keys; the daemon reloads them now"} {
		if !strings.Contains(out, want) {
			t.Fatalf("configure over ssh lacks %q:\n%s", want, out)
		}
	}
	for deadline := time.Now().Add(15 * time.Second); sendMail(addr, "bob@example.org", []string{"carol@example.net"}, testMessage("after", "")) != nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("example.net still refused 15s after the commit")
		}
	}
	var audit []cli.AuditRecord
	must(t, json.Unmarshal([]byte(r.sshAcrossReloads(r.admin, "", "-o json show audit kind settings")), &audit))
	if len(audit) != 1 || audit[0].After != "smtp.accepted_domains = example.com,example.net" || audit[0].Who != "admin" ||
		!strings.Contains(audit[0].Via, "ssh from 127.0.0.1") {
		t.Fatalf("audit %+v", audit)
	}

	// commit confirmed 1 (a minute of 3 s here), never confirmed.
	out = r.sshAcrossReloads(r.admin, "configure\nset smtp.max_recipients 50\ncommit confirmed 1\nexit\n")
	if !strings.Contains(out, "roll back at") {
		t.Fatalf("commit confirmed:\n%s", out)
	}
	if got := r.sshAcrossReloads(r.admin, "", "show settings smtp.max_recipients"); !strings.Contains(got, "smtp.max_recipients = 50") {
		t.Fatalf("after commit confirmed: %s", got)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		got := r.sshAcrossReloads(r.admin, "", "show settings smtp.max_recipients")
		if strings.Contains(got, "smtp.max_recipients = 100") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("commit confirmed did not roll back: %s", got)
		}
	}

	// configure policies < policies.conf, confirmed in time this once.
	good := "policy \"Hold all\"\n  none quarantine\n  low quarantine\n  medium quarantine\n  high quarantine\n  unrated quarantine\n"
	out = r.sshAcrossReloads(r.admin, good, "configure policies confirmed 5")
	if !strings.Contains(out, "policies committed") || !strings.Contains(out, "+ policy \"Hold all\"") || !strings.Contains(out, "roll back at") {
		t.Fatalf("configure policies over ssh:\n%s", out)
	}
	if out := r.sshAcrossReloads(r.admin, "", "settings confirm"); !strings.Contains(out, "the policies stay") {
		t.Fatalf("settings confirm: %s", out)
	}
	sendAcrossReloads(t, addr, "bob@example.org", []string{"alice@example.com"}, testMessage("held", ""))

	// A file for settings to name, from standard input; not text: refused.
	if out := r.sshAcrossReloads(r.admin, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "file put siem-ca.pem"); !strings.Contains(out, "stored "+r.data+"/files/siem-ca.pem") {
		t.Fatalf("file put over ssh: %s", out)
	}
	if out, err := r.ssh(r.admin, "\xff\xfe\x00binary", "file put blob.der"); err == nil || !strings.Contains(out, "not text") {
		t.Fatalf("a binary file: %v %s", err, out)
	}

	// -c with -o json: the same objects as the shell's.
	var ms []cli.MessageSummary
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		must(t, json.Unmarshal([]byte(r.sshAcrossReloads(r.admin, "", "-o json show messages subject held state quarantined")), &ms))
		if len(ms) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the policies committed over ssh did not hold the message: %+v", ms)
		}
	}
	if raw := r.sshAcrossReloads(r.admin, "", "show raw "+ms[0].ID); !strings.Contains(raw, "Subject: held") {
		t.Fatalf("the administrator's show raw: %s", raw)
	}

	// The Operator: an account of the same name as the OS user.
	r.sshAcrossReloads(r.admin, "", "account add "+r.operator+" operator")
	if out := r.sshAcrossReloads(r.operator, "", "show message "+ms[0].ID); !strings.Contains(out, ms[0].ID) {
		t.Fatalf("the operator's show message: %s", out)
	}
	out, err := r.ssh(r.operator, "", "show raw "+ms[0].ID)
	if err == nil || !strings.Contains(out, "role operator") || strings.Contains(out, "Subject: held") {
		t.Fatalf("an Operator asked for a message's bytes: %v\n%s", err, out)
	}
	if out, err := r.ssh(r.operator, "", "list add senders.blocked evil.example"); err == nil || !strings.Contains(out, "may not run") {
		t.Fatalf("an Operator changed a list: %v\n%s", err, out)
	}
	var refusals []cli.AuditRecord
	must(t, json.Unmarshal([]byte(r.sshAcrossReloads(r.admin, "", "-o json show audit who "+r.operator)), &refusals))
	if len(refusals) != 2 || refusals[0].OK || refusals[1].Kind != "access" || refusals[1].OK || !strings.Contains(refusals[1].Detail, "role operator") {
		t.Fatalf("the Operator's refusals in the audit log: %+v", refusals)
	}
	// An OS user without an account is refused.
	r.sshAcrossReloads(r.admin, "", "account delete "+r.operator)
	if out, err := r.ssh(r.operator, "", "show status"); err == nil || !strings.Contains(out, "no account named") {
		t.Fatalf("an OS user without an account: %v\n%s", err, out)
	}
}
