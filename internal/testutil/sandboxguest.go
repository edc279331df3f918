package testutil

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"mailinspector/internal/sandbox/agent"
)

// SandboxGuests stand in, on loopback, for the guests of the sandbox
// domains of libvirt's test driver (which runs no guest): each is the real
// agent under the real strace, fresh each time its domain starts (a revert
// to the ready snapshot resets the guest's memory, and with it the agent's
// one run), and silent while the domain is off. The domains' lifecycle
// events, followed on a connection of our own, power them.
type SandboxGuests struct {
	// Addrs are the agents' addresses, instance 0 first.
	Addrs  []string
	guests map[string]*guest
	lvd    *Libvirtd
}

type guest struct {
	key    []byte
	work   string
	strace string
	mu     sync.Mutex
	srv    *agent.Server
}

func (g *guest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	s := g.srv
	g.mu.Unlock()
	if s == nil {
		// A powered-off VM does not answer: drop the connection.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		http.Error(w, "off", http.StatusServiceUnavailable)
		return
	}
	s.Handler().ServeHTTP(w, r)
}

func (g *guest) power(on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.srv = nil
	if on {
		g.srv = &agent.Server{Key: g.key, WorkDir: g.work, Strace: g.strace, MaxTimeout: time.Minute}
	}
}

// StartSandboxGuests starts n guests for the image's instances
// (mi-sbx-IMAGE-0 …), their agents keyed from secret. ip0 is instance 0's
// loopback address; instance i listens on the address i above it, all on
// one port, as sandbox.agent_base lays them out.
func StartSandboxGuests(t testing.TB, lvd *Libvirtd, secret []byte, image string, ip0 [4]byte, n int) *SandboxGuests {
	t.Helper()
	strace := RequireTool(t, "strace")
	sg := &SandboxGuests{guests: map[string]*guest{}, lvd: lvd}
	port := 0
	for i := 0; i < n; i++ {
		ip := net.IPv4(ip0[0], ip0[1], ip0[2], ip0[3]+byte(i))
		ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), fmt.Sprint(port)))
		if err != nil {
			t.Fatal(err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		dom := fmt.Sprintf("mi-sbx-%s-%d", image, i)
		g := &guest{key: agent.InstanceKey(secret, dom), work: t.TempDir(), strace: strace}
		srv := &http.Server{Handler: g}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		sg.guests[dom] = g
		sg.Addrs = append(sg.Addrs, ln.Addr().String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go sg.follow(ctx)
	return sg
}

// Dial opens a connection of the test's own to the daemon.
func (l *Libvirtd) Dial() (*libvirt.Libvirt, error) {
	c := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(l.Socket), dialers.WithLocalTimeout(2*time.Second)))
	uri := libvirt.ConnectURI("test:///default")
	if l.system {
		uri = libvirt.QEMUSystem
	}
	if err := c.ConnectToURI(uri); err != nil {
		return nil, err
	}
	return c, nil
}

// follow powers the guests by their domains' events, across restarts of
// the daemon.
func (sg *SandboxGuests) follow(ctx context.Context) {
	for ctx.Err() == nil {
		l, err := sg.lvd.Dial()
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		ch, err := l.LifecycleEvents(ctx)
		if err != nil {
			l.Disconnect()
			continue
		}
		for ev := range ch {
			g := sg.guests[ev.Dom.Name]
			if g == nil {
				continue
			}
			switch libvirt.DomainEventType(ev.Event) {
			case libvirt.DomainEventStarted, libvirt.DomainEventResumed:
				g.power(true)
			case libvirt.DomainEventStopped, libvirt.DomainEventCrashed:
				g.power(false)
			}
		}
		l.Disconnect()
	}
}
