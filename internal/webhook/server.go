package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where the webhook answers AdmissionReview requests.
const Path = "/mutate"

// Config configures a Server.
type Config struct {
	// Mutation is what pods get.
	Mutation Mutation
	// Associations says which service accounts have an association; the
	// server runs it (Run) while it serves. Required.
	Associations *Associations
	// GetCertificate gives the serving certificate (a *CertFiles or a
	// *SelfSigned). Required.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// Logger is the server's logger (default slog.Default()).
	Logger *slog.Logger
	// Registry serves /metrics; nil means a new registry with the Go and
	// process collectors. The webhook's metrics are registered by the
	// caller (NewMetrics) and passed to the parts.
	Registry *prometheus.Registry
	// Metrics records admissions.
	Metrics *Metrics
}

// Server serves the webhook over TLS: POST /mutate, and /healthz,
// /readyz (ready once the associations are listed) and /metrics, on the
// webhook's listener or a plain-HTTP probe listener.
type Server struct {
	cfg Config
	log *slog.Logger
	reg *prometheus.Registry
}

// NewServer checks cfg and builds a server.
func NewServer(cfg Config) (*Server, error) {
	var problems []error
	if cfg.Associations == nil {
		problems = append(problems, errors.New("associations are required"))
	}
	if cfg.GetCertificate == nil {
		problems = append(problems, errors.New("a certificate source is required"))
	}
	if cfg.Mutation.FullURI == "" {
		problems = append(problems, errors.New("the credentials URI is required"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, reg: cfg.Registry}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
		s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return s, nil
}

// Handler is the webhook's HTTP handler: /mutate plus the probes.
func (s *Server) Handler() http.Handler {
	mux := s.probes()
	mux.Handle(Path, &Handler{Mutation: s.cfg.Mutation, Associations: s.cfg.Associations, Logger: s.log, Metrics: s.cfg.Metrics})
	return mux
}

func (s *Server) probes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-s.cfg.Associations.Synced():
			_, _ = w.Write([]byte("ok\n"))
		default:
			http.Error(w, "associations not listed yet", http.StatusServiceUnavailable)
		}
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	return mux
}

// Serve serves on ln (TLS is added here) and, when probes is not nil,
// the probes on it in plain HTTP, and follows podid's associations,
// until ctx is done; then it drains requests in flight for up to 10s.
func (s *Server) Serve(ctx context.Context, ln, probes net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		_ = s.cfg.Associations.Run(ctx)
	}()
	defer func() { <-followed }()

	h := s.Handler()
	tlsLn := tls.NewListener(ln, &tls.Config{GetCertificate: s.cfg.GetCertificate, MinVersion: tls.VersionTLS12})
	servers := []*http.Server{s.httpServer(h)}
	listeners := []net.Listener{tlsLn}
	if probes != nil {
		servers = append(servers, s.httpServer(s.probes()))
		listeners = append(listeners, probes)
	}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	s.log.Info("webhook listening", "addr", ln.Addr().String(), "path", Path)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("serving: %w", err)
	}
	shutdown, done := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer done()
	for _, srv := range servers {
		_ = srv.Shutdown(shutdown)
	}
	return err
}

func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
}
