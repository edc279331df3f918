package sandbox

import "github.com/prometheus/client_golang/prometheus"

// Collector is the pool's status (`show sandbox`) for Prometheus, read
// once per scrape.
func (p *Pool) Collector() prometheus.Collector { return collector{p} }

type collector struct{ pool *Pool }

var (
	sbxConnected = prometheus.NewDesc("mailinspector_sandbox_libvirt_connected", "1 while the libvirt connection is up.", nil, nil)
	sbxQueue     = prometheus.NewDesc("mailinspector_sandbox_queue", "Samples waiting for an instance.", nil, nil)
	sbxInstances = prometheus.NewDesc("mailinspector_sandbox_instances", "Sandbox instances by state.", []string{"state"}, nil)
	sbxCounters  = []struct {
		desc *prometheus.Desc
		get  func(Counters) int64
	}{
		{prometheus.NewDesc("mailinspector_sandbox_submitted_total", "Samples submitted.", nil, nil), func(c Counters) int64 { return c.Submitted }},
		{prometheus.NewDesc("mailinspector_sandbox_reused_total", "Submissions that joined a run of the same sample.", nil, nil), func(c Counters) int64 { return c.Reused }},
		{prometheus.NewDesc("mailinspector_sandbox_analyses_total", "Samples analysed to a report.", nil, nil), func(c Counters) int64 { return c.Finished }},
		{prometheus.NewDesc("mailinspector_sandbox_failed_total", "Samples the sandbox failed to analyse.", nil, nil), func(c Counters) int64 { return c.Failed }},
		{prometheus.NewDesc("mailinspector_sandbox_requeued_total", "Tasks run again after their instance failed.", nil, nil), func(c Counters) int64 { return c.Requeued }},
		{prometheus.NewDesc("mailinspector_sandbox_reverts_total", "Instance reverts to the ready snapshot.", nil, nil), func(c Counters) int64 { return c.Reverts }},
	}
)

func (collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sbxConnected
	ch <- sbxQueue
	ch <- sbxInstances
	for _, c := range sbxCounters {
		ch <- c.desc
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.pool.Status()
	up := 0.0
	if st.Libvirt.Connected {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(sbxConnected, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(sbxQueue, prometheus.GaugeValue, float64(st.Queue))
	n := map[string]int{StateFree: 0, StateBusy: 0, StateOut: 0, StatePreparing: 0}
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
