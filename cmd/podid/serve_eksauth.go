package main

// EKS Auth for podid serve: per-cluster token issuers (CreateCluster makes
// the signing key), AssumeRoleForPodIdentity, OIDC discovery, the
// association cache feeding the credential path, and the admin API behind
// podid token, podid issuer and podid wait. Registered through serve.go's
// extension points.

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/podid/podid/internal/assoccache"
	"github.com/podid/podid/internal/eksauth"
	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/server"
)

// eksauthOptions are the flags this file adds to podid serve.
var eksauthOptions struct {
	propagationDelay time.Duration
	pollInterval     time.Duration
	resyncInterval   time.Duration
}

func init() {
	f := subcommand("serve").Flags()
	f.DurationVar(&eksauthOptions.propagationDelay, "propagation-delay", 0,
		"hold association changes back this long before credential requests see them (emulates EKS's eventual consistency; podid wait reports when a change is in effect)")
	f.DurationVar(&eksauthOptions.pollInterval, "cache-poll-interval", time.Second,
		"how often the credential path's association cache reads the store's change feed when no change signal arrives (several replicas on PostgreSQL)")
	f.DurationVar(&eksauthOptions.resyncInterval, "cache-resync-interval", 5*time.Minute,
		"how often the association cache re-reads every association as a safety net")
	serveHooks = append(serveHooks, mountEKSAuth)
}

// mountEKSAuth starts the association cache and mounts EKS Auth, OIDC
// discovery, the token/issuer/wait admin API and GET /metrics.
func mountEKSAuth(ctx context.Context, env serveEnv, cfg *server.Config) error {
	if eksauthOptions.propagationDelay < 0 || eksauthOptions.pollInterval <= 0 || eksauthOptions.resyncInterval <= 0 {
		return fmt.Errorf("--propagation-delay must not be negative; --cache-poll-interval and --cache-resync-interval must be positive")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cache := assoccache.New(env.Store, assoccache.Options{
		PollInterval:   eksauthOptions.pollInterval,
		ResyncInterval: eksauthOptions.resyncInterval,
		Delay:          eksauthOptions.propagationDelay,
		Logger:         env.Logger,
		Registerer:     reg,
	})
	// The cache's loop ends with ctx (the serve process's signal context).
	if err := cache.Start(ctx); err != nil {
		return err
	}
	assumer, err := stsAssumer(ctx, env)
	if err != nil {
		return err
	}
	// The server is built after the hooks; its naming rules come from the
	// same config.
	names := cfg.Names()
	h := eksauth.New(eksauth.Config{
		Store:          env.Store,
		Cache:          cache,
		Verifier:       satoken.NewVerifier(satoken.VerifierOptions{Logger: env.Logger}),
		Assumer:        assumer,
		IssuerURL:      names.IssuerURL,
		AssociationARN: names.AssociationARN,
		ClusterARN:     names.ClusterARN,
		Logger:         env.Logger,
		// The --auth mode's policy (set before the hooks run): vended
		// sessions may not assume roles for pods.
		Authorizer: cfg.Authorizer,
	})
	if cfg.Routes == nil {
		cfg.Routes = map[string]http.Handler{}
	}
	for pattern, hd := range h.Routes() {
		cfg.Routes[pattern] = hd
	}
	cfg.Routes["GET /metrics"] = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	cfg.NewClusterIssuer = satoken.NewIssuer
	return nil
}
