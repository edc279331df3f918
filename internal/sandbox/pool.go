package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"text/template"
	"time"

	"github.com/digitalocean/go-libvirt"

	"mailinspector/internal/sandbox/agent"
)

// ReadySnapshot is the running-state snapshot every instance is reverted to
// before a run: the guest booted, its agent listening, nothing run yet.
const ReadySnapshot = "mi-ready"

// Image is one guest image and its instances.
type Image struct {
	Name string
	// DomainXML is the text/template of an instance's domain. Fields:
	// .Name (the domain name), .Index, .MAC, .AgentKey (hex; the template
	// puts it in an SMBIOS OEM string "mailinspector-agent-key=…" for the
	// agent to read), .Agent (its address), .Disk and .SMTPPort.
	DomainXML string
	// Agents are the instances' agent addresses on the sandbox network,
	// one per instance: their number is how many of this image run at once.
	Agents []string
	// BaseImage, when set, is the guest image's path on the libvirt host:
	// each instance gets a qcow2 overlay on it in StoragePool (made by the
	// pool through libvirt, so a remote host needs nothing done by hand),
	// made afresh whenever the domain is defined; the template names it
	// {{.Disk}}. Empty: the template names each instance's disk itself.
	BaseImage   string
	StoragePool string
	// SMTPPort is the fake internet's SMTP port, {{.SMTPPort}} in the
	// template (25 when 0): the guest sends every connection to port 25
	// there, whatever address the sample dialled.
	SMTPPort int
}

// Options tune the pool.
type Options struct {
	// Secret derives each instance's agent key (agent.InstanceKey).
	Secret []byte
	// CallTimeout bounds every libvirt call.
	CallTimeout time.Duration
	// ReadyTimeout bounds the wait for the agent after a start or revert.
	ReadyTimeout time.Duration
	// RunTimeout is a run's time limit when the task gives none.
	RunTimeout time.Duration
	// Retry is how long an instance taken out of the pool waits before it
	// is prepared again.
	Retry time.Duration
	// Requeues is how often a task whose instance failed is run again
	// elsewhere before it fails (1: "requeued once").
	Requeues int
	// HTTP is the client for the agents (nil: one without a proxy).
	HTTP *http.Client
	// Isolation are outside addresses the agent must fail to reach
	// before each run (agent.RunRequest.Isolation).
	Isolation []string
	// Pause, instead of destroying an instance after its run, suspends it:
	// a paused guest runs nothing, and the next revert replaces its whole
	// state without starting a new qemu. Off: destroyed, as a throw-away
	// VM should be.
	Pause bool
	// Observed, when set, returns what the fake internet saw from a
	// guest (its agent's host) during a run, as events for the report.
	Observed func(guest string, since, until time.Time) []agent.Event
	// Screenshot takes the guest's display at the end of each run.
	Screenshot bool
	// Proxy is the sandbox network's way to the real web
	// (agent.RunRequest.Proxy) for links; empty: the guests see the fake
	// internet only.
	Proxy string
	// ProxySamples hands Proxy to files too (in http_proxy): a sample
	// then reaches the real web through it, second stages included.
	ProxySamples bool
}

func (o *Options) defaults() {
	if o.CallTimeout <= 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 2 * time.Minute
	}
	if o.RunTimeout <= 0 {
		o.RunTimeout = 2 * time.Minute
	}
	if o.Retry <= 0 {
		o.Retry = 30 * time.Second
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	}
}

// Task is one sample (or URL) to detonate.
type Task struct {
	Image   string
	Name    string
	SHA256  string
	Sample  []byte
	URL     string
	Timeout time.Duration
}

// Result is a finished detonation.
type Result struct {
	Report   *agent.Report
	Instance string
	Attempts int
	Waited   time.Duration // in the queue
	Took     time.Duration // from submission to report
	Phases   Phases
	// Screenshot is nil unless Options.Screenshot.
	Screenshot *Screenshot
}

// Instance states.
const (
	StatePreparing = "preparing"
	StateFree      = "free"
	StateBusy      = "busy"
	StateOut       = "out"
)

type instance struct {
	img    *imageState
	index  int
	domain string
	agent  *agent.Client

	// under Pool.mu
	state    string
	reason   string
	since    time.Time
	prepared bool
	watching bool                    // a run is on: a stop event means it died
	cancel   context.CancelCauseFunc // of the run
	runs     int
}

type imageState struct {
	Image
	tmpl      *template.Template
	instances []*instance
}

type job struct {
	task     *Task
	key      string
	attempts int
	enqueued time.Time
	started  time.Time
	done     chan struct{}
	res      *Result
	err      error
	waiters  int
}

// Pool runs tasks on throw-away instances of the images.
type Pool struct {
	conn *Conn
	opts Options

	ctx    context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	wake   chan struct{} // closed and replaced when the queue or an instance changes
	images map[string]*imageState
	byDom  map[string]*instance
	queue  []*job
	flight map[string]*job
	recent []Analysis
	stats  Counters
}

// Analysis is one finished task, for `show sandbox`.
type Analysis struct {
	SHA256   string    `json:"sha256"`
	Image    string    `json:"image"`
	Instance string    `json:"instance,omitempty"`
	Finished time.Time `json:"finished"`
	WaitedMS int64     `json:"waited_ms"`
	TookMS   int64     `json:"took_ms"`
	Attempts int       `json:"attempts"`
	Outcome  string    `json:"outcome"` // ran, not-run, error
	Error    string    `json:"error,omitempty"`
	Phases   Phases    `json:"phases"`
}

// Counters are the pool's running totals (Prometheus-style).
type Counters struct {
	Submitted int64 `json:"submitted"`
	Reused    int64 `json:"reused"` // joined a run of the same sample
	Finished  int64 `json:"finished"`
	Failed    int64 `json:"failed"`
	Requeued  int64 `json:"requeued"`
	TakenOut  int64 `json:"taken_out"`
	Reverts   int64 `json:"reverts"`
}

// NewPool starts one worker per instance; each prepares its instance
// (defines the domain and takes the ready snapshot when they are missing)
// and then takes tasks for its image from the queue.
func NewPool(conn *Conn, images []Image, opts Options) (*Pool, error) {
	opts.defaults()
	ctx, stop := context.WithCancel(context.Background())
	p := &Pool{conn: conn, opts: opts, ctx: ctx, stop: stop, wake: make(chan struct{}),
		images: map[string]*imageState{}, byDom: map[string]*instance{}, flight: map[string]*job{}}
	for _, im := range images {
		if im.Name == "" || len(im.Agents) == 0 {
			stop()
			return nil, fmt.Errorf("sandbox image %q: a name and at least one agent address", im.Name)
		}
		t, err := template.New(im.Name).Option("missingkey=error").Parse(im.DomainXML)
		if err != nil {
			stop()
			return nil, fmt.Errorf("sandbox image %s: domain template: %w", im.Name, err)
		}
		st := &imageState{Image: im, tmpl: t}
		for i, addr := range im.Agents {
			dom := fmt.Sprintf("mi-sbx-%s-%d", im.Name, i)
			in := &instance{img: st, index: i, domain: dom, state: StatePreparing, since: time.Now(),
				agent: &agent.Client{Addr: addr, Key: agent.InstanceKey(opts.Secret, dom), HTTP: opts.HTTP}}
			st.instances = append(st.instances, in)
			p.byDom[dom] = in
		}
		p.images[im.Name] = st
	}
	conn.OnEvent = p.onEvent
	conn.OnDrop = p.onDrop
	for _, st := range p.images {
		for _, in := range st.instances {
			p.wg.Add(1)
			go p.worker(in)
		}
	}
	return p, nil
}

// Close stops the workers (runs in progress are cancelled) and the
// connection.
func (p *Pool) Close() {
	p.stop()
	p.wg.Wait()
	p.conn.Close()
}

// changed wakes everything waiting on the pool's state. Under p.mu.
func (p *Pool) changed() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// onEvent: a domain that stops or crashes during a run has died under it.
func (p *Pool) onEvent(e Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	in := p.byDom[e.Domain]
	if in == nil || !in.watching {
		return
	}
	if e.Type == libvirt.DomainEventStopped || e.Type == libvirt.DomainEventCrashed {
		in.watching = false
		in.cancel(fmt.Errorf("instance %s %s during the run", in.domain, eventName(e.Type)))
	}
}

func eventName(t libvirt.DomainEventType) string {
	switch t {
	case libvirt.DomainEventStopped:
		return "stopped"
	case libvirt.DomainEventCrashed:
		return "crashed"
	}
	return fmt.Sprint(t)
}

// onDrop: with the connection gone the instances are in an unknown state
// (libvirtd may have restarted and lost them): runs stop, every instance
// is checked again before its next task.
func (p *Pool) onDrop(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, in := range p.byDom {
		in.prepared = false
		if in.watching {
			in.watching = false
			in.cancel(fmt.Errorf("libvirt connection lost: %w", err))
		}
	}
	p.changed()
}

func (p *Pool) setState(in *instance, state, reason string) {
	p.mu.Lock()
	in.state, in.reason, in.since = state, reason, time.Now()
	if state == StateOut {
		p.stats.TakenOut++
	}
	p.changed()
	p.mu.Unlock()
}

func (p *Pool) sleep(d time.Duration) bool {
	select {
	case <-p.ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func (p *Pool) worker(in *instance) {
	defer p.wg.Done()
	for p.ctx.Err() == nil {
		p.mu.Lock()
		ready := in.prepared
		p.mu.Unlock()
		if !ready {
			p.setState(in, StatePreparing, "")
			if err := p.prepare(in); err != nil {
				p.setState(in, StateOut, err.Error())
				if !p.sleep(p.opts.Retry) {
					return
				}
				continue
			}
			p.mu.Lock()
			in.prepared = true
			p.mu.Unlock()
			p.setState(in, StateFree, "")
		}
		j := p.next(in)
		if j == nil {
			continue // stopping, or the instance needs preparing again
		}
		rep, ph, shot, err := p.run(in, j)
		if err == nil {
			p.finish(j, &Result{Report: rep, Instance: in.domain, Attempts: j.attempts, Phases: ph, Screenshot: shot}, nil)
			p.setState(in, StateFree, "")
			continue
		}
		// The instance failed the task (it died, libvirt failed, the agent
		// went silent): out of the pool, and the task goes elsewhere once.
		p.mu.Lock()
		in.prepared = false
		// Requeued only while someone still waits for it.
		if j.attempts <= p.opts.Requeues && p.ctx.Err() == nil && j.waiters > 0 {
			p.stats.Requeued++
			p.queue = append([]*job{j}, p.queue...)
			p.changed()
			j = nil
		}
		p.mu.Unlock()
		// Out before the caller hears of the failure, so that what it
		// reads of the pool next already says so.
		p.setState(in, StateOut, err.Error())
		if j != nil {
			p.finish(j, nil, fmt.Errorf("va-error: %w", err))
		}
		if !p.sleep(p.opts.Retry) {
			return
		}
	}
}

// next waits for a task of the instance's image; nil when the pool stops
// or the instance has to be prepared again (the connection dropped).
func (p *Pool) next(in *instance) *job {
	for {
		p.mu.Lock()
		if !in.prepared || p.ctx.Err() != nil {
			p.mu.Unlock()
			return nil
		}
		for i, j := range p.queue {
			if j.task.Image == in.img.Name {
				p.queue = append(p.queue[:i], p.queue[i+1:]...)
				j.attempts++
				if j.started.IsZero() {
					j.started = time.Now()
				}
				in.state, in.since = StateBusy, time.Now()
				p.changed()
				p.mu.Unlock()
				return j
			}
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-wake:
		case <-p.ctx.Done():
			return nil
		}
	}
}

// Ping asks libvirtd for its version: the cheapest call that proves the
// host answers.
func (p *Pool) Ping(ctx context.Context) error {
	return p.conn.Call(ctx, "ping", func(l *libvirt.Libvirt) error {
		_, err := l.ConnectGetLibVersion()
		return err
	})
}

// Submit runs a task and waits for its report, or until ctx ends (the
// submission timeout: the task leaves the queue). The same sample already
// queued or running is not run twice: the caller joins it.
func (p *Pool) Submit(ctx context.Context, t *Task) (*Result, error) {
	if p.images[t.Image] == nil {
		return nil, fmt.Errorf("no sandbox image %q", t.Image)
	}
	key := t.Image + "/" + t.SHA256
	if t.SHA256 == "" {
		key = ""
	}
	p.mu.Lock()
	p.stats.Submitted++
	j := p.flight[key]
	if j != nil && key != "" {
		p.stats.Reused++
	} else {
		j = &job{task: t, key: key, enqueued: time.Now(), done: make(chan struct{})}
		if key != "" {
			p.flight[key] = j
		}
		p.queue = append(p.queue, j)
		p.changed()
	}
	j.waiters++
	p.mu.Unlock()
	select {
	case <-j.done:
		return j.res, j.err
	case <-ctx.Done():
		p.mu.Lock()
		j.waiters--
		if j.waiters == 0 {
			// Nobody waits any more: a queued task leaves the queue.
			for i, q := range p.queue {
				if q == j {
					p.queue = append(p.queue[:i], p.queue[i+1:]...)
					delete(p.flight, key)
					p.changed()
					break
				}
			}
		}
		p.mu.Unlock()
		return nil, fmt.Errorf("va-timeout: %w", ctx.Err())
	}
}

func (p *Pool) finish(j *job, res *Result, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.flight[j.key] == j {
		delete(p.flight, j.key)
	}
	a := Analysis{SHA256: j.task.SHA256, Image: j.task.Image, Finished: time.Now().UTC(), Attempts: j.attempts,
		TookMS: time.Since(j.enqueued).Milliseconds()}
	if !j.started.IsZero() {
		a.WaitedMS = j.started.Sub(j.enqueued).Milliseconds()
	}
	if err != nil {
		p.stats.Failed++
		a.Outcome, a.Error = "error", err.Error()
	} else {
		p.stats.Finished++
		res.Waited, res.Took = time.Duration(a.WaitedMS)*time.Millisecond, time.Since(j.enqueued)
		a.Instance, a.Outcome, a.Phases = res.Instance, "ran", res.Phases
		if !res.Report.Ran {
			a.Outcome, a.Error = "not-run", res.Report.Error
		}
	}
	p.recent = append(p.recent, a)
	if len(p.recent) > 50 {
		p.recent = p.recent[len(p.recent)-50:]
	}
	j.res, j.err = res, err
	close(j.done)
}

// InstanceStatus is one instance for `show sandbox`.
type InstanceStatus struct {
	Domain string    `json:"domain"`
	Agent  string    `json:"agent"`
	State  string    `json:"state"`
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since"`
	Runs   int       `json:"runs"`
}

// ImageStatus counts one image's instances.
type ImageStatus struct {
	Name      string           `json:"name"`
	Free      int              `json:"free"`
	Busy      int              `json:"busy"`
	Out       int              `json:"out"`
	Preparing int              `json:"preparing"`
	Instances []InstanceStatus `json:"instances"`
}

// Status is the pool for `show sandbox`.
type Status struct {
	Libvirt  ConnStatus    `json:"libvirt"`
	Images   []ImageStatus `json:"images"`
	Queue    int           `json:"queue"`
	Counters Counters      `json:"counters"`
	Recent   []Analysis    `json:"recent"`
}

// Status reports the pool.
func (p *Pool) Status() Status {
	s := Status{Libvirt: p.conn.Status()}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, st := range p.images {
		is := ImageStatus{Name: st.Name}
		for _, in := range st.instances {
			is.Instances = append(is.Instances, InstanceStatus{Domain: in.domain, Agent: in.agent.Addr, State: in.state,
				Reason: in.reason, Since: in.since, Runs: in.runs})
			switch in.state {
			case StateFree:
				is.Free++
			case StateBusy:
				is.Busy++
			case StateOut:
				is.Out++
			default:
				is.Preparing++
			}
		}
		s.Images = append(s.Images, is)
	}
	sort.Slice(s.Images, func(a, b int) bool { return s.Images[a].Name < s.Images[b].Name })
	s.Queue = len(p.queue)
	s.Counters = p.stats
	s.Recent = append([]Analysis(nil), p.recent...)
	return s
}
