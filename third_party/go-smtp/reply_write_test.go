package smtp_test

// Mail Inspector's test of its patch to writeResponse (PATCHES.md).

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// writeLog records every Write on the server's side of a connection.
type writeLog struct {
	net.Conn
	mu     *sync.Mutex
	writes *[]string
}

func (w writeLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	*w.writes = append(*w.writes, string(p))
	w.mu.Unlock()
	return w.Conn.Write(p)
}

type logListener struct {
	net.Listener
	mu     sync.Mutex
	writes []string
}

func (l *logListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return writeLog{c, &l.mu, &l.writes}, nil
}

// A multi-line reply leaves in one write: the whole EHLO reply, every
// line of it, in one piece, after the greeting's own write.
func TestMultiLineReplyIsOneWrite(t *testing.T) {
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &logListener{Listener: tl}
	s := smtp.NewServer(new(backend))
	s.Domain = "localhost"
	go s.Serve(l)
	defer s.Close()

	c, err := net.Dial("tcp", tl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	line, _ := r.ReadString('\n')
	if !strings.HasPrefix(line, "220 ") {
		t.Fatalf("greeting %q", line)
	}
	io.WriteString(c, "EHLO localhost\r\n")
	var reply strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		reply.WriteString(line)
		if strings.HasPrefix(line, "250 ") {
			break
		}
	}
	if strings.Count(reply.String(), "\r\n") < 3 {
		t.Fatalf("expected a multi-line EHLO reply, got %q", reply.String())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.writes) != 2 || l.writes[1] != reply.String() {
		t.Fatalf("%d writes %q; want the greeting and then the whole reply %q", len(l.writes), l.writes, reply.String())
	}
}
