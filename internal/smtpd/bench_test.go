package smtpd

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// BenchmarkReceive measures one SMTP transaction from MAIL FROM to the 250
// after the data, with the durable hand-over (spool fsync, rename, dir
// fsync, SQLite commit), from parallel clients on one connection each, for
// a 10 KB and a 100 KB message (the load harness's average).
func BenchmarkReceive(b *testing.B) {
	for _, lines := range []int{128, 1280} {
		body := "Subject: bench\r\n\r\n" + strings.Repeat(strings.Repeat("x", 78)+"\r\n", lines)
		b.Run(strconv.Itoa(len(body)/1000)+"KB", func(b *testing.B) { benchReceive(b, body) })
	}
}

func benchReceive(b *testing.B, body string) {
	h := newHarness(b, func(c *Config) { c.MaxMessageBytes = 1 << 20; c.MaxConnectionsIP = 1000 })
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		conn, err := net.Dial("tcp", h.addr)
		if err != nil {
			b.Error(err)
			return
		}
		c := smtp.NewClient(conn)
		defer c.Close()
		if err := c.Hello("bench.test"); err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			if err := c.Mail("a@example.org", nil); err != nil {
				b.Error(err)
				return
			}
			if err := c.Rcpt("b@example.com", nil); err != nil {
				b.Error(err)
				return
			}
			w, err := c.Data()
			if err != nil {
				b.Error(err)
				return
			}
			w.Write([]byte(body))
			if err := w.Close(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
