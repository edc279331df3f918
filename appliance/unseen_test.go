package appliance

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"mailinspector/internal/store"
	"mailinspector/internal/testutil"
)

// uuencode writes data as uuencoded lines (45 bytes a line, "`" for zero).
func uuencode(data []byte) string {
	enc := func(v byte) byte {
		if v == 0 {
			return '`'
		}
		return v + 32
	}
	var b strings.Builder
	for len(data) > 0 {
		n := min(45, len(data))
		chunk := append([]byte(nil), data[:n]...)
		for len(chunk)%3 != 0 {
			chunk = append(chunk, 0)
		}
		b.WriteByte(enc(byte(n)))
		for i := 0; i < len(chunk); i += 3 {
			v := uint32(chunk[i])<<16 | uint32(chunk[i+1])<<8 | uint32(chunk[i+2])
			for k := 18; k >= 0; k -= 6 {
				b.WriteByte(enc(byte(v >> k & 63)))
			}
		}
		b.WriteString("\r\n")
		data = data[n:]
	}
	return b.String()
}

// TestWhatTheWalkCannotSeeIsNotDelivered: EICAR in a zip that a lenient
// mail client (Python's email package, run here) finds in the message is
// never delivered, however the message hides it from a strict reading:
// past the part limit, past the depth limit, behind junk in the
// Content-Type, after an mbox From line, uuencoded in a text body. Each
// was delivered before (risk low or none); now each is held, as a threat
// where the walk reaches it and clamd convicts it, else as unscannable.
func TestWhatTheWalkCannotSeeIsNotDelivered(t *testing.T) {
	py := testutil.StartPyEmail(t)
	cd := testutil.StartClamd(t)
	sink := testutil.NewSink(t)
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "engine.clamd": cd.Spec()})
	zip := zipped(t, map[string][]byte{"eicar.com": []byte(eicar)})
	sum := sha256.Sum256(zip)
	head := func(ct string) string {
		return "From: bob@example.org\r\nTo: alice@example.com\r\nSubject: hidden\r\nDate: Fri, 27 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: " + ct + "\r\n"
	}
	attach := "Content-Type: application/zip; name=\"a.zip\"\r\nContent-Disposition: attachment; filename=\"a.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64lines(zip)
	cases := map[string]struct {
		msg, reason string
	}{
		"part 1001": {func() string {
			var b strings.Builder
			b.WriteString(head("multipart/mixed; boundary=m") + "\r\n")
			for i := 0; i < 1000; i++ {
				fmt.Fprintf(&b, "--m\r\nContent-Type: text/plain\r\n\r\npart %d\r\n", i)
			}
			b.WriteString("--m\r\n" + attach + "--m--\r\n")
			return b.String()
		}(), "unscannable"},
		"depth 22": {func() string {
			var b strings.Builder
			b.WriteString(head("multipart/mixed; boundary=d0") + "\r\n")
			for i := 0; i < 21; i++ {
				fmt.Fprintf(&b, "--d%d\r\nContent-Type: multipart/mixed; boundary=d%d\r\n\r\n", i, i+1)
			}
			b.WriteString("--d21\r\n" + attach)
			for i := 21; i >= 0; i-- {
				fmt.Fprintf(&b, "--d%d--\r\n", i)
			}
			return b.String()
		}(), "unscannable"},
		"junk after the boundary": {head(`multipart/mixed; boundary="XYZ"; junk`) + "\r\n--XYZ\r\nContent-Type: text/plain\r\n\r\nsee\r\n--XYZ\r\n" + attach + "--XYZ--\r\n", "threat"},
		"mbox From line":          {"From bob@example.org Fri Nov 27 08:00:00 2026\r\n" + head("multipart/mixed; boundary=m") + "\r\n--m\r\n" + attach + "--m--\r\n", "threat"},
		"uuencoded in the text":   {head("text/plain") + "\r\nThe file:\r\nbegin 644 a.zip\r\n" + uuencode(zip) + "`\r\nend\r\n", "threat"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if name != "uuencoded in the text" { // Python's email package does not decode those; Outlook does
				parts, err := py.Parts([]byte(c.msg))
				must(t, err)
				found := false
				for _, p := range parts {
					found = found || p.SHA256 == hex.EncodeToString(sum[:])
				}
				if !found {
					t.Fatalf("a lenient client does not find the zip: the case proves nothing (%+v)", parts)
				}
			}
			must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, c.msg))
			ms, _ := a.Messages(t.Context(), 1)
			d := waitState(t, a, ms[0].ID, store.StateQuarantined, 20*time.Second)
			if d.Reason != c.reason || d.Risk == "none" || d.Risk == "low" {
				t.Fatalf("reason %q risk %q, want %q; findings %+v", d.Reason, d.Risk, c.reason, d.Findings)
			}
		})
	}
	if got := len(sink.Messages()); got != 0 {
		t.Fatalf("%d messages reached the downstream", got)
	}
}

// TestOwnHeaderFieldsNeverComeFromTheSender: a sender's X-MailInspector-*
// fields (-Risk: none, -ERS, -Queue-ID) never reach a recipient, tagged or
// untagged; only the appliance's own do. A header block over
// limits.max_header_bytes is refused (552 5.3.4) instead of being
// analysed blind and delivered untagged.
func TestOwnHeaderFieldsNeverComeFromTheSender(t *testing.T) {
	cd := testutil.StartClamd(t)
	sink := testutil.NewSink(t)
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "engine.clamd": cd.Spec()})
	forged := "X-MailInspector-Risk: none\r\nX-MailInspector-ERS: not listed\r\nx-mailinspector-queue-id:\r\n forged-id\r\n"
	clean := strings.Replace(testMessage("clean", ""), "Subject: clean\r\n", "Subject: clean\r\n"+forged, 1)
	tagged := strings.Replace(withAttachment("Invoice", "application/pdf", "invoice.pdf", []byte("MZ\x90\x00 not a PDF")),
		"Subject: Invoice\r\n", "Subject: Invoice\r\n"+forged, 1)
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, clean))
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, tagged))
	got := sink.WaitFor(t, 2, 10*time.Second)
	for _, m := range got {
		data := string(m.Data)
		head, _, _ := strings.Cut(data, "\r\n\r\n")
		for _, bad := range []string{"X-MailInspector-Risk: none", "X-MailInspector-ERS", "forged-id", "x-mailinspector-queue-id"} {
			if strings.Contains(head, bad) {
				t.Errorf("delivered header has the sender's %q:\n%s", bad, head)
			}
		}
		if strings.Contains(head, "Subject: [Suspicious] Invoice") && !strings.Contains(head, "X-MailInspector-Risk: medium") {
			t.Errorf("tagged message lacks our own field:\n%s", head)
		}
	}
	huge := strings.Replace(testMessage("huge", ""), "Subject: huge\r\n", "Subject: huge\r\n"+strings.Repeat("X-Pad: "+strings.Repeat("p", 90)+"\r\n", 3000), 1)
	if err := send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, huge); err == nil || !strings.Contains(err.Error(), "552") {
		t.Fatalf("a 290 KiB header block: %v, want 552 5.3.4", err)
	}
}

// TestArchivesBeyondZip: a 7z encrypted with the password written in the
// body is opened and EICAR in it found (it was delivered, risk none); one
// no password opens is held as unscannable (internal/archive proves RAR).
func TestArchivesBeyondZip(t *testing.T) {
	cd := testutil.StartClamd(t)
	sink := testutil.NewSink(t)
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "engine.clamd": cd.Spec()})
	files := map[string][]byte{"invoice.com": []byte(eicar), "notes.txt": []byte("the figures")}
	with := func(subject, text, name string, data []byte) string {
		return "From: bob@example.org\r\nTo: alice@example.com\r\nSubject: " + subject + "\r\nDate: Fri, 27 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n" + text + "\r\n--b\r\n" +
			"Content-Type: application/octet-stream; name=\"" + name + "\"\r\nContent-Disposition: attachment; filename=\"" + name + "\"\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n" + b64lines(data) + "--b--\r\n"
	}
	for _, c := range []struct {
		name, msg, reason, location string
	}{
		{"7z, password in the body", with("7z", "The password is: Tr1cky-42", "docs.7z", testutil.SevenZip(t, files, "-pTr1cky-42", "-mhe=on")),
			"threat", "part 2 (docs.7z): docs.7z/invoice.com"},
		{"7z, no password", with("7z locked", "No password for you.", "docs.7z", testutil.SevenZip(t, files, "-pTr1cky-42")), "unscannable", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"alice@example.com"}, c.msg))
			ms, _ := a.Messages(t.Context(), 1)
			d := waitState(t, a, ms[0].ID, store.StateQuarantined, 20*time.Second)
			if d.Reason != c.reason {
				t.Fatalf("reason %q, want %q; findings %+v", d.Reason, c.reason, d.Findings)
			}
			if c.location != "" {
				found := false
				for _, f := range d.Findings {
					found = found || f.Engine == "clamd" && f.Location == c.location && strings.HasPrefix(f.Name, "MailInspector.Test.EICAR")
				}
				if !found {
					t.Fatalf("no EICAR at %q: %+v", c.location, d.Findings)
				}
			}
		})
	}
}

// TestOneExemptedRecipientExemptsNoOther: EICAR to abuse@ (a message
// exception) and ceo@ in one transaction was delivered to both. Now the
// message splits: abuse@ gets it, ceo@'s copy is analysed on its own and
// quarantined; each row names only its own recipients.
func TestOneExemptedRecipientExemptsNoOther(t *testing.T) {
	cd := testutil.StartClamd(t)
	sink := testutil.NewSink(t)
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr, "engine.clamd": cd.Spec(),
		"exceptions.recipients": "abuse@example.com"})
	must(t, send(t, a.SMTPAddr().String(), "bob@example.org", []string{"abuse@example.com", "ceo@example.com"},
		withAttachment("sample", "application/octet-stream", "sample.com", []byte(eicar))))
	got := sink.WaitFor(t, 1, 10*time.Second)
	if strings.Join(got[0].To, ",") != "abuse@example.com" {
		t.Fatalf("delivered to %v", got[0].To)
	}
	var orig, copy string
	deadline := time.Now().Add(10 * time.Second)
	for orig == "" || copy == "" {
		if time.Now().After(deadline) {
			ms, _ := a.Messages(t.Context(), 10)
			t.Fatalf("messages %+v", ms)
		}
		ms, _ := a.Messages(t.Context(), 10)
		for _, m := range ms {
			switch {
			case m.State == store.StateDelivered && strings.Join(m.To, ",") == "abuse@example.com":
				orig = m.ID
			case m.State == store.StateQuarantined && strings.Join(m.To, ",") == "ceo@example.com":
				copy = m.ID
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	d := waitState(t, a, orig, store.StateDelivered, time.Second)
	if !strings.Contains(jsonOf(d.Trail), "split to message "+copy) {
		t.Errorf("the original's trail does not name its copy: %+v", d.Trail)
	}
	d = waitState(t, a, copy, store.StateQuarantined, time.Second)
	if d.Reason != "threat" || !strings.Contains(jsonOf(d.Trail), "split from message "+orig) {
		t.Errorf("copy %+v trail %+v", d.MessageSummary, d.Trail)
	}
	if err := a.Release(t.Context(), copy, []string{"abuse@example.com"}); err == nil {
		t.Error("the copy was released to a recipient it does not have")
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(sink.Messages()); n != 1 {
		t.Fatalf("%d messages delivered", n)
	}
}

// TestQuotedAddressesStayOneAddress: a recipient written as a quoted local
// part reaches the downstream quoted again: `"x> NOTIFY=NEVER"@example.com`
// was forwarded as RCPT TO:<x> NOTIFY=NEVER@example.com>, an injected
// ESMTP parameter.
func TestQuotedAddressesStayOneAddress(t *testing.T) {
	sink := testutil.NewSink(t)
	a := startApp(t, t.TempDir(), map[string]string{"delivery.relay": sink.Addr})
	c, err := net.Dial("tcp", a.SMTPAddr().String())
	must(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	reply := func() string {
		var last string
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return "EOF"
			}
			if last = l; len(l) < 4 || l[3] != '-' {
				return last
			}
		}
	}
	reply()
	for _, cmd := range []string{"EHLO client.test", "MAIL FROM:<bob@example.org>", `RCPT TO:<"x> NOTIFY=NEVER"@example.com>`, "DATA"} {
		fmt.Fprintf(c, "%s\r\n", cmd)
		if r := reply(); r[0] != '2' && r[0] != '3' {
			t.Fatalf("%s: %s", cmd, r)
		}
	}
	fmt.Fprint(c, "Subject: quoted\r\n\r\nhi\r\n.\r\n")
	if r := reply(); r[0] != '2' {
		t.Fatalf("DATA: %s", r)
	}
	got := sink.WaitFor(t, 1, 10*time.Second)
	if strings.Join(got[0].To, "|") != "x> NOTIFY=NEVER@example.com" {
		t.Fatalf("the downstream got recipients %q", got[0].To)
	}
}
