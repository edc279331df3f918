package appliance

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailinspector/internal/cli"
)

// TestDiskPastItsHighWaterMark: with the mark below what the disk already
// uses, new mail is answered 452 4.3.1 at MAIL FROM (the sender keeps it
// and tries again), and show status and the metrics say why.
func TestDiskPastItsHighWaterMark(t *testing.T) {
	a := startApp(t, t.TempDir(), map[string]string{"limits.disk_high_water": "1", "metrics.listen": "127.0.0.1:0"})
	err := send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, testMessage("full", ""))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 452 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 1}) {
		t.Fatalf("sending to a full appliance: %v", err)
	}
	if ms, _ := a.Messages(context.Background(), 10); len(ms) != 0 {
		t.Fatalf("a message was accepted: %+v", ms)
	}
	v, err := cli.Exec(context.Background(), a, "show status")
	must(t, err)
	st := v.(*cli.Status)
	if !st.Disk.Full || st.Disk.HighWater != 1 || st.Disk.UsedPercent < 1 || st.Disk.TotalBytes == 0 {
		t.Fatalf("status %+v", st.Disk)
	}
	text, err := cli.Render(st, false)
	must(t, err)
	if !strings.Contains(text, "PASSED: new mail is answered 452 4.3.1") || !strings.Contains(text, "high-water 1%") {
		t.Errorf("show status:\n%s", text)
	}
	resp, err := http.Get("http://" + a.MetricsAddr().String() + "/metrics")
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "mailinspector_disk_full 1") || !strings.Contains(string(body), "mailinspector_disk_used_ratio 0.") {
		t.Errorf("metrics lack the disk")
	}
}

// TestShowStatus: on a disk with room, show status gives the version, the
// messages by state, the disk, the services and the licence.
func TestShowStatus(t *testing.T) {
	a := startApp(t, t.TempDir(), map[string]string{"policy.unrated": "deliver"})
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, testMessage("status", "")))
	waitState(t, a, onlyMessage(t, a).ID, "delivered", 10*time.Second)
	v, err := cli.Exec(context.Background(), a, "show status")
	must(t, err)
	st := v.(*cli.Status)
	if st.Disk.Full || st.Disk.HighWater != 90 || st.Messages["delivered"] != 1 || st.Version != Version || st.Mode != "mta" ||
		!strings.HasPrefix(st.Licence, "trial until ") || st.Services["not-configured"] == 0 {
		t.Fatalf("status %+v", st)
	}
	js, err := cli.Render(st, true)
	must(t, err)
	if !strings.Contains(js, `"used_percent"`) || !strings.Contains(js, `"delivered": 1`) {
		t.Errorf("json:\n%s", js)
	}
}
