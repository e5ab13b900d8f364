// Package servertest builds a complete podid server for tests: an SQLite
// store in t.TempDir(), the EKS API handler and an httptest.Server, torn
// down with t.Cleanup. EKS returns an aws-sdk-go-v2 EKS client pointed at
// it, so tests drive the server exactly as users' programs do.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
)

// Static test credentials the EKS client signs with.
const (
	AccessKeyID     = "AKIAPODIDTEST0000000"
	SecretAccessKey = "podid-test-secret-access-key"
)

// Server is a running podid server.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:40123 (https with
	// WithTLS; also the Config.PublicURL).
	URL string
	// Store is the server's store.
	Store store.Store
	// Server is the podid server (ARNs, IssuerURL).
	Server *server.Server
	// HTTP is the underlying test server.
	HTTP *httptest.Server
	// Config is the configuration the server was built with.
	Config server.Config
}

// Option adjusts the server before it starts.
type Option func(*options)

type options struct {
	store     store.Store
	configure []func(*server.Config)
	tls       bool
}

// WithTLS serves over TLS (httptest's certificate, which the HTTP field's
// client trusts): URL is https://..., and requests carry
// aws:SecureTransport true.
func WithTLS() Option {
	return func(o *options) { o.tls = true }
}

// WithConfig lets the test edit the server config (region, limits, Routes,
// Authenticate, Mounts, ...) before the server is built. Store and PublicURL are
// already set; changing them is allowed.
func WithConfig(fn func(*server.Config)) Option {
	return func(o *options) { o.configure = append(o.configure, fn) }
}

// WithStore serves from st instead of a fresh SQLite store. The caller
// closes st.
func WithStore(st store.Store) Option {
	return func(o *options) { o.store = st }
}

// New starts a server for t and stops it (and closes its store) when the
// test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	st := o.store
	if st == nil {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "podid.db"))
		if err != nil {
			t.Fatalf("opening the test store: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("closing the test store: %v", err)
			}
		})
		st = s
	}

	ts := httptest.NewUnstartedServer(nil)
	url := "http://" + ts.Listener.Addr().String()
	if o.tls {
		url = "https://" + ts.Listener.Addr().String()
	}
	cfg := server.Config{
		Store:     st,
		PublicURL: url,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	for _, fn := range o.configure {
		fn(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		ts.Close()
		t.Fatalf("building the server: %v", err)
	}
	ts.Config.Handler = srv.Handler()
	if o.tls {
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close) // runs before the store closes (cleanups are LIFO)
	return &Server{URL: url, Store: st, Server: srv, HTTP: ts, Config: cfg}
}

// EKS returns an EKS client for the server: BaseEndpoint set, static test
// credentials, the server's region and the SDK's default retryer.
func (s *Server) EKS(t testing.TB, optFns ...func(*eks.Options)) *eks.Client {
	t.Helper()
	region := s.Config.Region
	if region == "" {
		region = server.DefaultRegion
	}
	cfg := aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		HTTPClient:  s.HTTP.Client(),
	}
	return eks.NewFromConfig(cfg, append([]func(*eks.Options){func(o *eks.Options) {
		o.BaseEndpoint = aws.String(s.URL)
	}}, optFns...)...)
}

// testWriter sends log lines to t.Log (only with -v).
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
