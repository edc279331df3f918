package appliance

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
)

// notifySocket is a fake systemd: the unix datagram socket a daemon finds
// in NOTIFY_SOCKET, recording every state it is sent.
type notifySocket struct {
	path string
	mu   sync.Mutex
	msgs []string
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	n := &notifySocket{path: filepath.Join(t.TempDir(), "notify.sock")}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.path, Net: "unixgram"})
	must(t, err)
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			k, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(buf[:k]))
			n.mu.Unlock()
		}
	}()
	return n
}

// all returns the states received so far, one per line.
func (n *notifySocket) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, m := range n.msgs {
		out = append(out, strings.Split(m, "\n")...)
	}
	return out
}

func (n *notifySocket) count(state string) int {
	c := 0
	for _, l := range n.all() {
		if l == state {
			c++
		}
	}
	return c
}

// waitFor waits until a line with the prefix arrives after the first
// `after` lines.
func (n *notifySocket) waitFor(t *testing.T, prefix string, after int) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		lines := n.all()
		for i := after; i < len(lines); i++ {
			if strings.HasPrefix(lines[i], prefix) {
				return i + 1
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q from the daemon after line %d; got %q", prefix, after, lines)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNotifyReadyStatusWatchdogStopping: READY=1 comes once SMTP
// listens, with a STATUS= line; WATCHDOG=1 pings keep coming while the
// daemon works; STOPPING=1 on stop.
func TestNotifyReadyStatusWatchdogStopping(t *testing.T) {
	n := newNotifySocket(t)
	t.Setenv("NOTIFY_SOCKET", n.path)
	t.Setenv("WATCHDOG_USEC", "200000")
	a := startApp(t, t.TempDir(), nil)
	n.waitFor(t, "STATUS=", 0)
	lines := n.all()
	if len(lines) == 0 || lines[0] != "READY=1" || !strings.HasPrefix(lines[1], "STATUS=receiving mail on "+a.SMTPAddr().String()) {
		t.Fatalf("first states: %q", lines)
	}
	// READY=1 means SMTP listens now.
	c, err := net.Dial("tcp", a.SMTPAddr().String())
	must(t, err)
	c.Close()
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, testMessage("notify", "")))
	waitState(t, a, onlyMessage(t, a).ID, store.StateDelivered, 10*time.Second)
	before := n.count("WATCHDOG=1")
	time.Sleep(500 * time.Millisecond)
	if got := n.count("WATCHDOG=1") - before; got < 3 {
		t.Fatalf("%d watchdog pings in 500 ms at a 200 ms interval", got)
	}
	must(t, a.Stop())
	n.waitFor(t, "STOPPING=1", 0)
}

// TestWatchdogStopsWhenAnalysisIsStuck: a clamd that accepts and never
// answers, with a timeout far away, holds the analysis pool; past
// analysis.stall_after the pings stop and STATUS says why.
func TestWatchdogStopsWhenAnalysisIsStuck(t *testing.T) {
	stuckClamd, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() { stuckClamd.Close() })
	go func() {
		for {
			c, err := stuckClamd.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	n := newNotifySocket(t)
	t.Setenv("NOTIFY_SOCKET", n.path)
	t.Setenv("WATCHDOG_USEC", "200000")
	a := startApp(t, t.TempDir(), map[string]string{"engine.clamd": stuckClamd.Addr().String(), "engine.clamd_timeout": "1h",
		"analysis.stall_after": "1s"})
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, testMessage("stuck", "")))
	at := n.waitFor(t, "STATUS=stuck: analysis: 1 in progress", 0)
	pings := n.count("WATCHDOG=1")
	time.Sleep(600 * time.Millisecond)
	if got := n.count("WATCHDOG=1"); got != pings {
		t.Fatalf("%d watchdog pings after the pool was stuck", got-pings)
	}
	if at == 0 {
		t.Fatal("no stuck status")
	}
}

// TestSIGHUPReloadsSettings drives the built daemon: SIGHUP sends
// RELOADING=1 then READY=1 and applies a changed setting; a broken
// settings file is refused and the daemon goes on with the old ones.
func TestSIGHUPReloadsSettings(t *testing.T) {
	n := newNotifySocket(t)
	sink := testutil.NewSink(t)
	dir := t.TempDir()
	d := newChild(t, dir, "delivery.relay="+sink.Addr)
	d.env = []string{"NOTIFY_SOCKET=" + n.path}
	d.start()
	defer d.stop()
	seen := n.waitFor(t, "READY=1", 0)
	two := []string{"alice@example.com", "carol@example.com"}
	must(t, sendMail(d.addr, "bob@example.org", two, testMessage("before", "")))

	settingsFile := filepath.Join(dir, "settings.conf")
	appendLine(t, settingsFile, "smtp.max_recipients = 1\n")
	must(t, d.cmd.Process.Signal(syscall.SIGHUP))
	seen = n.waitFor(t, "RELOADING=1", seen)
	seen = n.waitFor(t, "READY=1", seen)
	if err := sendMail(d.addr, "bob@example.org", two, testMessage("after", "")); smtpCode(err) != "452 4.5.3" {
		t.Fatalf("after reload, two recipients: %v", err)
	}

	appendLine(t, settingsFile, "smtp.max_recipients = many\n")
	must(t, d.cmd.Process.Signal(syscall.SIGHUP))
	seen = n.waitFor(t, "RELOADING=1", seen)
	seen = n.waitFor(t, "READY=1", seen)
	n.waitFor(t, "STATUS=reload refused", seen-1)
	if err := sendMail(d.addr, "bob@example.org", []string{"alice@example.com"}, testMessage("still", "")); err != nil {
		t.Fatalf("after a refused reload: %v", err)
	}
	sink.WaitFor(t, 2, 10*time.Second) // "before" and "still"; "after" was refused
	if d.cmd.ProcessState != nil {
		t.Fatal("the daemon exited")
	}
}

func appendLine(t *testing.T, file, line string) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteString(line)
	must(t, errors.Join(err, f.Close()))
}
