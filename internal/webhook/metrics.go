package webhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the webhook's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	admissions prometheus.Counter
	mutations  prometheus.Counter
	skips      *prometheus.CounterVec
	latency    prometheus.Histogram
	lookups    *prometheus.CounterVec
	refreshes  *prometheus.CounterVec
	accounts   prometheus.Gauge
	revision   prometheus.Gauge
	reloads    *prometheus.CounterVec
}

// NewMetrics registers the webhook's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		admissions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podid_webhook_admissions_total",
			Help: "AdmissionReview requests answered.",
		}),
		mutations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podid_webhook_mutations_total",
			Help: "Pods admitted with a patch.",
		}),
		skips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podid_webhook_skips_total",
			Help: "Requests admitted unchanged, by reason (no_association, opt_out, host_network, already_configured, up_to_date, not_pod_create, bad_request, error).",
		}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "podid_webhook_admission_duration_seconds",
			Help:    "Time to answer an AdmissionReview, from the request to the response written.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podid_webhook_association_lookups_total",
			Help: "Association lookups by where the answer came from: cache (current), podid (the cache was behind), stale (podid unreachable; the cache answered).",
		}, []string{"source"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podid_webhook_association_refreshes_total",
			Help: "Listings of the cluster's associations by outcome (ok, error).",
		}, []string{"outcome"}),
		accounts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "podid_webhook_service_accounts",
			Help: "Service accounts with an association, as last listed.",
		}),
		revision: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "podid_webhook_association_revision",
			Help: "podid revision the association cache reflects.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podid_webhook_certificate_reloads_total",
			Help: "Reloads of the serving certificate by outcome (ok, error).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.admissions, m.mutations, m.skips, m.latency, m.lookups, m.refreshes, m.accounts, m.revision, m.reloads)
	return m
}

func (m *Metrics) admission(reason SkipReason, took time.Duration) {
	if m == nil {
		return
	}
	m.admissions.Inc()
	if reason == SkipNone {
		m.mutations.Inc()
	} else {
		m.skips.WithLabelValues(string(reason)).Inc()
	}
	m.latency.Observe(took.Seconds())
}

func (m *Metrics) lookup(source string) {
	if m != nil {
		m.lookups.WithLabelValues(source).Inc()
	}
}

func (m *Metrics) refresh(outcome string) {
	if m != nil {
		m.refreshes.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) cached(accounts int, rev int64) {
	if m != nil {
		m.accounts.Set(float64(accounts))
		m.revision.Set(float64(rev))
	}
}

func (m *Metrics) reload(outcome string) {
	if m != nil {
		m.reloads.WithLabelValues(outcome).Inc()
	}
}
