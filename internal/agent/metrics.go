package agent

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the agent's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	reg       prometheus.Registerer
	responses *prometheus.CounterVec
	ok        prometheus.Counter
	hits      prometheus.Counter
	misses    prometheus.Counter
	refreshes *prometheus.CounterVec
	upstream  *prometheus.HistogramVec
}

// NewMetrics registers the agent's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reg: reg,
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podid_agent_http_responses_total",
			Help: "Responses to /v1/credentials by HTTP status code.",
		}, []string{"code"}),
		hits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podid_agent_cache_hits_total",
			Help: "Credential requests answered from the cache.",
		}),
		misses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podid_agent_cache_misses_total",
			Help: "Credential requests that had to wait for EKS Auth.",
		}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podid_agent_cache_refreshes_total",
			Help: "Background renewals of cached credentials by outcome (ok, error, evicted).",
		}, []string{"outcome"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "podid_agent_upstream_duration_seconds",
			Help:    "Latency of EKS Auth AssumeRoleForPodIdentity calls by outcome (ok or the error code).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"outcome"}),
	}
	m.ok = m.responses.WithLabelValues("200")
	reg.MustRegister(m.responses, m.hits, m.misses, m.refreshes, m.upstream)
	return m
}

func (m *Metrics) response(code int) {
	if m == nil {
		return
	}
	if code == 200 {
		m.ok.Inc()
		return
	}
	m.responses.WithLabelValues(strconv.Itoa(code)).Inc()
}

func (m *Metrics) hit() {
	if m != nil {
		m.hits.Inc()
	}
}

func (m *Metrics) miss() {
	if m != nil {
		m.misses.Inc()
	}
}

func (m *Metrics) refresh(outcome string) {
	if m != nil {
		m.refreshes.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) upstreamCall(outcome string, d time.Duration) {
	if m != nil {
		m.upstream.WithLabelValues(outcome).Observe(d.Seconds())
	}
}

// cacheSize exports a cache's entry count.
func (m *Metrics) cacheSize(f func() int) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "podid_agent_cache_entries",
		Help: "Credentials held in the cache.",
	}, func() float64 { return float64(f()) }))
}
