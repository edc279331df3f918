package appliance

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mailinspector/internal/store"
)

// messageCollector reads the database's counts once per scrape: the queue
// and the quarantine by state, messages by risk and by threat, the age of
// the oldest message waiting for delivery.
type messageCollector struct{ db *store.DB }

var (
	msgByState  = prometheus.NewDesc("mailinspector_messages", "Messages kept, by state (queued and deferred: the queue; quarantined: the quarantine).", []string{"state"}, nil)
	msgByRisk   = prometheus.NewDesc("mailinspector_messages_by_risk", "Messages kept, by risk.", []string{"risk"}, nil)
	msgByThreat = prometheus.NewDesc("mailinspector_messages_by_threat", "Messages kept with a finding of this threat type.", []string{"threat"}, nil)
	oldestQueue = prometheus.NewDesc("mailinspector_queue_oldest_age_seconds", "Age of the oldest message waiting for delivery (0: none waits).", nil, nil)
)

func (messageCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{msgByState, msgByRisk, msgByThreat, oldestQueue} {
		ch <- d
	}
}

func (c messageCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := c.db.CountMessages(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(msgByState, err)
		return
	}
	for _, s := range []string{store.StateReceived, store.StateAnalysing, store.StateQueued, store.StateDeferred, store.StateDelivered,
		store.StateBounced, store.StateQuarantined, store.StateDeleted, store.StateMonitored} {
		ch <- prometheus.MustNewConstMetric(msgByState, prometheus.GaugeValue, float64(n.ByState[s]), s)
	}
	for r, k := range n.ByRisk {
		ch <- prometheus.MustNewConstMetric(msgByRisk, prometheus.GaugeValue, float64(k), r)
	}
	for th, k := range n.ByThreat {
		ch <- prometheus.MustNewConstMetric(msgByThreat, prometheus.GaugeValue, float64(k), th)
	}
	age := 0.0
	if !n.OldestQueued.IsZero() {
		age = time.Since(n.OldestQueued).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(oldestQueue, prometheus.GaugeValue, age)
}

// siemCollector reports SIEM export per collector.
type siemCollector struct{ a *Appliance }

var (
	siemConnected = prometheus.NewDesc("mailinspector_siem_connected", "1 while the syslog collector is connected.", []string{"collector"}, nil)
	siemSent      = prometheus.NewDesc("mailinspector_siem_sent_total", "Events written to the collector (a record sent again after an outage counts again).", []string{"collector"}, nil)
	siemPending   = prometheus.NewDesc("mailinspector_siem_queue_bytes", "Bytes of events queued on disk for the collector, not yet known to have arrived.", []string{"collector"}, nil)
	siemDropped   = prometheus.NewDesc("mailinspector_siem_dropped_total", "Oldest events dropped because the collector's queue reached siem.queue_bytes.", []string{"collector"}, nil)
	siemLost      = prometheus.NewDesc("mailinspector_siem_lost_total", "Events lost before any queue (the queue writer fell behind).", nil, nil)
)

func (siemCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{siemConnected, siemSent, siemPending, siemDropped, siemLost} {
		ch <- d
	}
}

func (c siemCollector) Collect(ch chan<- prometheus.Metric) {
	cs, lost := c.a.siem.Stats()
	for _, s := range cs {
		up := 0.0
		if s.Connected {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(siemConnected, prometheus.GaugeValue, up, s.Name)
		ch <- prometheus.MustNewConstMetric(siemSent, prometheus.CounterValue, float64(s.Sent), s.Name)
		ch <- prometheus.MustNewConstMetric(siemPending, prometheus.GaugeValue, float64(s.Pending), s.Name)
		ch <- prometheus.MustNewConstMetric(siemDropped, prometheus.CounterValue, float64(s.Dropped), s.Name)
	}
	ch <- prometheus.MustNewConstMetric(siemLost, prometheus.CounterValue, float64(lost))
}
