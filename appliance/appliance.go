// Package appliance is the supervisor of `mailinspector serve`: it builds
// every subsystem from the settings in one place, starts them in order
// (store, spool, analysis, delivery, control socket, SMTP last), reports
// readiness to systemd, and stops them in reverse.
package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/robfig/cron/v3"

	"mailinspector/internal/accounts"
	"mailinspector/internal/analysis"
	"mailinspector/internal/archive"
	"mailinspector/internal/cli"
	"mailinspector/internal/clickguard"
	"mailinspector/internal/configure"
	"mailinspector/internal/control"
	"mailinspector/internal/delivery"
	"mailinspector/internal/disk"
	"mailinspector/internal/durable"
	"mailinspector/internal/engine/clamd"
	"mailinspector/internal/logring"
	"mailinspector/internal/message"
	"mailinspector/internal/policy"
	"mailinspector/internal/quarantine"
	"mailinspector/internal/retention"
	"mailinspector/internal/sandbox/fakenet"
	"mailinspector/internal/sandbox/verdicts"
	"mailinspector/internal/services"
	"mailinspector/internal/settings"
	"mailinspector/internal/siem"
	"mailinspector/internal/smtpd"
	"mailinspector/internal/spool"
	"mailinspector/internal/store"
	"mailinspector/internal/timeofclick"
	"mailinspector/internal/updates"
	"mailinspector/internal/verdict"
)

// Version is set by the build (-ldflags -X).
var Version = "dev"

// Appliance is a running daemon.
type Appliance struct {
	DataDir  string
	Settings *settings.Settings
	Log      *slog.Logger

	db         *store.DB
	spool      *spool.Spool
	runner     *verdict.Runner
	quarantine *quarantine.Quarantine
	retention  *retention.Purger
	disk       *disk.Watcher
	configure  *configure.Configurator
	accounts   *accounts.Accounts

	// reload, when set (SetReload, by serve), has the daemon reload its
	// settings file, as SIGHUP does: a settings commit calls it.
	reload atomic.Pointer[func()]
	// logs are the daemon's recent log lines (SetLogs, by serve).
	logs      atomic.Pointer[logring.Ring]
	queue     *delivery.Queue
	smtp      *smtpd.Server
	control   *control.Server
	pprof     *http.Server
	click     *http.Server
	clickAddr net.Addr
	cron      *cron.Cron
	started   time.Time

	clamd       *clamd.Client
	listFeed    *analysis.ListFeed // the lists update bundle in use
	va          *verdicts.Store    // the sandbox's verdicts; nil without sandbox.libvirt
	vaAccel     string             // how its instances run (sandbox.Accelerator)
	fakenet     atomic.Pointer[fakenet.Net]
	hub         *services.Hub
	dnsbl       *services.DNSBL
	services    *services.Registry
	metrics     *http.Server
	metricsAddr net.Addr
	web         *webFront // the web console's front; nil without web.listen
	clickKeys   *timeofclick.Keys
	webAddr     net.Addr
	updates     *updates.Checks // the scheduled hub checks and the Smart Feedback flush
	siem        *siem.Exporter  // nil without siem.servers
	siemStop    context.CancelFunc
	siemDone    chan struct{}

	cancel      context.CancelFunc
	runCtx      context.Context // ends when Stop begins: scheduled service calls give up then
	wg          sync.WaitGroup
	stopOnce    sync.Once
	stopErr     error
	stuckLogged atomic.Bool
	reloading   bool // Stop is part of a reload: no STOPPING=1
}

// SetLogs gives show logs the daemon's recent lines.
func (a *Appliance) SetLogs(r *logring.Ring) { a.logs.Store(r) }

// SetReload is how the daemon reloads its settings file (serve's SIGHUP
// handling); without it a settings commit applies at the next reload.
func (a *Appliance) SetReload(f func()) { a.reload.Store(&f) }

// Start builds and starts everything; when it returns nil the SMTP port and
// the control socket are listening.
func Start(dataDir string, s *settings.Settings, log *slog.Logger) (*Appliance, error) {
	a := &Appliance{DataDir: dataDir, Settings: s, Log: log, started: time.Now()}
	if err := a.start(); err != nil {
		a.Stop()
		return nil, err
	}
	return a, nil
}

func (a *Appliance) start() error {
	s := a.Settings
	applyMemory(s, a.Log)
	if err := durable.PrivateDir(a.DataDir); err != nil {
		return err
	}
	var err error
	if a.db, err = store.Open(filepath.Join(a.DataDir, "mailinspector.db")); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if a.spool, err = spool.Open(filepath.Join(a.DataDir, "spool")); err != nil {
		return err
	}
	if err := a.sweepSpool(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel, a.runCtx = cancel, ctx

	if s.Engine.Clamd != "" {
		if a.clamd, err = clamd.New(s.Engine.Clamd); err != nil {
			return err
		}
	}
	if err := a.buildServices(); err != nil {
		return err
	}
	if err := a.openSIEM(); err != nil {
		return err
	}
	a.listFeed = &analysis.ListFeed{}
	if err := updates.LoadLists(a.DataDir, a.listFeed); err != nil {
		// The installed lists were checked when they went live: one that
		// no longer reads is said, and the appliance runs without it.
		a.Log.Error("lists update: the version in place cannot be read; running without it", "err", err)
	}
	a.updates = &updates.Checks{Hub: a.hub, Services: a.services, DB: a.db, DataDir: a.DataDir, Version: Version, Log: a.Log,
		Ctx: a.runCtx, FeedbackMax: store.MaxOutbox, Installer: a.newInstaller(), Book: a.licenceBook(), SeedDir: s.Updates.SeedDir}
	a.updates.FeedbackMax = s.Feedback.OutboxMax
	if err := a.updates.Book.Open(); err != nil {
		return fmt.Errorf("licence: %w", err)
	}
	if err := a.startSandbox(); err != nil {
		return err
	}
	a.queue = &delivery.Queue{DB: a.db, Spool: a.spool, Transport: a.transport(), Workers: s.Delivery.Workers,
		Retry: s.Delivery.RetryIntervals, Lifetime: s.Delivery.QueueLifetime, Hostname: s.Hostname,
		Log: a.Log, Timeout: s.Delivery.ConnectTimeout + 4*s.Delivery.CommandTimeout,
		OnAttempt: a.services.Get(services.Downstream).Record, Finished: a.finished}

	guard, err := clickguard.Open(a.DataDir, s.Click.BaseURL)
	if err != nil {
		return err
	}
	if a.clickKeys, err = timeofclick.OpenKeys(a.DataDir); err != nil {
		return err
	}
	pols, err := policy.LoadOrDefault(a.DataDir, PolicyDefaults(s))
	if err != nil {
		return fmt.Errorf("policies: %w", err)
	}
	archives := archive.Limits{MaxDepth: s.Archive.MaxDepth, MaxMembers: s.Archive.MaxMembers,
		MaxTotalBytes: s.Archive.MaxExpandedBytes, MaxRatio: int64(s.Archive.MaxRatio), MaxInMemory: s.Archive.MaxInMemory}
	lists := analysis.LocalLists{BlockedHashes: s.Lists.BlockedHashes, ApprovedHashes: s.Lists.ApprovedHashes,
		BlockedURLs: s.Lists.BlockedURLs, BlockedDomains: s.Lists.BlockedDomains, ApprovedDomains: s.Lists.ApprovedDomains, Feed: a.listFeed}
	if s.Click.Listen != "" {
		// The click service: time-of-click's wrapped links, and the pages
		// of the block-links and warn-links actions (clickguard's tokens).
		ln, err := net.Listen("tcp", s.Click.Listen)
		if err != nil {
			return fmt.Errorf("click.listen: %w", err)
		}
		// HTTPS with the appliance's certificate (the console's) and HTTP,
		// on the one address.
		clickTLS, err := smtpd.LoadOrCreateCert(s.Web.TLSCert, s.Web.TLSKey, filepath.Join(a.DataDir, "web-tls"), s.Hostname)
		if err != nil {
			ln.Close()
			return fmt.Errorf("click service certificate: %w", err)
		}
		clickTLS = clickTLS.Clone()
		clickTLS.NextProtos = []string{"http/1.1"} // the server behind speaks HTTP/1.1 on the sniffed connection
		ln = timeofclick.BothListener(ln, clickTLS)
		svc := &timeofclick.Service{DB: a.db, Keys: a.clickKeys, Judge: a.clickJudge(lists), Actions: s.Click.Action, Legacy: guard.Handler(), Log: a.Log,
			Clicked: a.clicked, Pages: s.Click.Page}
		a.click = &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 32 << 10}
		a.clickAddr = ln.Addr()
		go a.click.Serve(ln)
		go a.checkClickService()
	}
	cloud := a.cloud()
	ers := analysis.EmailReputation{Edge: s.ERS.Position == "edge" && s.Mode == "mta", Trusted: s.ERS.TrustedRelays, Client: a.services.Get(services.ERS),
		Check: func(ctx context.Context, ip netip.Addr) *store.ERSCheck {
			return analysis.CheckERS(ctx, a.services.Get(services.ERS), a.dnsbl, ip)
		}}
	walk := WalkLimits(s)
	a.runner = &verdict.Runner{DB: a.db, Spool: a.spool, Workers: a.analysisWorkers(), Log: a.Log, Limits: walk,
		// Queued whether the hub answers now or not (its breaker): the
		// outbox waits for it.
		Feedback: a.services.Get(services.SmartFeedback).InUse(), FeedbackURLs: s.Feedback.ShareURLs,
		Pipeline: &analysis.Pipeline{StageTimeout: s.Engine.ClamdTimeout + time.Minute, Stages: pipelineStages([]analysis.Stage{
			analysis.HeaderSanity{},
			analysis.SenderLists{Blocked: s.Senders.Blocked, Approved: s.Senders.Approved},
			ers,
			analysis.Extraction{Limits: walk, Archives: archives, Passwords: s.Archive.Passwords},
			// The pattern engine, the file checks and the link checks wait
			// on different services: they run at the same time, after one
			// request has asked the hub everything the per-object services
			// want to know of the message.
			analysis.JointLookup{Cloud: cloud, Group: analysis.Concurrent{
				analysis.PatternEngine{Clamd: a.clamd, Timeout: s.Engine.ClamdTimeout, Limits: walk,
					Archives: archives, Passwords: s.Archive.Passwords, Contract: a.services.Get(services.Clamd),
					EachMember: s.Engine.ClamdArchives == "members", OnError: s.Engine.ClamdOnError, DeferFor: s.Engine.ClamdDeferFor},
				analysis.Sequence{analysis.KnownGood{Cloud: cloud}, analysis.FileCensus{Cloud: cloud}, analysis.PredictiveML{Cloud: cloud}},
				analysis.WebReputation{Cloud: cloud},
				analysis.WebInspection{Cloud: cloud},
				analysis.DomainCensus{Cloud: cloud},
			}},
			lists,
			a.virtualAnalyzerStage(lists.Exempt),
			analysis.ThreatConnect{Cloud: cloud},
		}), Exempt: lists.Exempt},
		ScratchDir: filepath.Join(a.DataDir, "spool", "tmp"), ScratchMem: 16 << 20,
		LinkFor: func(id, mode, u string) string {
			return guard.Rewrite(clickguard.Link{URL: u, MessageID: id, Mode: mode})
		},
		Clicks: a.clickRewrite(a.clickWrapper()),
		Policy: policy.Engine{Policies: pols, BCC: s.Mode == "bcc", SubjectTag: s.Policy.SubjectTag, AcceptedDomains: s.SMTP.AcceptedDomains,
			Hostname: s.Hostname, Template: s.Policy.NotifyTemplate,
			ExceptSenders: s.Exceptions.Senders, ExceptRecipients: s.Exceptions.Recipients,
			OnVATimeout: s.Sandbox.OnTimeout, OnVAError: s.Sandbox.OnError, OnClamdError: s.Engine.ClamdOnError},
		Queued: a.queue.Submit, ExpectQueued: a.queue.Expect, ForgetQueued: a.queue.Forget, Decided: a.decided}

	a.retention = &retention.Purger{DB: a.db, Spool: a.spool, Keep: s.Retention.Messages, KeepAudit: s.Retention.Audit, Log: a.Log, Ctx: a.runCtx}
	a.quarantine = &quarantine.Quarantine{DB: a.db, Spool: a.spool, NoCopies: s.Mode == "bcc",
		Deliver: a.queue.Submit, Analyse: a.runner.Submit, ExpireAfter: s.Quarantine.ExpireAfter, Log: a.Log, Dropped: a.finishedID}

	a.accounts = &accounts.Accounts{DB: a.db}
	if err := a.accounts.EnsureBuiltin(ctx); err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	if ok, err := a.accounts.AdoptPendingHash(ctx, a.DataDir); err != nil {
		a.Log.Error("accounts: admin's password from the console", "err", err)
	} else if ok {
		a.Log.Info("accounts: admin's password set by the console")
	}
	a.configure = &configure.Configurator{DataDir: a.DataDir, Log: a.Log,
		Reload: func() {
			if f := a.reload.Load(); f != nil {
				(*f)()
			}
		},
		Audit: func(kind, command string, ok bool, detail, before, after string) {
			a.RecordAudit(context.Background(), cli.AuditRecord{Who: "system", Via: "settings confirmation deadline", Kind: kind,
				Command: command, OK: ok, Detail: detail, Before: before, After: after})
		}}
	a.disk = &disk.Watcher{Path: a.DataDir, HighWater: float64(s.Limits.DiskHighWater) / 100, Log: a.Log}
	if err := a.disk.Check(); err != nil {
		return err
	}

	tlsCfg, err := smtpd.LoadOrCreateCert(s.SMTP.TLSCert, s.SMTP.TLSKey, filepath.Join(a.DataDir, "tls"), s.Hostname)
	if err != nil {
		return err
	}
	a.smtp = smtpd.New(smtpd.Config{
		Hostname: s.Hostname, Listen: s.SMTP.Listen, MaxConnections: s.SMTP.MaxConnections, MaxConnectionsIP: s.SMTP.MaxConnectionsIP,
		MaxRecipients: s.SMTP.MaxRecipients, MaxLineLength: s.SMTP.MaxLineLength, MaxMessageBytes: s.Limits.MaxMessageBytes,
		MaxHeaderBytes: s.Limits.MaxHeaderBytes,
		CommandTimeout: s.SMTP.CommandTimeout, DataTimeout: s.SMTP.DataTimeout, TLS: tlsCfg,
		AllowNetworks: s.SMTP.AllowNetworks, DenyNetworks: s.SMTP.DenyNetworks, TrustedNetworks: s.SMTP.TrustedNetworks,
		AcceptedDomains: s.SMTP.AcceptedDomains, NormalizeBareLF: s.SMTP.BareLF == "normalize", RequireHeloDomain: s.SMTP.RequireHeloDomain,
		ProxyNetworks: s.SMTP.ProxyNetworks, ERSAction: s.ERS.Action, CheckClient: a.edgeCheck(),
		ERSWait:  2 * s.ServiceFor(services.ERS).Deadline,
		DiskFull: a.disk.Full,
	}, a.spool, a.db, smtpd.Handoff{Accepted: a.runner.Submit, Expect: a.runner.Expect, Forget: a.runner.Forget}, a.Log)

	if a.control, err = control.Listen(filepath.Join(a.DataDir, control.SocketName), a, a.Log); err != nil {
		return err
	}
	a.control.Account = a.accountRole
	if err := a.smtp.Listen(); err != nil {
		return err
	}
	if s.Debug.PprofListen != "" {
		if err := a.startPprof(s.Debug.PprofListen); err != nil {
			return err
		}
	}
	if s.Metrics.Listen != "" {
		if err := a.startMetrics(s.Metrics.Listen); err != nil {
			return err
		}
	}
	if s.Web.Listen != "" {
		if err := a.startWeb(); err != nil {
			return err
		}
	} else {
		closeWebFront(a.DataDir) // the console was turned off
	}
	a.cron = cron.New()
	for _, job := range []struct {
		key, spec string
		run       func()
	}{
		{"quarantine.expire_schedule", s.Quarantine.ExpireSchedule, a.quarantine.Expire},
		{"retention.schedule", s.Retention.Schedule, func() { a.retention.Run() }},
		{"schedules.feedback", s.Schedules.Feedback, a.updates.FlushFeedback},
		{"schedules.updates", s.Schedules.Updates, a.scheduledUpdates},
		{"schedules.updates", s.Schedules.Updates, a.checkClickService},
		{"schedules.licence", s.Schedules.Licence, a.updates.LicenceCheck},
	} {
		if _, err := a.cron.AddFunc(job.spec, job.run); err != nil {
			return fmt.Errorf("%s: %w", job.key, err)
		}
	}
	a.cron.Start()
	// SIEM export stops last (stop): the events of what finishes during
	// the stop still reach its queues.
	sctx, scancel := context.WithCancel(context.Background())
	a.siemStop, a.siemDone = scancel, make(chan struct{})
	go func() { a.siem.Run(sctx); close(a.siemDone) }()
	a.goRun(func() { a.services.Run(ctx) })
	a.goRun(func() { a.updates.AtStart(ctx) })
	a.goRun(func() { a.watchdog(ctx) })
	a.goRun(func() { a.disk.Run(ctx) })
	a.goRun(func() { a.configure.WatchPending(ctx) })
	a.goRun(func() { a.queue.Run(ctx) })
	a.goRun(func() { a.runner.Run(ctx) })
	a.goRun(a.control.Serve)
	a.goRun(func() {
		if err := a.smtp.Serve(); err != nil {
			a.Log.Error("smtp server stopped", "err", err)
		}
	})
	a.Log.Info("mailinspector started", "version", Version, "mode", s.Mode, "smtp", a.smtp.Addr().String(),
		"data_dir", a.DataDir, "delivery", a.deliveryTarget())
	daemon.SdNotify(false, "READY=1\nSTATUS="+a.statusLine())
	return nil
}

func (a *Appliance) goRun(f func()) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
}

// SMTPAddr is where SMTP listens (useful with port 0).
func (a *Appliance) SMTPAddr() net.Addr { return a.smtp.Addr() }

// Stop shuts down in reverse order: no new mail, then let analysis and
// delivery finish what they hold, then close the database. Calling it again
// does nothing.
func (a *Appliance) Stop() error {
	a.stopOnce.Do(func() { a.stopErr = a.stop() })
	return a.stopErr
}

// StopForReload stops like Stop but without telling systemd the daemon is
// stopping: a settings reload follows (RELOADING=1 was sent).
func (a *Appliance) StopForReload() error {
	a.reloading = true
	return a.Stop()
}

func (a *Appliance) stop() error {
	if !a.reloading {
		daemon.SdNotify(false, daemon.SdNotifyStopping+"\nSTATUS=stopping")
	}
	if a.smtp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		a.smtp.Shutdown(ctx)
		cancel()
	}
	if a.control != nil {
		a.control.Close()
	}
	if a.pprof != nil {
		a.pprof.Close()
	}
	if a.click != nil {
		a.click.Close()
	}
	if a.metrics != nil {
		a.metrics.Close()
	}
	if a.web != nil {
		if a.reloading {
			a.web.pause() // the next appliance resumes it
		} else {
			closeWebFront(a.DataDir)
		}
	}
	if a.cancel != nil {
		// First, so that a scheduled call to a hub that does not answer
		// gives up now instead of holding the stop for its deadline.
		a.cancel()
	}
	if a.va != nil {
		a.va.Pool.Close() // runs in progress stop; their samples stay pending
	}
	if a.cron != nil {
		<-a.cron.Stop().Done() // a running expiry finishes before the database closes
	}
	a.wg.Wait()
	if a.va != nil {
		a.va.Wait() // each run stores its outcome before the database closes
	}
	if a.siemStop != nil {
		a.siemStop()
		<-a.siemDone
	} else {
		a.siem.Close() // opened, but start failed before it ran
	}
	if a.db != nil {
		return a.db.Close()
	}
	return nil
}

// transport is the configured route, and queue reroute's host for the
// messages an administrator sent elsewhere.
func (a *Appliance) transport() delivery.Transport {
	s := a.Settings
	via := &delivery.SMTP{Hostname: s.Hostname, TLS: s.Delivery.TLS,
		ConnectTimeout: s.Delivery.ConnectTimeout, CommandTimeout: s.Delivery.CommandTimeout}
	if len(s.Delivery.Relay) == 0 && !s.Delivery.MX {
		return &delivery.Rerouted{Default: &delivery.Maildir{Dir: filepath.Join(a.DataDir, "maildir"), Hostname: s.Hostname}, Via: via}
	}
	return &delivery.Rerouted{Via: via, Default: &delivery.SMTP{Hostname: s.Hostname, Smarthosts: s.Delivery.Relay, TLS: s.Delivery.TLS,
		ConnectTimeout: s.Delivery.ConnectTimeout, CommandTimeout: s.Delivery.CommandTimeout,
		Resolver: services.NewResolver(s.DNS.Resolver)}}
}

func (a *Appliance) deliveryTarget() string {
	s := a.Settings
	switch {
	case s.Mode == "bcc":
		return "none (bcc mode: copies are analysed and discarded)"
	case s.Delivery.MX:
		return "mx"
	case len(s.Delivery.Relay) > 0:
		return fmt.Sprint(s.Delivery.Relay)
	}
	return "maildir " + filepath.Join(a.DataDir, "maildir")
}

// sweepSpool removes spool files that no message needs any more: files of
// finished messages whose removal a crash interrupted, and files without a
// row (their client never got a 250).
func (a *Appliance) sweepSpool() error {
	ids, err := a.spool.IDs()
	if err != nil {
		return err
	}
	ctx := context.Background()
	for _, id := range ids {
		m, err := a.db.GetMessage(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case m.State == store.StateDelivered || m.State == store.StateBounced || m.State == store.StateMonitored || m.State == store.StateDeleted:
		default:
			continue
		}
		a.Log.Info("spool: removing file no message needs", "id", id)
		a.spool.Remove(id)
	}
	return nil
}

func goVersion() string { return runtime.Version() }

// analysisWorkers resolves analysis.workers = 0: twice the CPUs, four
// times with a hub or clamd, whose calls keep a worker waiting on another
// process while the CPUs could parse the next message (measured in
// docs/performance.md: with a hub 0.73x of the no-service figure with 2x,
// 0.91x with 4x; with clamd, delivered 122 -> 149 msg/s).
func (a *Appliance) analysisWorkers() int {
	if n := a.Settings.Analysis.Workers; n > 0 {
		return n
	}
	if a.hub.Configured() || a.Settings.Engine.Clamd != "" {
		return 4 * runtime.NumCPU()
	}
	return 2 * runtime.NumCPU()
}

// WalkLimits are the MIME walk's limits: its defaults, with header blocks
// read up to limits.max_header_bytes (and room for our own Received field,
// which the SMTP server writes before what it counts).
func WalkLimits(s *settings.Settings) message.Limits {
	lim := message.DefaultLimits
	lim.MaxHeaderBytes = max(lim.MaxHeaderBytes, int64(s.Limits.MaxHeaderBytes)+8<<10)
	return lim
}

// PolicyDefaults are the default policy's actions from the settings.
func PolicyDefaults(s *settings.Settings) policy.Defaults {
	return policy.Defaults{High: s.Policy.High, Unscannable: s.Policy.Unscannable, Medium: s.Policy.Medium, Unrated: s.Policy.Unrated}
}
