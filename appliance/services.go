package appliance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"mailinspector/internal/analysis"
	"mailinspector/internal/cli"
	"mailinspector/internal/services"
	"mailinspector/internal/store"
)

// buildServices puts every cloud service and local part under the one
// contract of internal/services, from the settings.
func (a *Appliance) buildServices() error {
	s := a.Settings
	roots, err := services.LoadRoots(s.Hub.CAFile)
	if err != nil {
		return err
	}
	a.hub = services.NewHub(s.Hub.URL, s.Hub.Key, roots)
	a.hub.SetHostBreaker(s.ServiceFailures, s.ServiceBackoff)
	a.dnsbl = &services.DNSBL{Zones: s.ERS.Zones, Resolver: s.DNS.Resolver}
	var clients []*services.Client
	for _, name := range services.All {
		cfg := services.Config{Name: name, Enabled: true, Configured: a.hub.Configured(), Failures: s.ServiceFailures,
			Backoff: s.ServiceBackoff, TTL: s.ServiceTTL, NegativeTTL: s.ServiceNegTTL, Deadline: 2 * time.Second}
		if sv, ok := s.Services[name]; ok {
			cfg.Enabled, cfg.Deadline = sv.Enabled, sv.Deadline
		}
		var probe func(ctx context.Context) error
		switch name {
		case services.ERS:
			cfg.Configured = len(s.ERS.Zones) > 0
			probe = a.dnsbl.Probe
		case services.Clamd:
			cfg.Configured, cfg.Deadline, cfg.TTL, cfg.NegativeTTL = s.Engine.Clamd != "", s.Engine.ClamdTimeout, 0, 0
			if a.clamd != nil {
				probe = a.clamd.Ping
			}
		case services.Downstream:
			cfg.Configured, cfg.TTL, cfg.NegativeTTL = true, 0, 0
			cfg.Deadline = s.Delivery.ConnectTimeout
		case services.Resolver:
			cfg.Configured, cfg.TTL, cfg.NegativeTTL = true, 0, 0
			if len(s.ERS.Zones) > 0 {
				probe = a.dnsbl.Probe
			}
		case services.Libvirt:
			cfg.Configured, cfg.TTL, cfg.NegativeTTL = s.Sandbox.Libvirt != "", 0, 0
			cfg.Deadline = s.Sandbox.CallTimeout
			probe = func(ctx context.Context) error {
				if a.va == nil {
					return services.ErrNotConfigured
				}
				return a.va.Pool.Ping(ctx)
			}
		case services.TimeOfClick:
			probe = func(ctx context.Context) error {
				var ok struct{ OK bool }
				return a.hub.Get(ctx, "/v1/time-of-click", nil, &ok)
			}
		default:
			probe = a.hubProbe
		}
		c := services.New(cfg)
		c.Probe = probe
		clients = append(clients, c)
	}
	a.services = services.NewRegistry(clients...)
	resolver := a.services.Get(services.Resolver)
	a.dnsbl.OnDNS = resolver.Record
	return nil
}

// hubProbe asks the hub's status: the cheapest call that proves it answers.
func (a *Appliance) hubProbe(ctx context.Context) error {
	var st struct {
		API string `json:"api"`
	}
	if err := a.hub.Get(ctx, "/v1/status", nil, &st); err != nil {
		return err
	}
	if st.API == "" {
		return errors.New("hub status without an API version")
	}
	return nil
}

// checkClient is Email Reputation at the edge, for the SMTP server.
func (a *Appliance) checkClient(ctx context.Context, ip netip.Addr) *store.ERSCheck {
	if !analysis.PublicAddr(ip) {
		return nil
	}
	return analysis.CheckERS(ctx, a.services.Get(services.ERS), a.dnsbl, ip)
}

// cloudStages are the hub-backed stages in the order of DESIGN.md: per
// attachment known-good, (pattern engine,) file census and ML; per URL web
// reputation, web inspection and domain census.
func (a *Appliance) cloud() analysis.Cloud {
	return analysis.Cloud{Hub: a.hub, Services: a.services, Limits: WalkLimits(a.Settings), Joints: analysis.NewJointQueue()}
}

// Services is `show services`.
func (a *Appliance) Services(ctx context.Context) ([]cli.ServiceStatus, error) {
	var out []cli.ServiceStatus
	for _, st := range a.services.Statuses() {
		out = append(out, cli.ServiceStatus{Name: st.Name, State: st.State, LastOK: timeText(st.LastOK), LastError: st.LastError,
			Calls: st.Calls, Failures: st.Failures, Skips: st.Skips, CacheHits: st.CacheHits, Deadline: st.Deadline})
	}
	return out, nil
}

// startMetrics serves Prometheus metrics on metrics.listen.
func (a *Appliance) startMetrics(addr string) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.services, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		a.mailMetrics(), a.sandboxMetrics())
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics.listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	a.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	a.metricsAddr = ln.Addr()
	go a.metrics.Serve(ln)
	return nil
}

// mailMetrics are the counters of the mail flow.
func (a *Appliance) mailMetrics() prometheus.Collector {
	c := prometheus.NewCounterFunc
	reg := []prometheus.Collector{
		c(prometheus.CounterOpts{Name: "mailinspector_smtp_accepted_total", Help: "Messages accepted (250 after a durable write)."},
			func() float64 { return float64(a.smtp.Stats.Accepted.Load()) }),
		c(prometheus.CounterOpts{Name: "mailinspector_smtp_rejected_total", Help: "Messages or senders refused during SMTP."},
			func() float64 { return float64(a.smtp.Stats.Rejected.Load()) }),
		c(prometheus.CounterOpts{Name: "mailinspector_analysed_total", Help: "Messages analysed and decided."},
			func() float64 { return float64(a.runner.Processed.Load()) }),
		c(prometheus.CounterOpts{Name: "mailinspector_delivered_total", Help: "Recipients delivered downstream."},
			func() float64 { return float64(a.queue.Delivered.Load()) }),
		c(prometheus.CounterOpts{Name: "mailinspector_deferred_total", Help: "Delivery attempts deferred."},
			func() float64 { return float64(a.queue.Deferred.Load()) }),
		c(prometheus.CounterOpts{Name: "mailinspector_feedback_dropped_total", Help: "Smart Feedback records dropped, oldest first, when the outbox was full."},
			func() float64 { return float64(a.feedbackDropped.Load()) }),
	}
	return multiCollector(reg)
}

type multiCollector []prometheus.Collector

func (m multiCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m {
		c.Describe(ch)
	}
}

func (m multiCollector) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m {
		c.Collect(ch)
	}
}

// feedbackBatch is how many Smart Feedback records one flush sends at most.
const feedbackBatch = 1000

// flushFeedback sends the queued Smart Feedback records to the hub, batch
// after batch, and deletes what the hub accepted. A failure leaves them
// queued for the next run of the schedule.
func (a *Appliance) flushFeedback() {
	// The bound holds whether the hub answers or not: during an outage
	// nothing is sent, and the outbox would only grow.
	var dropped int64
	if err := a.db.Write(a.runCtx, func(tx *store.Tx) (err error) {
		dropped, err = store.TrimFeedback(tx, a.feedbackMax)
		return err
	}); err != nil {
		a.Log.Error("smart feedback: trim outbox", "err", err)
	} else if dropped > 0 {
		a.feedbackDropped.Add(dropped)
		a.Log.Warn("smart feedback: outbox full, oldest records dropped", "dropped", dropped, "kept", a.feedbackMax)
	}
	cl := a.services.Get(services.SmartFeedback)
	if cl.Usable() != nil {
		cl.Skip()
		return
	}
	ctx := a.runCtx
	for {
		recs, err := a.db.FeedbackBatch(ctx, feedbackBatch)
		if err != nil || len(recs) == 0 {
			if err != nil {
				a.Log.Error("smart feedback: read outbox", "err", err)
			}
			return
		}
		type wire struct {
			Kind    string    `json:"kind"`
			Object  string    `json:"object"`
			Verdict string    `json:"verdict"`
			At      time.Time `json:"at"`
		}
		body := struct {
			Records []wire `json:"records"`
		}{}
		for _, r := range recs {
			body.Records = append(body.Records, wire{r.Kind, r.Object, r.Verdict, r.At})
		}
		_, err = services.Call(ctx, cl, "", func(ctx context.Context) (int, bool, error) {
			var ans struct {
				Accepted int `json:"accepted"`
			}
			err := a.hub.Post(ctx, "/v1/feedback", body, &ans)
			return ans.Accepted, true, err
		})
		var se *services.StatusError
		switch {
		case errors.As(err, &se) && (se.Code == http.StatusBadRequest || se.Code == http.StatusRequestEntityTooLarge):
			// The hub will never take this batch: keeping it would block
			// every record behind it.
			a.Log.Error("smart feedback: the hub refused a batch; dropped", "records", len(recs), "err", err)
		case err != nil:
			a.Log.Warn("smart feedback: records stay queued", "records", len(recs), "err", err)
			return
		}
		last := recs[len(recs)-1].Seq
		if err := a.db.Write(ctx, func(tx *store.Tx) error { return store.FeedbackSent(tx, last) }); err != nil {
			a.Log.Error("smart feedback: clear outbox", "err", err)
			return
		}
		a.Log.Info("smart feedback sent", "records", len(recs))
		if len(recs) < feedbackBatch {
			return
		}
	}
}

// checkUpdates asks the hub what is newest; the current patterns stay in
// use whatever the answer (signed bundles come with their own issue).
func (a *Appliance) checkUpdates() {
	cl := a.services.Get(services.Updates)
	if unused(cl) {
		return
	}
	ans, err := services.Call(a.runCtx, cl, "", func(ctx context.Context) (map[string]any, bool, error) {
		var ans map[string]any
		err := a.hub.Get(ctx, "/v1/updates", map[string][]string{"current": {Version}}, &ans)
		return ans, true, err
	})
	if err != nil {
		a.Log.Warn("update check skipped; current patterns and engines stay in use", "err", err)
		return
	}
	a.Log.Info("update check", "latest", ans["latest"], "available", ans["available"])
}

// licenceFile caches the last licence the hub confirmed, so that scanning
// goes on with it while the hub is out of reach.
const licenceFile = "licence.json"

func (a *Appliance) checkLicence() {
	cl := a.services.Get(services.Licence)
	if unused(cl) {
		return
	}
	ans, err := services.Call(a.runCtx, cl, "", func(ctx context.Context) (json.RawMessage, bool, error) {
		var ans json.RawMessage
		err := a.hub.Get(ctx, "/v1/licence", nil, &ans)
		return ans, true, err
	})
	if err != nil {
		a.Log.Warn("licence check skipped; the cached licence stays in force", "err", err)
		return
	}
	path := filepath.Join(a.DataDir, licenceFile)
	if err := os.WriteFile(path+".tmp", ans, 0o640); err == nil {
		os.Rename(path+".tmp", path)
	}
}

// edgeCheck is the SMTP server's Email Reputation hook: at the edge only,
// and only when ERS could be used at all (an unconfigured or disabled ERS
// costs the session nothing).
func (a *Appliance) edgeCheck() func(ctx context.Context, ip netip.Addr) *store.ERSCheck {
	s := a.Settings
	if s.ERS.Position != "edge" || s.Mode != "mta" {
		return nil
	}
	if err := a.services.Get(services.ERS).Usable(); errors.Is(err, services.ErrDisabled) || errors.Is(err, services.ErrNotConfigured) {
		return nil
	}
	return a.checkClient
}

// MetricsAddr is where metrics are served (nil: off).
func (a *Appliance) MetricsAddr() net.Addr { return a.metricsAddr }

// checkTimeOfClick asks the hub's time-of-click service whether it answers,
// on the update schedule: links already rewritten resolve through the
// appliance's own click service whatever it says.
func (a *Appliance) checkTimeOfClick() {
	cl := a.services.Get(services.TimeOfClick)
	if unused(cl) {
		return
	}
	_, err := services.Call(a.runCtx, cl, "", func(ctx context.Context) (bool, bool, error) {
		var ans struct {
			OK bool `json:"ok"`
		}
		err := a.hub.Get(ctx, "/v1/time-of-click", nil, &ans)
		return ans.OK, true, err
	})
	if err != nil {
		a.Log.Warn("time-of-click check failed; rewritten links keep resolving through the appliance", "err", err)
	}
}

// hubServices are the services the hub answers.
var hubServices = []string{services.CSSS, services.FileCensus, services.DomainCensus, services.ML, services.ThreatConnect,
	services.WebInspection, services.WebReputation}

// checkAtStart asks the hub once when the daemon starts, so that show
// services says whether it answers before any mail has needed it, and
// runs the scheduled checks once.
func (a *Appliance) checkAtStart(ctx context.Context) {
	if a.hub.Configured() {
		pctx, cancel := context.WithTimeout(ctx, a.services.Get(services.WebReputation).Deadline())
		err := a.hubProbe(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		for _, name := range hubServices {
			if c := a.services.Get(name); c.Usable() == nil {
				c.Record(err)
			}
		}
		if err != nil {
			a.Log.Warn("hub out of reach at start; its steps are skipped until it answers", "err", err)
		}
	}
	a.checkUpdates()
	a.checkLicence()
	a.checkTimeOfClick()
}

// unused says whether a scheduled check has nothing to do: its service is
// disabled or not configured (the status says so already).
func unused(c *services.Client) bool {
	err := c.Usable()
	return errors.Is(err, services.ErrDisabled) || errors.Is(err, services.ErrNotConfigured)
}
