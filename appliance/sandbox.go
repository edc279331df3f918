package appliance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mailinspector/internal/analysis"
	"mailinspector/internal/archive"
	"mailinspector/internal/cli"
	"mailinspector/internal/durable"
	"mailinspector/internal/message"
	"mailinspector/internal/netguard"
	"mailinspector/internal/sandbox"
	"mailinspector/internal/sandbox/agent"
	"mailinspector/internal/sandbox/fakenet"
	"mailinspector/internal/services"
	"mailinspector/internal/store"
)

// virtualAnalyzer is the appliance's side of the sandbox: the pool, the
// verdicts in the database (one per SHA-256, reused), and the samples in
// flight. It is analysis.Sandbox for the pipeline's stage.
type virtualAnalyzer struct {
	pool     *sandbox.Pool
	db       *store.DB
	image    string
	timeout  time.Duration
	runTime  time.Duration
	contract *services.Client
	accel    string
	log      *slog.Logger
	ctx      context.Context // the appliance's run context
	wg       *sync.WaitGroup

	mu       sync.Mutex
	inflight map[string]bool
}

// startSandbox builds the pool when sandbox.libvirt is set. A template
// that cannot be read is a settings error; a libvirt host out of reach is
// not (the pool keeps trying; the stage is skipped meanwhile).
func (a *Appliance) startSandbox() error {
	s := a.Settings.Sandbox
	if s.Libvirt == "" {
		return nil
	}
	u, err := sandbox.ParseURI(s.Libvirt)
	if err != nil {
		return fmt.Errorf("sandbox.libvirt: %w", err)
	}
	tmpl, err := os.ReadFile(s.DomainTemplate)
	if err != nil {
		return fmt.Errorf("sandbox.domain_template: %w", err)
	}
	secret, err := sandboxSecret(a.DataDir)
	if err != nil {
		return err
	}
	n := s.Instances
	if n == 0 {
		n = autoInstances()
	}
	img := sandbox.Image{Name: s.Image, DomainXML: string(tmpl), BaseImage: s.BaseImage, StoragePool: s.StoragePool, SMTPPort: s.FakeNetSMTPPort}
	for i := 0; i < n; i++ {
		addr := s.AgentBase.Addr()
		for j := 0; j < i; j++ {
			addr = addr.Next()
		}
		img.Agents = append(img.Agents, netip.AddrPortFrom(addr, s.AgentBase.Port()).String())
	}
	conn := sandbox.NewConn(u, s.CallTimeout)
	// A guest booting under TCG takes a minute or more before its agent answers.
	opts := sandbox.Options{Secret: secret, CallTimeout: s.CallTimeout, RunTimeout: s.RunTime, Requeues: 1, ReadyTimeout: 5 * time.Minute,
		Isolation: s.IsolationCheck, Retry: min(30*time.Second, max(time.Second, s.CallTimeout)), Pause: s.Teardown == "pause", Screenshot: s.Screenshot, ProxySamples: s.ProxySamples}
	if s.FakeNet.IsValid() {
		proxy := a.sandboxProxy()
		if proxy != nil {
			for _, ag := range img.Agents {
				proxy.Clients = append(proxy.Clients, netip.MustParseAddrPort(ag).Addr())
			}
		}
		a.startFakeNet(s.FakeNet, fakenet.Ports{DNS: 53, HTTP: 80, HTTPS: 443, SMTP: s.FakeNetSMTPPort}, proxy)
		opts.Observed = a.observed
		if s.Proxy != "off" {
			opts.Proxy = "http://" + netip.AddrPortFrom(s.FakeNet, uint16(s.ProxyPort)).String()
		}
	}
	pool, err := sandbox.NewPool(conn, []sandbox.Image{img}, opts)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	a.va = &virtualAnalyzer{pool: pool, db: a.db, image: s.Image, timeout: s.SubmissionTimeout, runTime: s.RunTime,
		contract: a.services.Get(services.Libvirt), accel: accelerator(string(tmpl)), log: a.Log, ctx: a.runCtx, wg: &a.wg,
		inflight: map[string]bool{}}
	return nil
}

// startFakeNet runs the fake internet on the sandbox network. The address
// exists once libvirt has brought the network up, which may be after the
// appliance starts: until then it tries again every ten seconds.
func (a *Appliance) startFakeNet(addr netip.Addr, ports fakenet.Ports, proxy *fakenet.Proxy) {
	a.goRun(func() {
		for {
			n, err := fakenet.Start(addr, ports)
			if err == nil && proxy != nil {
				if _, err = n.StartProxy(a.Settings.Sandbox.ProxyPort, *proxy); err != nil {
					n.Close()
				}
			}
			if err == nil {
				a.fakenet.Store(n)
				a.Log.Info("sandbox fake internet listening", "addr", addr.String())
				<-a.runCtx.Done()
				n.Close()
				return
			}
			a.Log.Warn("sandbox fake internet: not yet", "err", err)
			select {
			case <-a.runCtx.Done():
				return
			case <-time.After(10 * time.Second):
			}
		}
	})
}

// sandboxProxy is the sandbox network's way to the web (sandbox.proxy),
// nil when off.
func (a *Appliance) sandboxProxy() *fakenet.Proxy {
	s := a.Settings.Sandbox
	if s.Proxy == "off" {
		return nil
	}
	p := &fakenet.Proxy{Guard: &netguard.Guard{Allow: s.ProxyAllow}}
	if s.Proxy != "direct" {
		p.Upstream, _ = url.Parse(s.Proxy) // checked by the settings
	}
	return p
}

// observed is what the fake internet saw from a guest during a run.
func (a *Appliance) observed(guest string, since, until time.Time) []agent.Event {
	n := a.fakenet.Load()
	if n == nil {
		return nil
	}
	var out []agent.Event
	for _, c := range n.Seen(guest, since, until) {
		out = append(out, agent.Event{MS: c.At.Sub(since).Milliseconds(), Type: c.Kind, Addr: c.Name, Detail: c.Detail})
	}
	return out
}

// sandboxSecret is the appliance's secret the instance keys derive from,
// made once and kept in the data directory.
func sandboxSecret(dataDir string) ([]byte, error) {
	p := filepath.Join(dataDir, "sandbox.secret")
	if b, err := os.ReadFile(p); err == nil {
		if k, err := hex.DecodeString(strings.TrimSpace(string(b))); err == nil && len(k) >= 32 {
			return k, nil
		}
		return nil, fmt.Errorf("%s: not a hex secret of 32 bytes or more", p)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k := make([]byte, 32)
	rand.Read(k)
	return k, durable.WriteFile(p, []byte(hex.EncodeToString(k)+"\n"), 0o600)
}

// autoInstances: one per core and one per free GiB beyond 2 GiB, at least
// one.
func autoInstances() int {
	n := runtime.NumCPU()
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "MemAvailable:") {
				fmt.Sscanf(strings.TrimPrefix(l, "MemAvailable:"), "%d", &kb)
			}
		}
		if kb > 0 {
			n = min(n, int(kb/(1<<20))-2)
		}
	}
	return max(n, 1)
}

var domainType = regexp.MustCompile(`<domain[^>]*\stype=['"]([a-z]+)['"]`)

// accelerator says how the instances run, from the domain type.
func accelerator(tmpl string) string {
	m := domainType.FindStringSubmatch(tmpl)
	if m == nil {
		return "unknown"
	}
	switch m[1] {
	case "kvm":
		return "kvm"
	case "qemu":
		return "tcg (emulation, slow: give the appliance nested virtualisation or a remote libvirt host)"
	}
	return m[1] + " driver"
}

// Usable: the stage is skipped (and sandbox.on_error applies) when every
// instance is out of the pool; instances still being prepared take
// submissions, which wait in the queue.
func (v *virtualAnalyzer) Usable() error {
	st := v.pool.Status()
	var reasons []string
	for _, im := range st.Images {
		if im.Free+im.Busy+im.Preparing > 0 {
			return nil
		}
		for _, in := range im.Instances {
			reasons = append(reasons, in.Domain+": "+in.Reason)
		}
	}
	if len(reasons) == 0 {
		return errors.New("no sandbox instance")
	}
	return fmt.Errorf("no sandbox instance usable (%s)", strings.Join(reasons, "; "))
}

// Verdict returns a sample's row, submitting it when it has none, when a
// try that failed before since is to be repeated, or when its run was lost
// (pending, but not in flight here: the appliance restarted).
func (v *virtualAnalyzer) Verdict(ctx context.Context, smp analysis.SandboxSample, since time.Time) (*store.SandboxAnalysis, error) {
	sha, name := smp.Key, smp.Name
	row, err := v.db.SandboxVerdict(ctx, sha)
	if err != nil && !errors.Is(err, store.ErrNoAnalysis) {
		return nil, err
	}
	v.mu.Lock()
	flying := v.inflight[sha]
	v.mu.Unlock()
	was, claim := "", false
	switch {
	case row == nil:
		claim = true
	case row.State == store.SandboxPending && !flying:
		was, claim = row.State, true
	case (row.State == store.SandboxError || row.State == store.SandboxTimeout) && row.Finished.Before(since):
		was, claim = row.State, true
	case smp.URL != "" && row.State == store.SandboxDone && row.Finished.Before(since.Add(-linkVerdictTTL)):
		// A file stays what it is; a page changes (a phishing kit goes up
		// on a clean page): a link's verdict is redone once it is old.
		was, claim = row.State, true
	}
	if !claim {
		return row, nil
	}
	now := time.Now()
	won := false
	if err := v.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		won, err = store.ClaimSandbox(tx, sha, name, v.image, now, was)
		return err
	}); err != nil {
		return nil, err
	}
	if won {
		v.submit(smp)
	}
	return &store.SandboxAnalysis{SHA256: sha, Name: name, Image: v.image, State: store.SandboxPending, Submitted: now}, nil
}

// linkVerdictTTL is how long a link's verdict serves later messages.
const linkVerdictTTL = 24 * time.Hour

// submit detonates a sample in the background and stores its outcome.
func (v *virtualAnalyzer) submit(smp analysis.SandboxSample) {
	sha, name := smp.Key, smp.Name
	v.mu.Lock()
	v.inflight[sha] = true
	v.mu.Unlock()
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		defer func() {
			v.mu.Lock()
			delete(v.inflight, sha)
			v.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(v.ctx, v.timeout)
		res, err := v.pool.Submit(ctx, &sandbox.Task{Image: v.image, Name: name, SHA256: sha, Sample: smp.Data, URL: smp.URL, Timeout: v.runTime})
		cancel()
		if v.ctx.Err() != nil {
			return // stopping: the row stays pending and is submitted again after the restart
		}
		a := &store.SandboxAnalysis{SHA256: sha, Finished: time.Now()}
		switch {
		case err != nil && errors.Is(err, context.DeadlineExceeded):
			a.State, a.Error = store.SandboxTimeout, err.Error()
		case err != nil:
			a.State, a.Error = store.SandboxError, err.Error()
			v.contract.Record(err)
		default:
			v.contract.Record(nil)
			verdict := sandbox.Judge(res.Report)
			rep := &sandbox.AnalysisReport{SHA256: sha, Name: name, Image: v.image, Instance: res.Instance,
				Finished: a.Finished.UTC(), TookMS: res.Took.Milliseconds(), Verdict: verdict, Report: res.Report}
			rep.SetScreenshot(res.Screenshot)
			a.Report, _ = json.Marshal(rep)
			a.HTML, _ = sandbox.HTML(rep)
			a.Summary = verdict.Summary()
			if verdict.Failed {
				a.State, a.Error = store.SandboxError, "va-error: "+verdict.Reason
			} else {
				a.State, a.Risk = store.SandboxDone, verdict.Risk
			}
		}
		if err := v.db.Write(context.WithoutCancel(v.ctx), func(tx *store.Tx) error { return store.FinishSandbox(tx, a) }); err != nil {
			// The row stays pending: the next look at a message with this
			// sample submits it again.
			v.log.Error("sandbox: store the verdict", "sha256", sha, "err", err)
		}
	}()
}

// SandboxStatus is `show sandbox`.
func (a *Appliance) SandboxStatus(ctx context.Context) (*cli.Sandbox, error) {
	if a.va == nil {
		return &cli.Sandbox{Configured: false}, nil
	}
	st := a.va.pool.Status()
	return &cli.Sandbox{Configured: true, Accelerator: a.va.accel, Status: &st}, nil
}

// Analysis is `show analysis SHA256`.
func (a *Appliance) Analysis(ctx context.Context, what string) (*cli.Analysis, error) {
	key := strings.ToLower(what)
	if strings.HasPrefix(what, "http://") || strings.HasPrefix(what, "https://") {
		// A link: its verdict is filed under its normalised form's key.
		u, ok := message.Normalize(what, nil)
		if !ok {
			return nil, fmt.Errorf("%s: not a URL the analysis can read", what)
		}
		key = analysis.LinkKey(u)
	}
	row, err := a.db.SandboxAnalysis(ctx, key)
	if errors.Is(err, store.ErrNoAnalysis) {
		return nil, fmt.Errorf("no analysis of %s", what)
	}
	if err != nil {
		return nil, err
	}
	out := &cli.Analysis{SHA256: row.SHA256, Name: row.Name, Image: row.Image, State: row.State, Risk: row.Risk,
		Summary: row.Summary, Error: row.Error, Submitted: timeText(row.Submitted), Finished: timeText(row.Finished)}
	if len(row.Report) > 0 {
		out.Report = json.RawMessage(row.Report)
	}
	return out, nil
}

// virtualAnalyzerStage is the pipeline's step for the sandbox: after the
// other engines, so that it sees what they found.
func (a *Appliance) virtualAnalyzerStage(exempt func(analysis.Finding) (string, bool)) analysis.VirtualAnalyzer {
	s := a.Settings.Sandbox
	st := analysis.VirtualAnalyzer{Contract: a.services.Get(services.Libvirt), FileTypes: s.FileTypes, Links: s.URLs, Exempt: exempt,
		MinRisk:     map[string]string{"suspicious": analysis.RiskLow, "highly-suspicious": analysis.RiskMedium}[s.Submit],
		ForcedTypes: s.ForcedTypes, SubmissionTimeout: s.SubmissionTimeout, Poll: 2 * time.Second,
		Limits: WalkLimits(a.Settings), MaxSample: agent.MaxSample, Passwords: a.Settings.Archive.Passwords,
		Archives: archive.Limits{MaxDepth: a.Settings.Archive.MaxDepth, MaxMembers: a.Settings.Archive.MaxMembers,
			MaxTotalBytes: a.Settings.Archive.MaxExpandedBytes, MaxRatio: int64(a.Settings.Archive.MaxRatio), MaxInMemory: a.Settings.Archive.MaxInMemory}}
	if a.va != nil {
		st.Sandbox = a.va
	}
	return st
}

// sandboxMetrics are `show sandbox` for Prometheus (the dashboard to come).
func (a *Appliance) sandboxMetrics() prometheus.Collector {
	if a.va == nil {
		return multiCollector(nil)
	}
	return sandboxCollector{a.va.pool}
}

// sandboxCollector reads the pool's status once per scrape.
type sandboxCollector struct{ pool *sandbox.Pool }

var (
	sbxConnected = prometheus.NewDesc("mailinspector_sandbox_libvirt_connected", "1 while the libvirt connection is up.", nil, nil)
	sbxQueue     = prometheus.NewDesc("mailinspector_sandbox_queue", "Samples waiting for an instance.", nil, nil)
	sbxInstances = prometheus.NewDesc("mailinspector_sandbox_instances", "Sandbox instances by state.", []string{"state"}, nil)
	sbxCounters  = []struct {
		desc *prometheus.Desc
		get  func(sandbox.Counters) int64
	}{
		{prometheus.NewDesc("mailinspector_sandbox_submitted_total", "Samples submitted.", nil, nil), func(c sandbox.Counters) int64 { return c.Submitted }},
		{prometheus.NewDesc("mailinspector_sandbox_reused_total", "Submissions that joined a run of the same sample.", nil, nil), func(c sandbox.Counters) int64 { return c.Reused }},
		{prometheus.NewDesc("mailinspector_sandbox_analyses_total", "Samples analysed to a report.", nil, nil), func(c sandbox.Counters) int64 { return c.Finished }},
		{prometheus.NewDesc("mailinspector_sandbox_failed_total", "Samples the sandbox failed to analyse.", nil, nil), func(c sandbox.Counters) int64 { return c.Failed }},
		{prometheus.NewDesc("mailinspector_sandbox_requeued_total", "Tasks run again after their instance failed.", nil, nil), func(c sandbox.Counters) int64 { return c.Requeued }},
		{prometheus.NewDesc("mailinspector_sandbox_reverts_total", "Instance reverts to the ready snapshot.", nil, nil), func(c sandbox.Counters) int64 { return c.Reverts }},
	}
)

func (sandboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sbxConnected
	ch <- sbxQueue
	ch <- sbxInstances
	for _, c := range sbxCounters {
		ch <- c.desc
	}
}

func (c sandboxCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.pool.Status()
	up := 0.0
	if st.Libvirt.Connected {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(sbxConnected, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(sbxQueue, prometheus.GaugeValue, float64(st.Queue))
	n := map[string]int{sandbox.StateFree: 0, sandbox.StateBusy: 0, sandbox.StateOut: 0, sandbox.StatePreparing: 0}
	for _, im := range st.Images {
		for _, in := range im.Instances {
			n[in.State]++
		}
	}
	for state, k := range n {
		ch <- prometheus.MustNewConstMetric(sbxInstances, prometheus.GaugeValue, float64(k), state)
	}
	for _, m := range sbxCounters {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, float64(m.get(st.Counters)))
	}
}
