package delivery

import (
	"io"
	"strings"
	"testing"

	"mailinspector/internal/store"
)

func TestRewriteHeaderTagsAndDropsForgedFields(t *testing.T) {
	in := "Received: from x\r\n\tby y; date\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n  continued\r\nX-MailInspector-Risk: none\r\n" +
		"X-Mailinspector-Threats:\r\n forged\r\nFrom: a@example.org\r\n\r\nbody line\r\nX-MailInspector-Risk: in the body stays\r\n"
	rw := &store.Rewrite{SubjectPrefix: "[Suspicious] ", AddHeaders: []string{"X-MailInspector-Risk: medium", "X-MailInspector-Threats: suspicious file"}}
	out, err := io.ReadAll(rewriteHeader(io.NopCloser(strings.NewReader(in)), rw))
	if err != nil {
		t.Fatal(err)
	}
	want := "Received: from x\r\n\tby y; date\r\nSubject: [Suspicious] =?utf-8?q?caf=C3=A9?=\r\n  continued\r\nFrom: a@example.org\r\n" +
		"X-MailInspector-Risk: medium\r\nX-MailInspector-Threats: suspicious file\r\n\r\nbody line\r\nX-MailInspector-Risk: in the body stays\r\n"
	if string(out) != want {
		t.Fatalf("got\n%q\nwant\n%q", out, want)
	}
	// No Subject at all: one is added.
	out, _ = io.ReadAll(rewriteHeader(io.NopCloser(strings.NewReader("From: a@b\r\n\r\nx\r\n")), rw))
	if !strings.Contains(string(out), "Subject: [Suspicious]\r\n") {
		t.Fatalf("no subject: %q", out)
	}
}

func FuzzRewriteHeader(f *testing.F) {
	f.Add("Subject: x\r\n\r\nbody")
	f.Add("no header end")
	f.Fuzz(func(t *testing.T, in string) {
		rw := &store.Rewrite{SubjectPrefix: "[T] ", AddHeaders: []string{"X-MailInspector-Risk: medium"}}
		out, err := io.ReadAll(rewriteHeader(io.NopCloser(strings.NewReader(in)), rw))
		if err != nil {
			t.Fatal(err)
		}
		if i := strings.Index(in, "\r\n\r\n"); i >= 0 && !strings.HasSuffix(string(out), in[i+4:]) {
			t.Fatalf("body changed: %q -> %q", in, out)
		}
	})
}
