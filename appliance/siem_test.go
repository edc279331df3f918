package appliance

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/control"
	"mailinspector/internal/testutil"
)

// TestSIEMEventsReachRsyslog: mail and administration on a running daemon
// reach Debian's rsyslog as CEF over TCP and LEEF over TLS — a detection
// and the final state of each message, an audit record and a deny-list
// event for a list change.
func TestSIEMEventsReachRsyslog(t *testing.T) {
	r := testutil.StartRsyslog(t)
	dir := t.TempDir()
	a := startApp(t, dir, map[string]string{
		"siem.servers":    "tcp://" + r.TCP + "?format=cef, tls://" + r.TLS + "?format=leef",
		"siem.ca_file":    r.CAFile,
		"senders.blocked": "evil@example.net",
	})
	addr := a.SMTPAddr().String()
	must(t, send(t, addr, "bob@example.org", []string{"alice@example.com"}, testMessage("clean", "")))
	must(t, send(t, addr, "evil@example.net", []string{"alice@example.com"}, testMessage("blocked=sender|x", "")))
	resp, err := control.Call(filepath.Join(dir, control.SocketName), control.Request{Command: "list add senders.blocked spam@example.net", Origin: "ssh from 192.0.2.9"})
	must(t, err)
	if !resp.OK {
		t.Fatalf("list add: %+v", resp)
	}

	// What a SOC analyst would search for, by collector.
	type want struct{ input, kind, has string }
	wants := []want{
		{"tcp", "tracking", "|Message delivered|2|"},
		{"tcp", "detection", "|Email threat detected|8|"},
		{"tcp", "tracking", "|Message quarantined|8|"},
		{"tcp", "audit", "suser=admin"},
		{"tcp", "denylist", "cs3Label=listEntry cs3=spam@example.net"},
		{"tls", "tracking", "name=Message delivered"},
		{"tls", "detection", "sender=evil@example.net"},
		{"tls", "denylist", "entry=spam@example.net"},
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		recs := r.Records()
		var missing []want
		for _, w := range wants {
			found := false
			for _, rec := range recs {
				found = found || rec.Input == w.input && rec.MsgID == w.kind && strings.Contains(rec.Msg, w.has)
			}
			if !found {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			for _, rec := range recs {
				if rec.MsgID == "detection" && rec.Input == "tcp" {
					for _, f := range []string{"suser=evil@example.net", "duser=alice@example.com", `cs1=blocked\=sender|x`,
						"cs3Label=threatNames", "act=quarantine", "cs5=high", "src=127.0.0.1"} {
						if !strings.Contains(rec.Msg, f) {
							t.Errorf("detection lacks %q: %s", f, rec.Msg)
						}
					}
				}
				if rec.MsgID == "audit" && rec.Input == "tcp" && !strings.Contains(rec.Msg, "shost=control socket") {
					t.Errorf("audit record without its origin: %s", rec.Msg)
				}
				if rec.Host != "mi.test" || rec.App != "mailinspector" {
					t.Errorf("record header %+v", rec)
				}
			}
			st, err := control.Call(filepath.Join(dir, control.SocketName), control.Request{Command: "show status"})
			must(t, err)
			for _, line := range []string{"siem      tcp://" + r.TCP + " cef: connected, ", "siem      tls://" + r.TLS + " leef: connected, "} {
				if !strings.Contains(st.Output, line) || strings.Contains(st.Output, "dropped;") {
					t.Errorf("show status lacks %q:\n%s", line, st.Output)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			for _, rec := range recs {
				t.Logf("%s %s %s", rec.Input, rec.MsgID, rec.Msg)
			}
			t.Fatalf("never arrived: %+v", missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
