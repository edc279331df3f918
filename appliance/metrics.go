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
