package diagnose

import (
	"context"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/testutil"
)

// TestSMTPReportsEachStep: against a real SMTP server on loopback with
// STARTTLS and a self-signed certificate, and one without STARTTLS, and a
// port nobody listens on.
func TestSMTPReportsEachStep(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tlsSink := testutil.NewTLSSink(t)
	got := strings.Join(SMTP(ctx, tlsSink.Addr, "mi.test", nil), "\n")
	for _, want := range []string{"connect " + tlsSink.Addr, "greeting and EHLO mi.test: ok", "extensions: ", "STARTTLS",
		"STARTTLS: the certificate does not verify for 127.0.0.1"} {
		if !strings.Contains(got, want) {
			t.Errorf("TLS sink report lacks %q:\n%s", want, got)
		}
	}
	plain := testutil.NewSink(t)
	got = strings.Join(SMTP(ctx, plain.Addr, "mi.test", nil), "\n")
	if !strings.Contains(got, "STARTTLS: not offered") || !strings.Contains(got, "PIPELINING") {
		t.Errorf("plain sink report:\n%s", got)
	}
	plain.Stop()
	got = strings.Join(SMTP(ctx, plain.Addr, "mi.test", nil), "\n")
	if !strings.Contains(got, "FAILED") || strings.Contains(got, "EHLO") {
		t.Errorf("nothing listening:\n%s", got)
	}
}

// TestDNSAsksTheConfiguredResolver: a miekg/dns server on loopback answers
// what it lists; a name it does not know is said to be missing.
func TestDNSAsksTheConfiguredResolver(t *testing.T) {
	srv := testutil.StartDNSBL(t, "bl.test")
	srv.List("2.0.0.127.bl.test.", "127.0.0.2")
	ctx := context.Background()
	got, err := DNS(ctx, srv.Addr, "2.0.0.127.bl.test", "A")
	if err != nil || len(got) != 2 || got[1] != "127.0.0.2" || !strings.Contains(got[0], "via "+srv.Addr) {
		t.Fatalf("listed name: %q %v", got, err)
	}
	got, err = DNS(ctx, srv.Addr, "3.0.0.127.bl.test", "A")
	if err != nil || len(got) != 1 || !strings.Contains(got[0], "no such name") {
		t.Fatalf("unlisted name: %q %v", got, err)
	}
	if _, err := DNS(ctx, srv.Addr, "x.test", "SRV"); err == nil {
		t.Error("an unsupported type was asked")
	}
}
