package testutil

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// FaultProxy is a TCP proxy on loopback in front of a real server (the
// hub): healthy, it passes bytes both ways; in a fault mode it refuses
// connections (nothing listens on its port), accepts and never answers,
// answers every HTTP request with 500, or answers with bytes that are not
// HTTP. Faults apply to new connections; SetFault closes the ones open so
// that kept-alive connections cannot slip past a fault.
type FaultProxy struct {
	Addr string
	// ErrorReply, when set, is what FaultError writes as soon as a
	// connection opens, for protocols other than HTTP: an SMTP "421"
	// greeting, a clamd error line.
	ErrorReply string
	target     string
	fault      atomic.Value
	mu         sync.Mutex
	ln         net.Listener
	conns      map[net.Conn]bool
	t          testing.TB
}

// StartFaultProxy proxies to target (host:port, or unix:/path).
func StartFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	p := &FaultProxy{target: target, conns: map[net.Conn]bool{}, t: t}
	p.fault.Store(FaultNone)
	p.listen("127.0.0.1:0")
	t.Cleanup(func() {
		p.mu.Lock()
		if p.ln != nil {
			p.ln.Close()
		}
		p.mu.Unlock()
		p.closeAll()
	})
	return p
}

func (p *FaultProxy) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatalf("fault proxy: %v", err)
	}
	p.mu.Lock()
	p.ln, p.Addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go p.accept(ln)
}

// SetFault switches the mode (FaultNone: healthy).
func (p *FaultProxy) SetFault(mode string) {
	prev := p.fault.Swap(mode)
	p.closeAll()
	switch {
	case mode == FaultRefuse && prev != FaultRefuse:
		p.mu.Lock()
		p.ln.Close()
		p.ln = nil
		p.mu.Unlock()
	case mode != FaultRefuse && prev == FaultRefuse:
		p.listen(p.Addr)
	}
}

func (p *FaultProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func (p *FaultProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *FaultProxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			continue
		}
		go p.handle(c)
	}
}

func (p *FaultProxy) handle(c net.Conn) {
	defer c.Close()
	switch p.fault.Load().(string) {
	case FaultRefuse:
		return // accepted a moment before the listener closed: as good as refused
	case FaultBlackhole:
		io.Copy(io.Discard, c) // read everything, answer nothing
		return
	case FaultError:
		if p.ErrorReply != "" {
			io.WriteString(c, p.ErrorReply)
			io.Copy(io.Discard, io.LimitReader(c, 1<<20))
			return
		}
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			body := `{"error":{"code":"internal","message":"the hub could not answer"}}`
			fmt.Fprintf(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		}
	case FaultGarbage:
		// Written at once: a client that waits for a greeting (SMTP) gets
		// it as one, one that speaks first (HTTP) reads it as the answer.
		io.WriteString(c, "\x16\x03this is not the protocol at all\r\n\r\n\x00\xff\n")
		bufio.NewReader(c).ReadString('\n')
		return
	}
	network, addr := "tcp", p.target
	if path, ok := strings.CutPrefix(p.target, "unix:"); ok {
		network, addr = "unix", path
	}
	up, err := net.Dial(network, addr)
	if err != nil {
		return
	}
	defer up.Close()
	p.track(up)
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}
