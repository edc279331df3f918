package smtpd

import (
	"bufio"
	"context"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

var replyLine = regexp.MustCompile(`^[2-5][0-9][0-9][ -]`)

// FuzzSession sends arbitrary bytes as a client would, after a greeting,
// then QUIT. The server must answer only with well-formed replies, keep
// serving new sessions, and every message it said 250 to must have its row
// and its spool file.
func FuzzSession(f *testing.F) {
	seeds := []string{
		"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nSubject: s\r\n\r\nbody\r\n.\r\n",
		"EHLO x\r\nMAIL FROM:<a@b.c> SIZE=1\r\nRCPT TO:<d@e.f>\r\nDATA\r\n\n.\r\nMAIL FROM:<x@y.z>\r\n.\r\n",
		"HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<postmaster>\r\nRSET\r\nVRFY a\r\nNOOP\r\n",
		"EHLO x\r\nBDAT 5 LAST\r\nhello",
		"EHLO x\r\nMAIL FROM:<a@b.c> BODY=BINARYMIME\r\nRCPT TO:<d@e.f>\r\nBDAT 3\r\nabcBDAT 0 LAST\r\n",
		"EHLO x\r\nSTARTTLS\r\n\x16\x03\x01\x00",
		"\x00\xff\r\n\r\n",
		"EHLO x\r\nAUTH PLAIN AGEAYg==\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	h := newHarness(f, func(c *Config) {
		c.CommandTimeout = 500 * time.Millisecond
		c.DataTimeout = 500 * time.Millisecond
		c.TLS, _ = LoadOrCreateCert("", "", f.TempDir(), "mi.test")
	})
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatalf("server stopped accepting: %v", err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		done := make(chan struct{})
		var lines []string
		go func() {
			defer close(done)
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
		}()
		c.Write(in)
		c.Write([]byte("\r\n.\r\nQUIT\r\n"))
		<-done
		for _, l := range lines {
			if !replyLine.MatchString(l) {
				t.Fatalf("malformed reply line %q", l)
			}
		}
		for _, l := range lines {
			if id, ok := strings.CutPrefix(l, "250 2.0.0 OK queued as "); ok {
				if _, err := h.db.GetMessage(context.Background(), id); err != nil {
					t.Fatalf("250 for %s but no row: %v", id, err)
				}
				if _, err := os.Stat(h.spool.Path(id)); err != nil {
					t.Fatalf("250 for %s but no spool file: %v", id, err)
				}
			}
		}
	})
}
