package main

// SigV4 authentication and the STS endpoint for podid serve: --auth sigv4
// (and --auth none's session attribution), the admin identity's keys in
// --data-dir, the local STS (POST / and the session inspection API) and
// --upstream-sts. Everything registers itself through serve.go's extension
// points (authModes, serveHooks).

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/sts"
)

// authOptions are the flags this file adds to podid serve.
var authOptions struct {
	dataDir     string
	upstreamSTS string
}

func init() {
	serve := subcommand("serve")
	f := serve.Flags()
	f.StringVar(&authOptions.dataDir, "data-dir", "podid-data", "directory for the admin identity's access keys ("+sigv4.AdminFile+", created on first start with --auth sigv4)")
	f.StringVar(&authOptions.upstreamSTS, "upstream-sts", "", `make EKS Auth's role assumptions against this STS endpoint (e.g. https://sts.us-west-2.amazonaws.com) with podid's own credentials from the AWS SDK's default chain, instead of podid's local STS`)

	authModes[sigv4.ModeSigV4] = func(ctx context.Context, env serveEnv, cfg *server.Config) error {
		admin, created, err := sigv4.LoadOrCreateAdmin(authOptions.dataDir)
		if err != nil {
			return err
		}
		if created {
			fmt.Fprintf(os.Stdout, "podid serve: created the admin identity's access keys (shown once; kept in %s/%s):\n"+
				"  export AWS_ACCESS_KEY_ID=%s\n  export AWS_SECRET_ACCESS_KEY=%s\n\n",
				authOptions.dataDir, sigv4.AdminFile, admin.AccessKeyID, admin.SecretAccessKey)
		}
		return installAuth(ctx, env, cfg, sigv4.ModeSigV4, admin)
	}
	// --auth none checks no signature but still attributes requests made
	// with vended credentials to their session.
	authModes[sigv4.ModeNone] = func(ctx context.Context, env serveEnv, cfg *server.Config) error {
		return installAuth(ctx, env, cfg, sigv4.ModeNone, sts.Credentials{})
	}
	serveHooks = append(serveHooks, mountSTS)
	f.Lookup("auth").Usage = "request authentication: " + strings.Join(authNames(), ", ") +
		" (sigv4: AWS Signature V4 with the admin identity's keys or vended session credentials; none: signatures not checked)"
}

func installAuth(ctx context.Context, env serveEnv, cfg *server.Config, mode string, admin sts.Credentials) error {
	svc, err := localSTS(ctx, env)
	if err != nil {
		return err
	}
	auth := sigv4.New(sigv4.Config{
		Mode: mode, Admin: admin, AccountID: env.Options.accountID, Sessions: svc,
		MaxBody: env.Options.maxBodyBytes, RequestID: server.RequestID, Logger: env.Logger,
		// Prometheus scrapes without SigV4; metrics carry no secrets.
		PublicPrefixes: []string{"/healthz", "/clusters-oidc/", "/metrics"},
	})
	cfg.Middleware = auth.Middleware
	// Same rules in both modes: the admin identity may do everything, a
	// vended session may not write the EKS API or assume roles for pods.
	cfg.Authorizer = server.AuthorizerFunc(sigv4.Authorize)
	return nil
}

// mountSTS adds the STS endpoint (POST /) and the session inspection API.
func mountSTS(ctx context.Context, env serveEnv, cfg *server.Config) error {
	svc, err := localSTS(ctx, env)
	if err != nil {
		return err
	}
	if cfg.Routes == nil {
		cfg.Routes = map[string]http.Handler{}
	}
	for pattern, h := range svc.Routes() {
		cfg.Routes[pattern] = h
	}
	return nil
}

var localSTSs = struct {
	sync.Mutex
	m map[store.Store]*sts.Service
}{m: map[store.Store]*sts.Service{}}

// localSTS returns the serve process's local STS (one per store), its
// session key shared through the store so every replica verifies every
// replica's sessions.
func localSTS(ctx context.Context, env serveEnv) (*sts.Service, error) {
	localSTSs.Lock()
	defer localSTSs.Unlock()
	if svc, ok := localSTSs.m[env.Store]; ok {
		return svc, nil
	}
	key, err := sts.KeyFromStore(ctx, env.Store)
	if err != nil {
		return nil, err
	}
	svc, err := sts.New(sts.Config{
		Region: env.Options.region, AccountID: env.Options.accountID, Keys: [][]byte{key},
		Logger: env.Logger, RequestID: server.RequestID,
	})
	if err != nil {
		return nil, err
	}
	localSTSs.m[env.Store] = svc
	return svc, nil
}

// assumer is what EKS Auth needs from an STS (eksauth.Assumer).
type assumer interface {
	AssumeRole(ctx context.Context, in sts.AssumeRoleInput) (sts.AssumeRoleOutput, error)
}

// stsAssumer is the STS EKS Auth's role assumptions go to: the upstream
// one with --upstream-sts, else the local one.
func stsAssumer(ctx context.Context, env serveEnv) (assumer, error) {
	if authOptions.upstreamSTS != "" {
		return sts.NewUpstream(ctx, authOptions.upstreamSTS, env.Options.region)
	}
	return localSTS(ctx, env)
}

// subcommand finds a subcommand registered by an earlier file's init
// (files initialize in name order: serve.go before serve_auth.go).
func subcommand(name string) *cobra.Command {
	for _, c := range rootCmd.Commands() {
		if c.Name() == name {
			return c
		}
	}
	panic("podid: no " + name + " command to extend")
}
