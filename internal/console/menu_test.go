package console

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mailinspector/internal/settings"
)

// console is a menu driven over a pipe, as a serial console would be.
type consoleSession struct {
	w    *io.PipeWriter
	out  *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startMenu(t *testing.T, sys *System, confirm time.Duration) *consoleSession {
	t.Helper()
	pr, pw := io.Pipe()
	c := &consoleSession{w: pw, out: &syncBuffer{}, done: make(chan error, 1)}
	m := &Menu{In: pr, Out: c.out, Sys: sys, ConfirmWithin: confirm, Status: func() string { return "daemon status here" }}
	go func() { c.done <- m.Run() }()
	t.Cleanup(func() { pw.Close() })
	return c
}

func (c *consoleSession) send(lines ...string) {
	for _, l := range lines {
		io.WriteString(c.w, l+"\n")
	}
}

// waitOut waits until the output contains s.
func (c *consoleSession) waitOut(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(c.out.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("console never said %q:\n%s", s, c.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func firstBootDone(t *testing.T) (*System, *[]string) {
	t.Helper()
	sys, cmds := testRoot(t)
	if err := sys.SetPassword("admin", "Correct-Horse-42"); err != nil {
		t.Fatal(err)
	}
	c := &Config{Interface: "ens3", DHCP: true, Hostname: "mi", NTP: "ntp.example"}
	if err := sys.Apply(c); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(sys.Root, "var/lib/mailinspector", FirstBootDone), nil, 0o640)
	sys.Capture = func(ctx context.Context, name string, args ...string) (string, error) {
		*cmds = append(*cmds, name+" "+strings.Join(args, " "))
		return "journal lines here", nil
	}
	return sys, cmds
}

func TestMenuLoginPasswordAndLogout(t *testing.T) {
	sys, _ := firstBootDone(t)
	c := startMenu(t, sys, time.Minute)
	c.send("wrong-password")
	c.waitOut(t, "wrong password")
	c.send("Correct-Horse-42")
	c.waitOut(t, "0) Log out")
	c.send("3", "Correct-Horse-42", "New-Horse-Battery-7", "New-Horse-Battery-7")
	c.waitOut(t, "the admin password is changed")
	hash, _ := sys.adminHash()
	if !checkHash("New-Horse-Battery-7", hash) {
		t.Fatal("the new password does not check")
	}
	c.send("3", "Correct-Horse-42")
	c.waitOut(t, "wrong password; nothing was changed")
	c.send("0")
	if err := <-c.done; err != nil {
		t.Fatalf("logout: %v", err)
	}
}

func TestMenuNetworkConfirmOrRevert(t *testing.T) {
	sys, cmds := firstBootDone(t)
	before, _ := os.ReadFile(filepath.Join(sys.Root, NetworkUnit))
	c := startMenu(t, sys, 300*time.Millisecond)
	c.send("Correct-Horse-42")
	c.waitOut(t, "0) Log out")
	static := []string{"1", "ens4", "static", "192.0.2.10/24", "192.0.2.1", "192.0.2.53", "mi", ""}
	c.send(static...)
	c.waitOut(t, "not confirmed: the previous network settings are back")
	if got, _ := os.ReadFile(filepath.Join(sys.Root, NetworkUnit)); !bytes.Equal(got, before) {
		t.Fatalf("not reverted:\n%s", got)
	}
	c.send(static...)
	c.waitOut(t, "Keep the new network settings?")
	c.send("yes")
	c.waitOut(t, "kept")
	if got, _ := os.ReadFile(filepath.Join(sys.Root, NetworkUnit)); !strings.Contains(string(got), "Address=192.0.2.10/24") {
		t.Fatalf("not kept:\n%s", got)
	}
	c.send("0")
	<-c.done
	restarts := strings.Count(strings.Join(*cmds, "\n"), "systemctl restart systemd-networkd.service")
	if restarts != 3 { // applied, reverted, applied
		t.Fatalf("%d networkd restarts: %q", restarts, *cmds)
	}
}

func TestMenuSSHKeyDiagnosticsRollbackReset(t *testing.T) {
	sys, cmds := firstBootDone(t)
	keyFile := filepath.Join(t.TempDir(), "k")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "me@test", "-f", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, _ := os.ReadFile(keyFile + ".pub")
	banner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer banner.Close()
	go func() {
		for {
			conn, err := banner.Accept()
			if err != nil {
				return
			}
			io.WriteString(conn, "220 sink.test ESMTP ready\r\n")
			conn.Close()
		}
	}()
	data := filepath.Join(sys.Root, "var/lib/mailinspector")
	if err := settings.Update(data, map[string]string{"smtp.max_recipients": "7"}); err != nil {
		t.Fatal(err)
	}

	c := startMenu(t, sys, time.Minute)
	c.send("Correct-Horse-42")
	c.waitOut(t, "0) Log out")
	c.send("4", "ssh-ed25519 AAAAnotakey x")
	c.waitOut(t, "the key's data does not match its type")
	c.send(strings.TrimSpace(string(pub)))
	c.waitOut(t, "key added")
	if got, _ := os.ReadFile(filepath.Join(sys.Root, AuthorizedKeys)); string(got) != string(pub) {
		t.Fatalf("authorized_keys %q, want %q", got, pub)
	}
	c.send("7", "smtp", banner.Addr().String())
	c.waitOut(t, "220 sink.test ESMTP ready")
	c.send("7", "dns", "localhost")
	c.waitOut(t, "127.0.0.1")
	c.send("7", "ping", "127.0.0.1; rm -rf /")
	c.waitOut(t, `label "1; rm -rf /": only letters, digits and hyphens`) // refused as a host: nothing runs
	c.send("127.0.0.1")
	c.waitOut(t, "journal lines here") // the canned output of the recorded ping
	c.send("6")
	c.waitOut(t, "daemon status here")
	c.send("5", "off")
	c.send("8")
	c.waitOut(t, "the previous settings are back")
	if s, err := settings.Load(data, nil); err != nil || s.SMTP.MaxRecipients != 100 {
		t.Fatalf("rollback: %v %v", s.SMTP.MaxRecipients, err)
	}
	c.send("9", "no")
	c.waitOut(t, "nothing was changed")
	c.send("9", "RESET")
	c.waitOut(t, "reset done")
	c.send("0")
	<-c.done
	if sys.Done() {
		t.Fatal("factory reset left the first boot marked done")
	}
	if _, err := os.Stat(filepath.Join(sys.Root, NetworkUnit)); err == nil {
		t.Fatal("factory reset left the network unit")
	}
	if hash, _ := sys.adminHash(); !strings.HasPrefix(hash, "!") {
		t.Fatalf("admin not locked: %s", hash)
	}
	want := []string{"ping -c 3 -W 2 127.0.0.1", "journalctl -u mailinspector.service -n 20 --no-pager",
		"systemctl disable --now ssh.service", "systemctl reload mailinspector.service", "systemctl reboot"}
	all := strings.Join(*cmds, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no %q among %q", w, *cmds)
		}
	}
}

// TestMenuMailDomainsAndDownstream: after first boot the menu asks the mail
// questions again, refuses a bad answer, writes the settings and reloads
// the daemon.
func TestMenuMailDomainsAndDownstream(t *testing.T) {
	sys, cmds := firstBootDone(t)
	c := startMenu(t, sys, time.Minute)
	c.send("Correct-Horse-42")
	c.waitOut(t, "12) Mail domains and downstream server")
	c.send("12", "example.com, .example.net", "mail.example.com")
	c.waitOut(t, "want HOST:PORT")
	c.send("mail.example.com:25")
	c.waitOut(t, "downstream mail.example.com:25: saved")
	vs, err := settings.Values(filepath.Join(sys.Root, "var/lib/mailinspector"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range vs {
		got[v.Key] = v.Value
	}
	if got["smtp.accepted_domains"] != "example.com,.example.net" || got["delivery.relay"] != "mail.example.com:25" {
		t.Fatalf("settings %q %q", got["smtp.accepted_domains"], got["delivery.relay"])
	}
	c.waitOut(t, "0) Log out")
	found := false
	for _, cmd := range *cmds {
		found = found || cmd == "systemctl reload mailinspector.service"
	}
	if !found {
		t.Errorf("the daemon was not reloaded: %v", *cmds)
	}
}
