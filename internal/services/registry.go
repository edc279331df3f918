package services

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Names of the twelve cloud services and the local parts: they appear in
// trails, status, metrics, logs and settings keys (services.NAME.enabled).
const (
	ERS           = "ers"
	TimeOfClick   = "time-of-click"
	CSSS          = "csss"
	FileCensus    = "file-census"
	DomainCensus  = "domain-census"
	ML            = "ml"
	ThreatConnect = "threat-connect"
	WebInspection = "web-inspection"
	WebReputation = "web-reputation"
	SmartFeedback = "smart-feedback"
	Updates       = "updates"
	Licence       = "licence"
	Clamd         = "clamd"
	Downstream    = "downstream"
	Resolver      = "resolver"
	// Libvirt is the virtual analyzer's libvirt host.
	Libvirt = "libvirt"
)

// Cloud are the twelve cloud services: each has an enable switch and a
// deadline in the settings.
var Cloud = []string{ERS, TimeOfClick, CSSS, FileCensus, DomainCensus, ML, ThreatConnect, WebInspection,
	WebReputation, SmartFeedback, Updates, Licence}

// All lists every service, the cloud's then the local parts, in the order
// `show services` gives them.
var All = append(append([]string{}, Cloud...), Clamd, Downstream, Resolver, Libvirt)

// Registry holds the clients of one appliance.
type Registry struct {
	clients []*Client
	byName  map[string]*Client
}

// NewRegistry makes a registry of the given clients.
func NewRegistry(cs ...*Client) *Registry {
	r := &Registry{byName: map[string]*Client{}}
	for _, c := range cs {
		r.clients = append(r.clients, c)
		r.byName[c.Name()] = c
	}
	return r
}

// Get returns the named client, or nil.
func (r *Registry) Get(name string) *Client { return r.byName[name] }

// Statuses reports every service.
func (r *Registry) Statuses() []Status {
	out := make([]Status, 0, len(r.clients))
	for _, c := range r.clients {
		out = append(out, c.Status())
	}
	return out
}

// Run probes open breakers whose back-off is over, once a second, until ctx
// ends: a service that comes back shows "ok" without any action, even
// while no mail asks for it.
func (r *Registry) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, c := range r.clients {
				if c.probeDue(now) {
					go func(c *Client) {
						pctx, cancel := context.WithTimeout(ctx, c.cfg.Deadline)
						defer cancel()
						err := c.Probe(pctx)
						if ctx.Err() != nil {
							c.release()
							return
						}
						c.Record(err)
					}(c)
				}
			}
		}
	}
}

var (
	descState    = prometheus.NewDesc("mailinspector_service_state", "1 for the state the service is in.", []string{"service", "state"}, nil)
	descCalls    = prometheus.NewDesc("mailinspector_service_calls_total", "Calls made to the service.", []string{"service"}, nil)
	descFailures = prometheus.NewDesc("mailinspector_service_failures_total", "Calls that failed.", []string{"service"}, nil)
	descHits     = prometheus.NewDesc("mailinspector_service_cache_hits_total", "Answers served from the cache.", []string{"service"}, nil)
	descSkips    = prometheus.NewDesc("mailinspector_service_skips_total", "Steps skipped because the service could not be used.", []string{"service"}, nil)
	descLastOK   = prometheus.NewDesc("mailinspector_service_last_ok_timestamp_seconds", "When the service last answered (Unix time; 0: never).", []string{"service"}, nil)
)

var states = []string{StateOK, StateDegraded, StateUnreachable, StateDisabled, StateNotConfigured}

// Describe implements prometheus.Collector.
func (r *Registry) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descCalls, descFailures, descHits, descSkips, descLastOK} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the same figures as Statuses.
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	for _, st := range r.Statuses() {
		for _, s := range states {
			v := 0.0
			if s == st.State {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, st.Name, s)
		}
		ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(st.Calls), st.Name)
		ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(st.Failures), st.Name)
		ch <- prometheus.MustNewConstMetric(descHits, prometheus.CounterValue, float64(st.CacheHits), st.Name)
		ch <- prometheus.MustNewConstMetric(descSkips, prometheus.CounterValue, float64(st.Skips), st.Name)
		last := 0.0
		if !st.LastOK.IsZero() {
			last = float64(st.LastOK.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(descLastOK, prometheus.GaugeValue, last, st.Name)
	}
}
