package appliance

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"mailinspector/internal/analysis"
	"mailinspector/internal/cli"
	"mailinspector/internal/hubapi"
	"mailinspector/internal/netguard"
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
			// The appliance's own click service, which wrapped links go
			// through: its health is time-of-click's.
			cfg.Configured, cfg.TTL, cfg.NegativeTTL = s.Click.Listen != "" && s.Click.Rewrite != "off", 0, 0
			probe = a.pingClickService
		default:
			probe = a.hub.Ping
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

// checkClient is Email Reputation at the edge, for the SMTP server.
func (a *Appliance) checkClient(ctx context.Context, ip netip.Addr) *store.ERSCheck {
	if !netguard.Reputable(ip) {
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
		s := cli.ServiceStatus{Name: st.Name, State: st.State, LastOK: timeText(st.LastOK), LastError: st.LastError,
			Calls: st.Calls, Failures: st.Failures, Skips: st.Skips, CacheHits: st.CacheHits, Deadline: st.Deadline,
			WhileOut: services.WhileOut(st.Name)}
		if st.Name == services.SmartFeedback && st.State != "disabled" {
			queued, err := a.db.FeedbackQueued(ctx)
			if err != nil {
				return nil, err
			}
			s.Note = fmt.Sprintf("outbox %d records waiting (bound %d); %d dropped, oldest first, since the daemon started",
				queued, a.updates.FeedbackMax, a.updates.FeedbackDropped.Load())
		}
		out = append(out, s)
	}
	return out, nil
}

// startMetrics serves Prometheus metrics on metrics.listen.
func (a *Appliance) startMetrics(addr string) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.services, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		a.mailMetrics(), a.sandboxMetrics(), messageCollector{a.db}, siemCollector{a})
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
		c(prometheus.CounterOpts{Name: "mailinspector_bounced_total", Help: "Recipients bounced (a DSN to the sender)."},
			func() float64 { return float64(a.queue.Bounced.Load()) }),
		c(prometheus.CounterOpts{Name: "mailinspector_feedback_dropped_total", Help: "Smart Feedback records dropped, oldest first, when the outbox was full."},
			func() float64 { return float64(a.updates.FeedbackDropped.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mailinspector_disk_used_ratio", Help: "Share of the data disk in use, as last measured."},
			a.disk.Ratio),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mailinspector_disk_full", Help: "1 while the data disk is past limits.disk_high_water: new mail is answered 452 4.3.1."},
			func() float64 {
				if a.disk.Full() {
					return 1
				}
				return 0
			}),
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

// edgeCheck is the SMTP server's Email Reputation hook: at the edge only,
// and only when ERS could be used at all (an unconfigured or disabled ERS
// costs the session nothing).
func (a *Appliance) edgeCheck() func(ctx context.Context, ip netip.Addr) *store.ERSCheck {
	s := a.Settings
	if s.ERS.Position != "edge" || s.Mode != "mta" {
		return nil
	}
	if !a.services.Get(services.ERS).InUse() {
		return nil
	}
	return a.checkClient
}

// MetricsAddr is where metrics are served (nil: off).
func (a *Appliance) MetricsAddr() net.Addr { return a.metricsAddr }

// Indicator is show indicator: Threat Connect's detail through the hub,
// under the service's contract, with a signed link to the hub's page for
// a browser; out of reach, the reason. What this appliance's own
// detections say of the indicator comes either way.
func (a *Appliance) Indicator(ctx context.Context, kind, value string) (*cli.Indicator, error) {
	out := &cli.Indicator{Kind: kind, Value: value}
	local, err := a.db.ObjectSightings(ctx, value)
	if err != nil {
		return nil, err
	}
	out.Local = cli.LocalSightings{Messages: local.Messages, First: timeText(local.First), Last: timeText(local.Last),
		Findings: local.Names, Newest: local.Newest}
	cl := a.services.Get(services.ThreatConnect)
	if err := cl.Usable(); err != nil {
		out.Reason = err.Error()
		return out, nil
	}
	ans, err := services.Call(ctx, cl, kind+" "+value, func(ctx context.Context) (hubapi.ConnectAnswer, bool, error) {
		var ans hubapi.ConnectAnswer
		err := a.hub.Get(ctx, hubapi.PathThreatConnect+kind, url.Values{"indicator": {value}, "format": {"json"}}, &ans)
		return ans, ans.Known, err
	})
	if err != nil {
		out.Reason = err.Error()
		return out, nil
	}
	out.Reachable, out.Known, out.Facts = true, ans.Known, ans.Facts
	out.Source = a.hub.Base
	out.HubPage = hubapi.PageLink(a.hub.Base, a.hub.Key, kind, value, time.Now().Add(time.Hour))
	return out, nil
}
