package smtp_test

// Mail Inspector's test of its patch to the connection's read buffer
// (PATCHES.md).

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"
)

// readCount counts the Read calls on the server's side of a connection.
type readCount struct {
	net.Conn
	n *atomic.Int64
}

func (r readCount) Read(p []byte) (int, error) {
	r.n.Add(1)
	return r.Conn.Read(p)
}

type countListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return readCount{c, &l.n}, nil
}

// A 256 KB message is read in a handful of large reads, not in 4 KB ones
// (at least 64 with textproto's default buffer).
func TestMessageDataIsReadInLargeReads(t *testing.T) {
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &countListener{Listener: tl}
	be := new(backend)
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.AllowInsecureAuth = true
	go s.Serve(l)
	defer s.Close()

	c, err := net.Dial("tcp", tl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	expect := func(prefix string) {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if len(line) >= 4 && line[3] == '-' {
				continue
			}
			if !strings.HasPrefix(line, prefix) {
				t.Fatalf("got %q, want %s", line, prefix)
			}
			return
		}
	}
	expect("220 ")
	for _, cmd := range []struct{ send, want string }{
		{"EHLO localhost", "250 "}, {"MAIL FROM:<a@example.org>", "250 "}, {"RCPT TO:<b@example.com>", "250 "}, {"DATA", "354 "},
	} {
		io.WriteString(c, cmd.send+"\r\n")
		expect(cmd.want)
	}
	before := l.n.Load()
	body := "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 98)+"\r\n", 256*1024/100) + ".\r\n"
	if _, err := io.WriteString(c, body); err != nil {
		t.Fatal(err)
	}
	expect("250 ")
	if reads := l.n.Load() - before; reads > 20 {
		t.Fatalf("%d reads for %d bytes of message data", reads, len(body))
	}
}
