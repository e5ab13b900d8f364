package assoccache

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	propagation prometheus.Histogram
	syncErrors  prometheus.Counter
	resyncs     prometheus.Counter
	readThrough prometheus.Counter
	collectors  []prometheus.Collector
}

func newMetrics(c *Cache) metrics {
	m := metrics{
		propagation: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "podid_assoccache_propagation_seconds",
			Help:    "Time from an association's create or update commit (its modifiedAt) to its taking effect for credential requests.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}),
		syncErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podid_assoccache_sync_errors_total",
			Help: "Failed reads of the store's change feed.",
		}),
		resyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podid_assoccache_resyncs_total",
			Help: "Full re-reads of the change feed (including the first load).",
		}),
		readThrough: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podid_assoccache_read_through_total",
			Help: "Credential-path lookups read from the store because the first load was not done.",
		}),
	}
	m.collectors = []prometheus.Collector{
		m.propagation, m.syncErrors, m.resyncs, m.readThrough,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "podid_assoccache_loaded",
			Help: "1 once the first full load of the association cache is done.",
		}, func() float64 {
			if c.Loaded() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "podid_assoccache_applied_revision",
			Help: "Store revision the association cache is current as of.",
		}, func() float64 { return float64(c.AppliedRevision()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "podid_assoccache_associations",
			Help: "Associations in the cache.",
		}, func() float64 { return float64(c.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "podid_assoccache_delay_seconds",
			Help: "Configured artificial propagation delay.",
		}, func() float64 { return c.opts.Delay.Seconds() }),
	}
	return m
}

func (m *metrics) register(r prometheus.Registerer) {
	for _, c := range m.collectors {
		r.MustRegister(c)
	}
}

// PropagationStats summarize the measured propagation of recent creates
// and updates (the last few thousand).
type PropagationStats struct {
	Count              int64 // all observations since start
	P50, P90, P99, Max time.Duration
}

// Propagation returns the measured propagation delays.
func (c *Cache) Propagation() PropagationStats { return c.prop.stats() }

// propagation keeps the recent propagation samples.
type propagation struct {
	since int64 // observe creates committed after this (Unix ns)

	mu      sync.Mutex
	count   int64
	samples [4096]time.Duration
}

func (p *propagation) observe(d time.Duration, m *metrics) {
	d = max(d, 0)
	m.propagation.Observe(d.Seconds())
	p.mu.Lock()
	p.samples[p.count%int64(len(p.samples))] = d
	p.count++
	p.mu.Unlock()
}

func (p *propagation) stats() PropagationStats {
	p.mu.Lock()
	n := min(p.count, int64(len(p.samples)))
	s := slices.Clone(p.samples[:n])
	st := PropagationStats{Count: p.count}
	p.mu.Unlock()
	if n == 0 {
		return st
	}
	slices.Sort(s)
	q := func(f float64) time.Duration { return s[min(int(f*float64(n)), int(n)-1)] }
	st.P50, st.P90, st.P99, st.Max = q(.5), q(.9), q(.99), s[n-1]
	return st
}
