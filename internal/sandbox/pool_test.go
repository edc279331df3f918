package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"mailinspector/internal/sandbox/agent"
	"mailinspector/internal/testutil"
)

// guest stands in, on loopback, for the guest inside one sandbox domain of
// libvirt's test driver (which runs no guest): the real agent, fresh each
// time its domain starts (a revert to the ready snapshot resets the guest's
// memory, and with it the agent's one run), and gone while it is off.
type guest struct {
	dom    string
	key    []byte
	work   string
	strace string
	addr   string
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
	if on {
		g.srv = &agent.Server{Key: g.key, WorkDir: g.work, Strace: g.strace, MaxTimeout: time.Minute}
	} else {
		g.srv = nil
	}
}

type bench struct {
	t      *testing.T
	lvd    *testutil.Libvirtd
	secret []byte
	guests map[string]*guest
	image  Image
}

// newBench starts a private libvirtd and n loopback guests for the image
// "linux", and follows the domains' lifecycle events on its own
// connection to power the guests on and off.
func newBench(t *testing.T, n int) *bench {
	t.Helper()
	b := &bench{t: t, lvd: testutil.StartLibvirtd(t), secret: []byte("sandbox secret of the test"), guests: map[string]*guest{}}
	tmpl, err := os.ReadFile("testdata/test-domain.xml")
	if err != nil {
		t.Fatal(err)
	}
	b.image = Image{Name: "linux", DomainXML: string(tmpl)}
	strace := testutil.RequireTool(t, "strace")
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dom := fmt.Sprintf("mi-sbx-linux-%d", i)
		g := &guest{dom: dom, key: agent.InstanceKey(b.secret, dom), work: t.TempDir(), strace: strace, addr: ln.Addr().String()}
		srv := &http.Server{Handler: g}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		b.guests[dom] = g
		b.image.Agents = append(b.image.Agents, g.addr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go b.follow(ctx)
	return b
}

// dial opens the test's own connection to the daemon.
func (b *bench) dial() (*libvirt.Libvirt, error) {
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(b.lvd.Socket), dialers.WithLocalTimeout(2*time.Second)))
	if err := l.ConnectToURI("test:///default"); err != nil {
		return nil, err
	}
	return l, nil
}

// follow powers guests by their domains' events, across daemon restarts.
func (b *bench) follow(ctx context.Context) {
	for ctx.Err() == nil {
		l, err := b.dial()
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
			g := b.guests[ev.Dom.Name]
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

func (b *bench) pool(opts Options) *Pool {
	b.t.Helper()
	u, err := ParseURI(b.lvd.URI())
	if err != nil {
		b.t.Fatal(err)
	}
	opts.Secret = b.secret
	if opts.CallTimeout == 0 {
		opts.CallTimeout = 5 * time.Second
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 10 * time.Second
	}
	if opts.Retry == 0 {
		opts.Retry = 200 * time.Millisecond
	}
	if opts.Requeues == 0 {
		opts.Requeues = 1
	}
	p, err := NewPool(NewConn(u, opts.CallTimeout), []Image{b.image}, opts)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(p.Close)
	return p
}

// waitFor polls the pool's status until cond holds.
func waitFor(t *testing.T, p *Pool, what string, cond func(Status) bool) Status {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := p.Status()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("never %s; status %+v", what, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func task(script string) *Task {
	s := sha256.Sum256([]byte(script))
	return &Task{Image: "linux", Name: "run.sh", SHA256: hex.EncodeToString(s[:]), Sample: []byte(script), Timeout: 20 * time.Second}
}

// domState asks the daemon for a domain's state on the test's connection.
func (b *bench) domState(name string) (libvirt.DomainState, []byte) {
	b.t.Helper()
	l, err := b.dial()
	if err != nil {
		b.t.Fatal(err)
	}
	defer l.Disconnect()
	d, err := l.DomainLookupByName(name)
	if err != nil {
		b.t.Fatalf("%s: %v", name, err)
	}
	st, _, err := l.DomainGetState(d, 0)
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := l.DomainSnapshotLookupByName(d, ReadySnapshot, 0); err != nil {
		b.t.Fatalf("%s has no %s snapshot: %v", name, ReadySnapshot, err)
	}
	x, err := l.DomainGetXMLDesc(d, 0)
	if err != nil {
		b.t.Fatal(err)
	}
	return libvirt.DomainState(st), []byte(x)
}

func (b *bench) destroy(name string) {
	l, err := b.dial()
	if err != nil {
		b.t.Fatal(err)
	}
	defer l.Disconnect()
	d, err := l.DomainLookupByName(name)
	if err == nil {
		err = l.DomainDestroy(d)
	}
	if err != nil {
		b.t.Fatalf("destroy %s: %v", name, err)
	}
}

// Instances are defined, booted and snapshotted once; each task reverts one
// to the ready snapshot, runs on a fresh agent and is torn down.
func TestPoolRunsEachTaskOnARevertedInstance(t *testing.T) {
	b := newBench(t, 2)
	p := b.pool(Options{})
	waitFor(t, p, "two free instances", func(s Status) bool { return s.Images[0].Free == 2 })
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		res, err := p.Submit(ctx, task(fmt.Sprintf("#!/bin/sh\necho run %d\n", i)))
		if err != nil {
			t.Fatal(err)
		}
		if !res.Report.Ran || !strings.Contains(res.Report.Output, fmt.Sprintf("run %d", i)) || res.Attempts != 1 {
			t.Fatalf("run %d: %+v %+v", i, res, res.Report)
		}
	}
	s := p.Status()
	if s.Counters.Reverts != 3 || s.Counters.Finished != 3 || len(s.Recent) != 3 || !s.Libvirt.Connected {
		t.Fatalf("status %+v", s)
	}
	for dom := range b.guests {
		st, x := b.domState(dom)
		if st != libvirt.DomainShutoff {
			t.Errorf("%s is %d after its runs, want shut off", dom, st)
		}
		if want := "mailinspector-agent-key=" + hex.EncodeToString(agent.InstanceKey(b.secret, dom)); !strings.Contains(string(x), want) {
			t.Errorf("%s's XML does not carry its agent key:\n%s", dom, x)
		}
	}
}

// More tasks than instances wait in the queue; a submission whose time is
// up leaves it with va-timeout; the same sample submitted twice runs once.
func TestPoolExhaustionQueuesAndTimesOut(t *testing.T) {
	b := newBench(t, 2)
	p := b.pool(Options{})
	waitFor(t, p, "two free instances", func(s Status) bool { return s.Images[0].Free == 2 })
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res, err := p.Submit(ctx, task(fmt.Sprintf("#!/bin/sh\nsleep 1\necho %d\n", i)))
			if err == nil && !res.Report.Ran {
				err = fmt.Errorf("task %d did not run: %+v", i, res.Report)
			}
			errs <- err
		}(i)
	}
	waitFor(t, p, "both busy and two queued", func(s Status) bool { return s.Images[0].Busy == 2 && s.Queue == 2 })
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err := p.Submit(short, task("#!/bin/sh\necho late\n"))
	cancel()
	if err == nil || !strings.HasPrefix(err.Error(), "va-timeout") {
		t.Fatalf("a submission on a full pool: %v", err)
	}
	// The same sample twice at once: one run, two answers.
	dup := task("#!/bin/sh\nsleep 1\necho dup\n")
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Submit(ctx, dup)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s := p.Status()
	if s.Queue != 0 || s.Counters.Finished != 5 || s.Counters.Reused != 1 || s.Counters.Reverts != 5 {
		t.Fatalf("status %+v", s.Counters)
	}
}

// A libvirtd that stops answering (SIGSTOP) costs one call deadline: the
// connection is dropped, the task is requeued and runs once it is back.
func TestPoolSurvivesAStuckLibvirtd(t *testing.T) {
	b := newBench(t, 1)
	p := b.pool(Options{CallTimeout: time.Second})
	waitFor(t, p, "a free instance", func(s Status) bool { return s.Images[0].Free == 1 })
	b.lvd.Freeze()
	done := make(chan struct{})
	var res *Result
	var err error
	go func() {
		defer close(done)
		res, err = p.Submit(context.Background(), task("#!/bin/sh\necho after the freeze\n"))
	}()
	st := waitFor(t, p, "the stuck call dropped", func(s Status) bool { return s.Libvirt.Drops >= 1 })
	if !strings.Contains(st.Libvirt.LastError, "did not return") {
		t.Errorf("last error %q", st.Libvirt.LastError)
	}
	b.lvd.Thaw()
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if !res.Report.Ran || res.Attempts != 2 {
		t.Fatalf("result %+v", res)
	}
	if s := p.Status(); s.Counters.Requeued != 1 || !s.Libvirt.Connected {
		t.Fatalf("status %+v", s)
	}
}

// A restarted libvirtd has lost the instances (the test driver keeps
// nothing): the pool notices the lost connection, defines and snapshots
// them again, and the next task runs with nothing done by hand.
func TestPoolReconnectsAfterLibvirtdRestart(t *testing.T) {
	b := newBench(t, 1)
	p := b.pool(Options{})
	ctx := context.Background()
	if _, err := p.Submit(ctx, task("#!/bin/sh\necho before\n")); err != nil {
		t.Fatal(err)
	}
	b.lvd.Stop()
	waitFor(t, p, "the connection lost", func(s Status) bool { return !s.Libvirt.Connected && s.Libvirt.Drops >= 1 })
	b.lvd.Start()
	res, err := p.Submit(ctx, task("#!/bin/sh\necho after\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Report.Output, "after") {
		t.Fatalf("report %+v", res.Report)
	}
	if st, _ := b.domState("mi-sbx-linux-0"); st != libvirt.DomainShutoff {
		t.Fatalf("state %d", st)
	}
}

// An instance that dies during a run is taken out of the pool and its task
// goes to another one, once; dying there too fails the task with a reason.
func TestPoolRequeuesOnceThenFails(t *testing.T) {
	b := newBench(t, 2)
	p := b.pool(Options{Retry: 5 * time.Second})
	waitFor(t, p, "two free instances", func(s Status) bool { return s.Images[0].Free == 2 })
	done := make(chan error, 1)
	go func() {
		_, err := p.Submit(context.Background(), task("#!/bin/sh\nsleep 20\n"))
		done <- err
	}()
	killed := map[string]bool{}
	for len(killed) < 2 {
		s := waitFor(t, p, "a busy instance not killed yet", func(s Status) bool {
			for _, in := range s.Images[0].Instances {
				if in.State == StateBusy && !killed[in.Domain] {
					return true
				}
			}
			return false
		})
		for _, in := range s.Images[0].Instances {
			if in.State == StateBusy && !killed[in.Domain] {
				// Let the run start before pulling the plug.
				time.Sleep(300 * time.Millisecond)
				b.destroy(in.Domain)
				killed[in.Domain] = true
			}
		}
	}
	err := <-done
	if err == nil || !strings.HasPrefix(err.Error(), "va-error") || !strings.Contains(err.Error(), "stopped during the run") {
		t.Fatalf("err %v", err)
	}
	s := p.Status()
	if s.Counters.Requeued != 1 || s.Counters.Failed != 1 || s.Counters.TakenOut < 2 || s.Images[0].Out != 2 {
		t.Fatalf("status %+v", s)
	}
	if s.Recent[0].Attempts != 2 || s.Recent[0].Outcome != "error" {
		t.Fatalf("recent %+v", s.Recent)
	}
}
