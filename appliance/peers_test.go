package appliance

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
)

// Outside SMTP peers: swaks as a client, Postfix downstream and upstream.

func TestSwaksSendsPlainAndOverSTARTTLS(t *testing.T) {
	swaks := testutil.RequireTool(t, "swaks")
	sink := testutil.NewSink(t)
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr})
	addr := a.SMTPAddr().String()
	for i, extra := range [][]string{nil, {"--tls"}} {
		args := append([]string{"--server", addr, "--from", "bob@example.org", "--to", "alice@example.com",
			"--helo", "client.test", "--header", "Subject: swaks " + string(rune('0'+i))}, extra...)
		out, err := exec.Command(swaks, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("swaks %v: %v\n%s", extra, err, out)
		}
		if !strings.Contains(string(out), "<-  250 2.0.0 OK queued as ") && !strings.Contains(string(out), "<~  250 2.0.0 OK queued as ") {
			t.Fatalf("swaks %v: no 250 queued:\n%s", extra, out)
		}
	}
	got := sink.WaitFor(t, 2, 10*time.Second)
	tlsSeen := false
	for _, m := range got {
		if strings.Contains(string(m.Data), "with ESMTPS id") {
			tlsSeen = true
		}
	}
	if !tlsSeen {
		t.Fatal("no message arrived over STARTTLS (no ESMTPS in our Received header)")
	}
	// A relay attempt from an untrusted client: swaks exits 24 on a RCPT error.
	b := startApp(t, t.TempDir(), map[string]string{"smtp.trusted_networks": "192.0.2.0/24", "smtp.accepted_domains": "example.com"})
	out, err := exec.Command(swaks, "--server", b.SMTPAddr().String(), "--from", "x@example.org", "--to", "victim@elsewhere.example").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 24 || !strings.Contains(string(out), "550 5.7.1") {
		t.Fatalf("relay attempt: %v\n%s", err, out)
	}
}

func TestPostfixDownstreamReceivesOurRelay(t *testing.T) {
	sink := testutil.NewSink(t)
	pf := testutil.StartPostfix(t, sink.Addr)
	// Unrated text (no pattern engine) let through unmarked: the bytes
	// are what is checked.
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": pf.Addr, "policy.unrated": "deliver"})
	body := testMessage("via-postfix", "")
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, body))
	got := sink.WaitFor(t, 1, 30*time.Second)
	data := string(got[0].Data)
	if !strings.HasSuffix(data, body) || !strings.Contains(data, "by mi.test (Mail Inspector) with ESMTP id") ||
		!strings.Contains(data, "by postfix.test (Postfix)") {
		t.Fatalf("message after Postfix:\n%s", data)
	}
	d := waitState(t, a, onlyMessage(t, a).ID, store.StateDelivered, 5*time.Second)
	last := d.Trail[len(d.Trail)-1]
	if !strings.Contains(last.Detail, "queued as") {
		t.Fatalf("trail does not keep Postfix's reply: %+v", last)
	}
}

func TestPostfixUpstreamRelaysToUsOverSTARTTLS(t *testing.T) {
	sink := testutil.NewSink(t)
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr})
	pf := testutil.StartPostfix(t, a.SMTPAddr().String())
	body := testMessage("from-postfix", "")
	must(t, send(t, pf.Addr, "bob@example.org", []string{"alice@example.com"}, body))
	got := sink.WaitFor(t, 1, 30*time.Second)
	data := string(got[0].Data)
	if !strings.Contains(data, "Received: from postfix.test ([127.0.0.1])\r\n\tby mi.test (Mail Inspector) with ESMTPS id") ||
		!strings.HasSuffix(data, "this is a test.\r\n..a line that starts with a dot\r\n") {
		t.Fatalf("message from Postfix:\n%s", data)
	}
	if !strings.Contains(pf.Log(), "TLS connection established to 127.0.0.1") {
		t.Fatalf("Postfix did not use STARTTLS:\n%s", pf.Log())
	}
}
