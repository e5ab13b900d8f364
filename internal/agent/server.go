package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Listening defaults. In a cluster the agent binds IPv4Host:80 and
// [IPv6Host]:80; the default keeps a development agent on loopback.
const (
	DefaultListen      = "127.0.0.1:2704"
	DefaultProbeListen = "127.0.0.1:2703"
	// DefaultSweepInterval is how often the cache renews due entries.
	DefaultSweepInterval = 15 * time.Second
	// ShutdownTimeout bounds draining in-flight requests on shutdown.
	ShutdownTimeout = 10 * time.Second
)

// Config configures an Agent.
type Config struct {
	// Cluster is the cluster name sent to EKS Auth. Required.
	Cluster string
	// Upstream gives credentials on a cache miss, usually an *Upstream.
	// Required.
	Upstream Source
	// Listen are the addresses of the credentials endpoint (ListenAndServe).
	Listen []string
	// ProbeListen is the address of /healthz, /readyz and /metrics; empty
	// serves them on the credentials listeners instead.
	ProbeListen string
	// AllowedHosts are the Host header values answered; nil means
	// DefaultAllowedHosts, plus LoopbackHosts if a Listen address is
	// loopback.
	AllowedHosts []string
	// Cache configures the credential cache; Cache.Metrics and
	// Cache.Logger are set by New.
	Cache CacheConfig
	// RateLimit and RateBurst bound inbound requests (zero: no limit).
	RateLimit float64
	RateBurst int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger is the agent's logger (default slog.Default()).
	Logger *slog.Logger
	// Registry receives the metrics; nil means a new registry with the Go
	// and process collectors.
	Registry *prometheus.Registry
}

// Agent is the node agent: handler, cache, metrics and probes.
type Agent struct {
	cfg     Config
	cache   *Cache
	handler *Handler
	reg     *prometheus.Registry
	ready   atomic.Bool
}

// New builds an agent; it serves nothing until Serve or ListenAndServe.
func New(cfg Config) (*Agent, error) {
	var problems []error
	if cfg.Cluster == "" {
		problems = append(problems, errors.New("cluster name is required"))
	}
	if cfg.Upstream == nil {
		problems = append(problems, errors.New("upstream is required"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := NewMetrics(reg)
	if u, ok := cfg.Upstream.(*Upstream); ok && u.Metrics == nil {
		u.Metrics = m
	}
	allowed := cfg.AllowedHosts
	if allowed == nil {
		allowed = DefaultAllowedHosts
		if anyLoopback(cfg.Listen) {
			allowed = append(append([]string(nil), allowed...), LoopbackHosts...)
		}
	}
	cc := cfg.Cache
	cc.Metrics, cc.Logger = m, cfg.Logger
	if cc.Now == nil {
		cc.Now = cfg.Now
	}
	cache := NewCache(cfg.Upstream, cc)
	h := NewHandler(HandlerConfig{
		Cluster:      cfg.Cluster,
		Source:       cache,
		AllowedHosts: allowed,
		RateLimit:    cfg.RateLimit,
		RateBurst:    cfg.RateBurst,
		Now:          cfg.Now,
		Logger:       cfg.Logger,
		Metrics:      m,
		MaxTokens:    cc.MaxSize,
	})
	return &Agent{cfg: cfg, cache: cache, handler: h, reg: reg}, nil
}

func anyLoopback(addrs []string) bool {
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			host = a
		}
		if host == "localhost" {
			return true
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return true
		}
	}
	return false
}

// Cache is the agent's credential cache.
func (a *Agent) Cache() *Cache { return a.cache }

// CredentialsPath is the container-credentials endpoint's path.
const CredentialsPath = "/v1/credentials"

// Handler serves GET /v1/credentials (and the probes too when
// Config.ProbeListen is empty). The credentials path is matched before
// the mux: it is the hot path, and the SDKs send it exactly.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(CredentialsPath, a.handler)
	if a.cfg.ProbeListen == "" {
		a.probes(mux)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == CredentialsPath {
			a.handler.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// ProbeHandler serves /healthz, /readyz and /metrics.
func (a *Agent) ProbeHandler() http.Handler {
	mux := http.NewServeMux()
	a.probes(mux)
	return mux
}

// probes registers the probe routes. /readyz turns ready once the
// credentials listeners are bound, not when EKS Auth answers: a node's
// agent that cannot reach the server still serves cached credentials and
// relays EKS Auth's errors to pods, and tying node readiness to a remote
// service would take every node's agent out at once during an outage.
func (a *Agent) probes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "not ready: not serving credentials yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}))
}

// ListenAndServe binds Config.Listen and Config.ProbeListen and serves
// until ctx is done, then drains in-flight requests.
func (a *Agent) ListenAndServe(ctx context.Context) error {
	if len(a.cfg.Listen) == 0 {
		return errors.New("no listen address")
	}
	var lns []net.Listener
	closeAll := func() {
		for _, l := range lns {
			l.Close()
		}
	}
	for _, addr := range a.cfg.Listen {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("listening on %s: %w", addr, err)
		}
		lns = append(lns, l)
	}
	var probe net.Listener
	if a.cfg.ProbeListen != "" {
		l, err := net.Listen("tcp", a.cfg.ProbeListen)
		if err != nil {
			closeAll()
			return fmt.Errorf("listening on %s for probes: %w", a.cfg.ProbeListen, err)
		}
		probe = l
	}
	return a.Serve(ctx, lns, probe)
}

// Serve serves credentials on lns and the probes on probe (which may be
// nil) until ctx is done, then shuts down gracefully and stops the cache.
func (a *Agent) Serve(ctx context.Context, lns []net.Listener, probe net.Listener) error {
	defer a.cache.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       90 * time.Second,
			MaxHeaderBytes:    64 << 10,
		}
	}
	type served struct {
		srv   *http.Server
		ln    net.Listener
		serve string
	}
	var all []served
	h := a.Handler()
	for _, l := range lns {
		all = append(all, served{newServer(h), l, "credentials"})
	}
	if probe != nil {
		all = append(all, served{newServer(a.ProbeHandler()), probe, "probes"})
	}
	errc := make(chan error, len(all))
	for _, s := range all {
		a.cfg.Logger.Info("agent listening", "serves", s.serve, "addr", s.ln.Addr().String())
		go func() { errc <- s.srv.Serve(s.ln) }()
	}
	go a.cache.Run(ctx, DefaultSweepInterval)
	a.ready.Store(true)

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("serving: %w", err)
	}
	a.ready.Store(false)
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer scancel()
	for _, s := range all {
		if serr := s.srv.Shutdown(sctx); serr != nil && err == nil {
			err = fmt.Errorf("shutting down: %w", serr)
		}
	}
	return err
}
