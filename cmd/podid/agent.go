package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/podid/podid/internal/agent"
	"github.com/podid/podid/internal/agent/eksauthclient"
)

// agentOptions are podid agent's flags.
type agentOptions struct {
	server        string
	cluster       string
	region        string
	listen        []string
	probeListen   string
	allowedHosts  []string
	maxCacheSize  int
	maxServiceQPS float64
	retention     time.Duration
	rateLimit     float64
	rateBurst     int
	logLevel      string

	linkLocal linkLocalOptions
}

func newAgentCmd() *cobra.Command {
	o := &agentOptions{}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the node agent: the container-credentials endpoint pods' AWS SDKs call",
		Long: `agent serves GET /v1/credentials as the EKS Pod Identity Agent does: pods'
AWS SDKs send their service-account token (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE)
and get the association role's credentials, exchanged through EKS Auth's
AssumeRoleForPodIdentity (podid serve, or the real service) and cached.

By default it listens on loopback (127.0.0.1:2704): point a process at it with
  AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:2704/v1/credentials
In a cluster, bind the addresses pods are given:
  podid agent --listen 169.254.170.23:80 --listen [fd00:ec2::23]:80 ...
The Host header must name one of those addresses (plus loopback names when a
listen address is loopback); --allowed-hosts overrides the list.

Requests to EKS Auth are signed with credentials from the AWS SDK's default
chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, instance roles).
Probes /healthz, /readyz and Prometheus /metrics are served on --probe-listen.
SIGTERM or SIGINT shut it down gracefully.

--setup-link-local puts 169.254.170.23/32 and fd00:ec2::23/128 on a dummy
interface of the node (podid0) and exits, changing nothing that is already so:
run it as the agent DaemonSet's init container (it needs CAP_NET_ADMIN and the
host network; the agent itself does not). --remove-link-local deletes the
interface, for uninstall.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.linkLocal.requested() {
				return runLinkLocal(&o.linkLocal, cmd.ErrOrStderr())
			}
			return runAgent(cmd.Context(), o, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "EKS Auth endpoint URL, e.g. podid serve's http://127.0.0.1:8080 (default $AWS_ENDPOINT_URL_EKS_AUTH, $AWS_ENDPOINT_URL, then https://eks-auth.REGION.api.aws)")
	f.StringVar(&o.cluster, "cluster", "", "name of the cluster this node belongs to (required)")
	f.StringVar(&o.region, "region", "", "SigV4 signing region for EKS Auth (default from the AWS configuration, e.g. $AWS_REGION)")
	f.StringArrayVar(&o.listen, "listen", []string{agent.DefaultListen}, "address for /v1/credentials; repeat for several (in a cluster: 169.254.170.23:80 and [fd00:ec2::23]:80)")
	f.StringVar(&o.probeListen, "probe-listen", agent.DefaultProbeListen, `address for /healthz, /readyz and /metrics ("" serves them on the --listen addresses)`)
	f.StringSliceVar(&o.allowedHosts, "allowed-hosts", nil, "Host header values accepted (default 169.254.170.23 and fd00:ec2::23, plus 127.0.0.1, ::1 and localhost when listening on loopback)")
	f.IntVar(&o.maxCacheSize, "max-cache-size", agent.DefaultMaxCacheSize, "most credentials kept in the cache")
	f.Float64Var(&o.maxServiceQPS, "max-service-qps", agent.DefaultRefreshQPS, "most background renewals per second sent to EKS Auth")
	f.DurationVar(&o.retention, "retention", agent.DefaultRetention, "longest time cached credentials are served before renewal (capped by their expiry); the AWS agent's --max-credential-retention-before-renewal")
	f.Float64Var(&o.rateLimit, "rate-limit", 0, "most /v1/credentials requests per second over all callers; excess gets 429 (0: no limit)")
	f.IntVar(&o.rateBurst, "rate-burst", 100, "burst allowed above --rate-limit")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	o.linkLocal.register(f)
	return cmd
}

func (o *agentOptions) validate() error {
	var problems []error
	if o.cluster == "" {
		problems = append(problems, errors.New("--cluster is required"))
	}
	if len(o.listen) == 0 {
		problems = append(problems, errors.New("--listen needs at least one address"))
	}
	if o.maxCacheSize <= 0 {
		problems = append(problems, errors.New("--max-cache-size must be positive"))
	}
	if o.maxServiceQPS <= 0 {
		problems = append(problems, errors.New("--max-service-qps must be positive"))
	}
	if o.retention < time.Minute {
		problems = append(problems, errors.New("--retention must be at least 1m"))
	}
	if o.rateLimit < 0 || o.rateBurst < 0 {
		problems = append(problems, errors.New("--rate-limit and --rate-burst must not be negative"))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		problems = append(problems, fmt.Errorf("--log-level: %w", err))
	}
	return errors.Join(problems...)
}

func runAgent(ctx context.Context, o *agentOptions, stderr io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(o.logLevel))
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()

	client, err := eksauthclient.NewFromEnvironment(ctx, o.server, eksauthclient.Config{
		Region:    o.region,
		UserAgent: "podid-agent/" + version,
	})
	if err != nil {
		return fmt.Errorf("configuring the eks auth client: %w", err)
	}
	var allowed []string
	for _, h := range o.allowedHosts {
		if h = strings.TrimSpace(h); h != "" {
			allowed = append(allowed, h)
		}
	}
	a, err := agent.New(agent.Config{
		Cluster:      o.cluster,
		Upstream:     &agent.Upstream{Client: client},
		Listen:       o.listen,
		ProbeListen:  o.probeListen,
		AllowedHosts: allowed,
		Cache: agent.CacheConfig{
			MaxSize:    o.maxCacheSize,
			Retention:  o.retention,
			RefreshQPS: o.maxServiceQPS,
		},
		RateLimit: o.rateLimit,
		RateBurst: o.rateBurst,
		Logger:    logger,
	})
	if err != nil {
		return err
	}
	logger.Info("podid agent starting", "cluster", o.cluster, "listen", o.listen, "probe_listen", o.probeListen)
	if err := a.ListenAndServe(ctx); err != nil {
		return err
	}
	logger.Info("podid agent stopped")
	return nil
}
