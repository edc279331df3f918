package smtpd

import (
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// cpuPerOp reports the process's CPU time (user + system, client and
// server together) per operation: with fsync in the path, ns/op measures
// the disk's latency, and CPU per message is what the load harness's
// throughput on two cores depends on.
func cpuPerOp(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() { b.ReportMetric(float64(cpu()-start)/float64(b.N)/1e3, "cpu-µs/op") }
}

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

// benchHarness is a server for parallel clients sending body, with the
// benchmark's bytes and allocations reported; the returned func reports
// the CPU per operation and goes in a defer.
func benchHarness(b *testing.B, body string) (*harness, func()) {
	h := newHarness(b, func(c *Config) { c.MaxMessageBytes = 1 << 20; c.MaxConnectionsIP = 1000 })
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.SetParallelism(8) // 16 clients on two cores, as in the load harness
	return h, cpuPerOp(b)
}

func benchReceive(b *testing.B, body string) {
	h, report := benchHarness(b, body)
	defer report()
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

// BenchmarkSession is one message per connection, as the load harness and
// most inbound internet mail send it: connect, greeting, EHLO, one
// transaction of 10 KB, QUIT. Beside BenchmarkReceive it shows what the
// session's own replies (the multi-line EHLO above all) cost.
func BenchmarkSession(b *testing.B) {
	body := "Subject: bench\r\n\r\n" + strings.Repeat(strings.Repeat("x", 78)+"\r\n", 128)
	h, report := benchHarness(b, body)
	defer report()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, err := smtp.Dial(h.addr)
			if err != nil {
				b.Error(err)
				return
			}
			err = c.SendMail("a@example.org", []string{"b@example.com"}, strings.NewReader(body))
			if err == nil {
				err = c.Quit()
			}
			c.Close()
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
