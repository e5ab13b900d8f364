package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/podid/podid/internal/admin"
	"github.com/podid/podid/internal/assoccache"
	"github.com/podid/podid/internal/audit"
	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/cloudtrail"
	"github.com/podid/podid/internal/console"
	"github.com/podid/podid/internal/eksauth"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/iam/accesskey"
	"github.com/podid/podid/internal/iam/enforce"
	"github.com/podid/podid/internal/iam/iamhttp"
	"github.com/podid/podid/internal/privfs"
	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
	"github.com/podid/podid/internal/store/storeopen"
	"github.com/podid/podid/internal/sts"
	"github.com/podid/podid/internal/sts/stshttp"
	"github.com/podid/podid/internal/sts/upstream"
)

// served is what build makes of podid serve's flags: the open store and
// the audit trail's recorder (the caller closes them, close) and the
// handler of every route.
type served struct {
	store   store.Store
	audit   *audit.Recorder
	handler http.Handler
}

// close stores the audit events still queued, then closes the store.
func (s *served) close() error {
	s.audit.Close()
	return s.store.Close()
}

// build wires podid serve's parts in dependency order: store → names →
// IAM (enforce.Enforcer) → STS → IAM users' key secrets → authentication →
// authorization → association cache → handler families (IAM and STS sharing
// POST /) → the audit trail's recorder → the host they mount into. The
// cache's loop ends with ctx.
func build(ctx context.Context, o *serveOptions, publicURL string, logger *slog.Logger, stdout io.Writer) (_ *served, err error) {
	// The data directory holds the SQLite store and the admin keys: made
	// 0700, and refused when other users may read it or own it.
	if err := privfs.MkdirAll(o.dataDir); err != nil {
		return nil, fmt.Errorf("--data-dir: %w", err)
	}
	st, err := storeopen.Open(ctx, o.store, o.dataDir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()

	cfg := server.Config{
		Store:            st,
		Region:           o.region,
		AccountID:        o.accountID,
		Logger:           logger,
		MaxBodyBytes:     o.maxBodyBytes,
		BodyBudget:       o.bodyBudget,
		BodyReadTimeout:  o.bodyReadTimeout,
		PublicURL:        publicURL,
		NewClusterIssuer: satoken.NewIssuer,
	}
	names := cfg.Names()
	// Clusters and associations stored before podid kept regions are in
	// this server's region, once, before serving (and before the issuer
	// URL backfill, which looks there).
	if n, err := st.AdoptRegion(ctx, o.region); err != nil {
		return nil, err
	} else if n > 0 {
		logger.Info("put clusters made before podid kept regions in --region", "clusters", n, "region", o.region)
	}
	// Clusters stored before podid kept their issuer URL get the one they
	// had so far (from this replica's public URL), once, before serving.
	if n, err := names.BackfillIssuerURLs(ctx, st); err != nil {
		return nil, err
	} else if n > 0 {
		logger.Info("stored the issuer URL of clusters made before podid kept it", "clusters", n)
	}

	// The session key lives in the store: every replica verifies every
	// replica's sessions.
	key, err := sts.KeyFromStore(ctx, st)
	if err != nil {
		return nil, err
	}
	// IAM: the policies of the store's roles and users, parsed once and
	// followed through the store's changes. --iam enforce applies them to
	// every call and role assumption; --iam off keeps authz.Rules, and
	// explain still answers what enforcement would decide.
	iam := enforce.New(enforce.Config{Store: st, AccountID: o.accountID, Logger: logger})
	if err := iam.Start(ctx); err != nil {
		return nil, err
	}
	var authorizer authz.Authorizer = authz.Rules{}
	stsCfg := sts.Config{Region: o.region, AccountID: o.accountID, Keys: [][]byte{key}, Logger: logger}
	if o.iam == iamEnforce {
		authorizer, stsCfg.Roles = iam, iam
	}
	localSTS, err := sts.New(stsCfg)
	if err != nil {
		return nil, err
	}
	var assumer eksauth.Assumer = localSTS
	if o.upstreamSTS != "" {
		if assumer, err = upstream.New(ctx, o.upstreamSTS, o.region); err != nil {
			return nil, err
		}
	}

	// IAM users' access keys: their secrets derive from a key in the
	// store, so every replica authenticates every replica's users.
	keySecrets, err := accesskey.FromStore(ctx, st)
	if err != nil {
		return nil, err
	}
	adminKeys, err := adminIdentity(o, stdout)
	if err != nil {
		return nil, fmt.Errorf("setting up --auth %s: %w", o.auth, err)
	}
	authn := sigv4.New(sigv4.Config{
		Mode: o.auth, Admin: adminKeys, AccountID: o.accountID, Region: o.region, Sessions: localSTS,
		Users:  &accesskey.Lookup{Store: st, Secrets: keySecrets, AccountID: o.accountID},
		Logger: logger,
		// Prometheus scrapes without SigV4; metrics carry no secrets.
		PublicPrefixes: []string{"/healthz", "/clusters-oidc/", "/metrics"},
	})

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if ws, ok := st.(interface{ Stats() sqlite.WriteStats }); ok {
		// Group commit at work: writes per commit (per fsync), and where
		// a write's time goes.
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "podid_store_commits_total", Help: "SQLite write transactions committed (one WAL fsync each).",
			}, func() float64 { return float64(ws.Stats().Commits) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "podid_store_writes_total", Help: "Writes those transactions carried (several per transaction when writers are concurrent; SQLite: the audit trail's appends not counted).",
			}, func() float64 { return float64(ws.Stats().Writes) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "podid_store_timed_writes_total", Help: "Writes that committed, whose time podid_store_write_stage_seconds_total sums.",
			}, func() float64 { return float64(ws.Stats().Stages.Writes) }),
		)
		durationCounters(reg, "podid_store_write_stage_seconds_total",
			"Time the writes that committed spent in each stage: queued for the writer, batched in their transaction before COMMIT, committing, syncing (COMMIT to answered), returning (answer to caller).",
			ws, "stage", []writeStage{
				{"queued", func(s sqlite.WriteStages) time.Duration { return s.Queued }},
				{"batched", func(s sqlite.WriteStages) time.Duration { return s.Batched }},
				{"committing", func(s sqlite.WriteStages) time.Duration { return s.Committing }},
				{"syncing", func(s sqlite.WriteStages) time.Duration { return s.Syncing }},
				{"returning", func(s sqlite.WriteStages) time.Duration { return s.Returning }},
			})
		durationCounters(reg, "podid_store_write_stage_part_seconds_total",
			"Parts of the stages' time: of batched, waiting for the last commit's sync (sync_wait) and for more writes to join (gather_wait); of syncing, the fdatasync of the WAL itself.",
			ws, "part", []writeStage{
				{"sync_wait", func(s sqlite.WriteStages) time.Duration { return s.SyncWait }},
				{"gather_wait", func(s sqlite.WriteStages) time.Duration { return s.GatherWait }},
				{"fdatasync", func(s sqlite.WriteStages) time.Duration { return s.FDataSync }},
			})
	}
	cache := assoccache.New(st, assoccache.Options{
		PollInterval:   o.pollInterval,
		ResyncInterval: o.resyncInterval,
		Delay:          o.propagationDelay,
		Logger:         logger,
		Registerer:     reg,
	})
	// Serve while the cache loads (a million associations take seconds):
	// the credential path reads through to the store until it is done.
	cache.StartBackground(ctx)

	verifier := satoken.NewVerifier(satoken.VerifierOptions{Logger: logger})
	credentialPath := eksauth.New(eksauth.Config{
		Cache:          cache,
		Verifier:       verifier,
		Assumer:        assumer,
		IssuerURL:      names.IssuerURL,
		AssociationARN: names.AssociationARN,
		ClusterARN:     names.ClusterARN,
		Region:         o.region,
		Logger:         logger,
		Authorizer:     authorizer,
	})
	adminAPI := admin.New(admin.Config{
		JWKS:           verifier,
		Store:          st,
		Cache:          cache,
		Sessions:       localSTS,
		IssuerURL:      names.IssuerURL,
		ClusterARN:     names.ClusterARN,
		AssociationARN: names.AssociationARN,
		Region:         o.region,
		Authorizer:     authorizer,
		Explainer:      iam,
		IAMMode:        o.iam,
		Logger:         logger,
	})
	iamAPI := iamhttp.New(iamhttp.Config{
		Store: st, Secrets: keySecrets, AccountID: o.accountID, Authorizer: authorizer,
	})
	cfg.Mounts = []func(*httpx.Host) error{
		// IAM and STS share POST /.
		func(h *httpx.Host) error { return iamAPI.Mount(h, stshttp.Handler(localSTS, authorizer)) },
		credentialPath.Mount,
		adminAPI.Mount,
		func(h *httpx.Host) error {
			return h.HandleHTTP("GET /metrics", httpx.Public, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		},
	}
	trail := &cloudtrail.Handler{Store: st, Authorizer: authorizer}
	cfg.Mounts = append(cfg.Mounts, trail.Mount)
	if o.console {
		cfg.Mounts = append(cfg.Mounts, console.Mount)
	}
	recorder := audit.New(audit.Config{
		Store: st, Region: o.region, AccountID: o.accountID,
		ClusterARN: names.ClusterARN, AssociationARN: names.AssociationARN,
		Retention: o.auditRetention, MaxEvents: o.auditMaxEvents,
		Logger: logger,
	})
	cfg.Observer = recorder
	cfg.Routes = o.extraRoutes
	cfg.Authenticate = authn.Authenticate
	cfg.Authorizer = authorizer

	srv, err := server.New(cfg)
	if err != nil {
		return nil, err
	}
	recorder.Start()
	return &served{store: st, audit: recorder, handler: srv.Handler()}, nil
}

// adminIdentity returns the admin identity's keys: with --auth sigv4,
// from --data-dir, created (and printed once) on first start; none with
// --auth none.
func adminIdentity(o *serveOptions, stdout io.Writer) (sts.Credentials, error) {
	if o.auth != sigv4.ModeSigV4 {
		return sts.Credentials{}, nil
	}
	keys, created, err := sigv4.LoadOrCreateAdmin(o.dataDir)
	if err != nil {
		return keys, err
	}
	if created {
		fmt.Fprintf(stdout, "podid serve: created the admin identity's access keys (shown once; kept in %s/%s):\n"+
			"  export AWS_ACCESS_KEY_ID=%s\n  export AWS_SECRET_ACCESS_KEY=%s\n\n",
			o.dataDir, sigv4.AdminFile, keys.AccessKeyID, keys.SecretAccessKey)
	} else {
		path := filepath.Join(o.dataDir, sigv4.AdminFile)
		fmt.Fprintf(stdout, "podid serve: the admin identity's keys (access key ID %s) are in %s;\n"+
			"  export them as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (podid token, wait, issuer and session read that file with --data-dir %s)\n\n",
			keys.AccessKeyID, path, o.dataDir)
	}
	return keys, nil
}

// writeStage names one of the SQLite writer's stage timings and reads it.
type writeStage struct {
	name string
	get  func(sqlite.WriteStages) time.Duration
}

// durationCounters registers name, a counter of seconds with a label
// (label) per stage, read from ws's stats when scraped.
func durationCounters(reg *prometheus.Registry, name, help string, ws interface{ Stats() sqlite.WriteStats }, label string, stages []writeStage) {
	for _, stage := range stages {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: name, Help: help, ConstLabels: prometheus.Labels{label: stage.name},
		}, func() float64 { return stage.get(ws.Stats().Stages).Seconds() }))
	}
}
