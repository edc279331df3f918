package appliance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailinspector/internal/cli"
	"mailinspector/internal/logring"
	"mailinspector/internal/settings"
)

// findingNamed is the first finding of that name, or nil.
func findingNamed(d *cli.MessageDetail, name string) *cli.Finding {
	for i := range d.Findings {
		if d.Findings[i].Name == name {
			return &d.Findings[i]
		}
	}
	return nil
}

// startApp starts an appliance on dir with the defaults plus overrides, on
// a free loopback port; it stops when the test ends.
func startApp(t testing.TB, dir string, overrides map[string]string) *Appliance {
	t.Helper()
	vals := map[string]string{"smtp.listen": "127.0.0.1:0", "hostname": "mi.test", "delivery.retry_intervals": "200ms",
		"delivery.connect_timeout": "2s", "delivery.command_timeout": "5s"}
	for k, v := range overrides {
		vals[k] = v
	}
	s, err := settings.Build(vals)
	if err != nil {
		t.Fatalf("settings: %v", err)
	}
	must(t, os.MkdirAll(dir, 0o750))
	logf, err := os.OpenFile(filepath.Join(dir, "test.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	must(t, err)
	ring := logring.New(5000, 2<<20) // show logs, as serve keeps it
	a, err := Start(dir, s, slog.New(slog.NewJSONHandler(io.MultiWriter(logf, ring), nil)))
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	a.SetLogs(ring)
	t.Cleanup(func() {
		a.Stop()
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				t.Logf("daemon log:\n%s", tail(string(b), 40))
			}
		}
	})
	return a
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// send submits one message with go-smtp's client and returns the final
// reply error (nil for 250).
func send(t *testing.T, addr, from string, to []string, body string) error {
	t.Helper()
	return sendMail(addr, from, to, body)
}

// sendMail is send without a test: for goroutines, and without STARTTLS.
func sendMail(addr, from string, to []string, body string) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	return sendOn(conn, from, to, body)
}

// sendOn runs one SMTP transaction on an open connection and closes it.
func sendOn(conn net.Conn, from string, to []string, body string) error {
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(body)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	c.Quit()
	return nil
}

func testMessage(subject, extra string) string {
	return "From: Bob <bob@example.org>\r\nTo: alice@example.com\r\nSubject: " + subject + "\r\n" +
		"Date: Fri, 27 Nov 2026 08:00:00 +0000\r\nMessage-ID: <" + subject + "@example.org>\r\n" + extra +
		"\r\nHello Alice,\r\n\r\nthis is a test.\r\n..a line that starts with a dot\r\n"
}

// waitState polls until the message reaches state.
func waitState(t *testing.T, a *Appliance, id, state string, timeout time.Duration) *cli.MessageDetail {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last *cli.MessageDetail
	for time.Now().Before(deadline) {
		d, err := a.Message(context.Background(), id)
		if err == nil {
			last = d
			if d.State == state {
				return d
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("message %s: state %v after %s, want %s (trail %+v)", id, stateOf(last), timeout, state, trailOf(last))
	return nil
}

func stateOf(d *cli.MessageDetail) string {
	if d == nil {
		return "(none)"
	}
	return d.State
}

func trailOf(d *cli.MessageDetail) any {
	if d == nil {
		return nil
	}
	return d.Trail
}

// onlyMessage returns the one message the appliance has.
func onlyMessage(t *testing.T, a *Appliance) cli.MessageSummary {
	t.Helper()
	ms, err := a.Messages(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 {
		t.Fatalf("want 1 message, have %d: %+v", len(ms), ms)
	}
	return ms[0]
}

// splitReceived checks that data is our Received header followed by the
// original bytes, and returns the header.
func splitReceived(t *testing.T, data []byte, original string) string {
	t.Helper()
	i := bytes.Index(data, []byte(original))
	if i < 0 || i+len(original) != len(data) {
		t.Fatalf("delivered message does not end with the original bytes:\n%q", data)
	}
	added := string(data[:i])
	if !strings.HasPrefix(added, "Received: from client.test ([127.0.0.1])\r\n\tby mi.test (Mail Inspector) with ESMTP id ") {
		t.Fatalf("added header is not our Received header: %q", added)
	}
	return added
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func smtpCode(err error) string {
	if se, ok := err.(*smtp.SMTPError); ok {
		return fmt.Sprintf("%d %d.%d.%d", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	}
	return fmt.Sprint(err)
}

// waitGone waits for a file to disappear: spool files go once the record
// that makes them useless is durable, which may be a moment after it is
// visible.
func waitGone(t *testing.T, path, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := os.Stat(path)
		if os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still there after 5s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
