package appliance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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
	"mailinspector/internal/sandbox/verdicts"
	"mailinspector/internal/services"
	"mailinspector/internal/store"
)

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
	a.va = &verdicts.Store{Pool: pool, DB: a.db, Image: s.Image, Timeout: s.SubmissionTimeout, RunTime: s.RunTime,
		Contract: a.services.Get(services.Libvirt), Log: a.Log, Ctx: a.runCtx,
		// The runner exists by the time a run ends: runs start from its
		// analyses.
		Wake: func(ids []string) {
			for _, id := range ids {
				a.runner.Submit(id)
			}
		}}
	a.vaAccel = sandbox.Accelerator(string(tmpl))
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

// SandboxStatus is `show sandbox`.
func (a *Appliance) SandboxStatus(ctx context.Context) (*cli.Sandbox, error) {
	if a.va == nil {
		return &cli.Sandbox{Configured: false}, nil
	}
	st := a.va.Pool.Status()
	return &cli.Sandbox{Configured: true, Accelerator: a.vaAccel, Status: &st}, nil
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

// AnalysisPage is show report SHA256.
func (a *Appliance) AnalysisPage(ctx context.Context, sha string) (string, error) {
	row, err := a.db.SandboxAnalysis(ctx, sha)
	if errors.Is(err, store.ErrNoAnalysis) {
		return "", fmt.Errorf("no analysis of %s", sha)
	}
	if err != nil {
		return "", err
	}
	if len(row.HTML) == 0 {
		return "", fmt.Errorf("the analysis of %s has no report (%s)", sha, row.State)
	}
	return string(row.HTML), nil
}

// virtualAnalyzerStage is the pipeline's step for the sandbox: after the
// other engines, so that it sees what they found.
func (a *Appliance) virtualAnalyzerStage(exempt func(analysis.Finding) (string, bool)) analysis.VirtualAnalyzer {
	s := a.Settings.Sandbox
	st := analysis.VirtualAnalyzer{Contract: a.services.Get(services.Libvirt), FileTypes: s.FileTypes, Links: s.URLs, Exempt: exempt,
		MinRisk:     map[string]string{"suspicious": analysis.RiskLow, "highly-suspicious": analysis.RiskMedium}[s.Submit],
		ForcedTypes: s.ForcedTypes, SubmissionTimeout: s.SubmissionTimeout, Poll: 2 * time.Second, MaxWait: 30 * time.Second,
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
	return a.va.Pool.Collector()
}
