package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/podid/podid/internal/audit"
	"github.com/podid/podid/internal/console"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/store/storeopen"
)

// serveOptions are podid serve's flags.
type serveOptions struct {
	listen           string
	store            string
	region           string
	accountID        string
	auth             string
	iam              string
	dataDir          string
	publicURL        string
	upstreamSTS      string
	propagationDelay time.Duration
	pollInterval     time.Duration
	resyncInterval   time.Duration
	maxBodyBytes     int64
	bodyBudget       int64
	bodyReadTimeout  time.Duration
	maxConnsPerAddr  int
	logLevel         string
	shutdownTimeout  time.Duration
	console          bool
	auditRetention   time.Duration
	auditMaxEvents   int

	extraRoutes map[string]http.Handler // more routes, for tests; no flag
}

// authModes are --auth's values.
var authModes = []string{sigv4.ModeNone, sigv4.ModeSigV4}

// --iam's values.
const (
	iamEnforce = "enforce"
	iamOff     = "off"
)

func newServeCmd() *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the EKS API for pod identity associations and clusters (with EKS Auth and STS)",
		Long: `serve answers the EKS API for pod identity associations and minimal clusters,
wire-compatible with the AWS CLI and SDKs: point them at it with
AWS_ENDPOINT_URL_EKS (or --endpoint-url). GET /healthz answers 200 when ready.
SIGTERM or SIGINT shut it down gracefully, finishing requests in flight.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to listen on (host:port; loopback by default)")
	f.StringVar(&o.store, "store", "sqlite:", `store DSN: "sqlite:" (file podid.db in --data-dir), "sqlite:PATH", or "postgres://USER:PASS@HOST:PORT/DB" for several replicas`)
	f.StringVar(&o.region, "region", server.DefaultRegion, "AWS region the server acts as (ARNs, externalId)")
	f.StringVar(&o.accountID, "account-id", server.DefaultAccountID, "12-digit AWS account ID that owns clusters and associations")
	f.StringVar(&o.auth, "auth", sigv4.ModeSigV4, "request authentication: "+strings.Join(authModes, ", ")+
		" (sigv4: AWS Signature V4 with the admin identity's keys or vended session credentials; none: signatures not checked)")
	f.StringVar(&o.publicURL, "public-url", "", "base URL clients use to reach the server: cluster endpoint and issuer base (default http://<listen address>, 127.0.0.1 for an unspecified host)")
	f.Int64Var(&o.maxBodyBytes, "max-body-bytes", server.DefaultMaxBodyBytes, "largest request body accepted; larger is a 413 RequestEntityTooLargeException")
	f.Int64Var(&o.bodyBudget, "preauth-body-budget", httpx.DefaultBodyBudget,
		"bytes of request bodies received at once, before their signatures are checked (each counted at its declared length); one more gets a 503 ThrottlingException (Throttling in STS and IAM)")
	f.DurationVar(&o.bodyReadTimeout, "body-read-timeout", httpx.DefaultBodyReadTimeout,
		"how long a request body may take to arrive; a slower one is cut with a 408 RequestTimeoutException (RequestTimeout in STS and IAM)")
	f.IntVar(&o.maxConnsPerAddr, "max-conns-per-address", httpx.DefaultMaxConnsPerAddress,
		"open connections one client IP address may hold; one more is answered with a 503 ThrottlingException and closed (0: no cap)")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error (info logs one line per request)")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM/SIGINT, how long to wait for requests in flight")
	f.StringVar(&o.iam, "iam", iamEnforce, "IAM policies: "+iamEnforce+" (every call needs the caller's identity policies, every role assumption the role's trust policy; the admin identity is the account root) or "+iamOff+" (no IAM: the admin may do everything, a vended session STS and the reads)")
	f.StringVar(&o.dataDir, "data-dir", "podid-data", "directory (mode 0700) for podid's files: the SQLite store unless --store names another, and the admin identity's access keys ("+sigv4.AdminFile+", created on first start with --auth sigv4)")
	f.StringVar(&o.upstreamSTS, "upstream-sts", "", `make EKS Auth's role assumptions against this STS endpoint (e.g. https://sts.us-west-2.amazonaws.com) with podid's own credentials from the AWS SDK's default chain, instead of podid's local STS`)
	f.DurationVar(&o.propagationDelay, "propagation-delay", 0,
		"hold association changes back this long before credential requests see them (emulates EKS's eventual consistency; podid wait reports when a change is in effect)")
	f.DurationVar(&o.pollInterval, "cache-poll-interval", time.Second,
		"how often the credential path's association cache reads the store's change feed when no change signal arrives (several replicas on PostgreSQL)")
	f.DurationVar(&o.resyncInterval, "cache-resync-interval", 5*time.Minute,
		"how often the association cache re-reads every association as a safety net")
	f.DurationVar(&o.auditRetention, "audit-retention", audit.DefaultRetention, "how long the audit trail keeps events (CloudTrail LookupEvents, podid audit)")
	f.IntVar(&o.auditMaxEvents, "audit-max-events", audit.DefaultMaxEvents, "how many events the audit trail keeps at most (the newest)")
	f.BoolVar(&o.console, "console", true, "serve the web console at /console/ (it signs in with access keys and calls the APIs above; --console=false turns it off)")
	return cmd
}

// check reports every problem with the flags at once.
func (o *serveOptions) check() error {
	var problems []error
	if _, port, err := net.SplitHostPort(o.listen); err != nil {
		problems = append(problems, fmt.Errorf("--listen %q: want host:port (e.g. 127.0.0.1:8080)", o.listen))
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		problems = append(problems, fmt.Errorf("--listen %q: port must be a number from 0 to 65535", o.listen))
	}
	if err := storeopen.Check(o.store); err != nil {
		problems = append(problems, err)
	}
	if o.iam != iamEnforce && o.iam != iamOff {
		problems = append(problems, fmt.Errorf("--iam %q: use %s or %s", o.iam, iamEnforce, iamOff))
	}
	if !slices.Contains(authModes, o.auth) {
		problems = append(problems, fmt.Errorf("--auth %q: use %s", o.auth, strings.Join(authModes, " or ")))
	}
	if o.maxBodyBytes <= 0 {
		problems = append(problems, fmt.Errorf("--max-body-bytes %d: must be positive", o.maxBodyBytes))
	}
	if o.bodyBudget < 0 || (o.bodyBudget > 0 && o.bodyBudget < o.maxBodyBytes) {
		problems = append(problems, fmt.Errorf("--preauth-body-budget %d: must be at least --max-body-bytes (%d)", o.bodyBudget, o.maxBodyBytes))
	}
	if o.bodyReadTimeout < 0 {
		problems = append(problems, fmt.Errorf("--body-read-timeout %s: must be positive", o.bodyReadTimeout))
	}
	if o.maxConnsPerAddr < 0 {
		problems = append(problems, fmt.Errorf("--max-conns-per-address %d: must not be negative (0: no cap)", o.maxConnsPerAddr))
	}
	if _, err := parseLogLevel(o.logLevel); err != nil {
		problems = append(problems, err)
	}
	if o.shutdownTimeout <= 0 {
		problems = append(problems, fmt.Errorf("--shutdown-timeout %s: must be positive", o.shutdownTimeout))
	}
	if o.auditRetention < 0 || o.auditMaxEvents < 0 {
		problems = append(problems, errors.New("--audit-retention and --audit-max-events must not be negative (0: the default)"))
	}
	if o.propagationDelay < 0 || o.pollInterval <= 0 || o.resyncInterval <= 0 {
		problems = append(problems, errors.New("--propagation-delay must not be negative; --cache-poll-interval and --cache-resync-interval must be positive"))
	}
	cfg := server.Config{Region: o.region, AccountID: o.accountID, PublicURL: o.publicURL, MaxBodyBytes: max(o.maxBodyBytes, 1)}
	if o.region == "" {
		problems = append(problems, errors.New("--region must not be empty"))
	}
	if o.accountID == "" {
		problems = append(problems, errors.New("--account-id must not be empty"))
	}
	if err := cfg.Validate(); err != nil {
		problems = append(problems, err)
	}
	if len(problems) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("invalid flags:")
	for _, p := range problems {
		for _, line := range strings.Split(p.Error(), "\n") {
			b.WriteString("\n  - " + line)
		}
	}
	return errors.New(b.String())
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: use debug, info, warn or error", s)
	}
	return l, nil
}

func runServe(ctx context.Context, o *serveOptions, stdout, stderr io.Writer) error {
	if err := o.check(); err != nil {
		return err
	}
	level, _ := parseLogLevel(o.logLevel)
	logger, logs := httpx.NewLogger(stderr, level)
	defer logs.Close()

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.listen, err)
	}
	defer ln.Close()
	if o.maxConnsPerAddr > 0 {
		ln = httpx.LimitConnsPerAddress(ln, o.maxConnsPerAddr, logger)
	}
	publicURL := o.publicURL
	if publicURL == "" {
		publicURL = urlForListener(ln.Addr())
	}

	p, err := build(ctx, o, publicURL, logger, stdout)
	if err != nil {
		return err
	}
	storeClosed := false
	defer func() {
		if !storeClosed {
			p.close()
		}
	}()
	hs := &http.Server{
		Handler:           p.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	printBanner(stdout, o, publicURL)

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	stop() // a second signal kills the process the default way
	logger.Info("shutting down: finishing requests in flight", "timeout", o.shutdownTimeout)
	logs.Flush()
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	shutdownErr := hs.Shutdown(sctx)
	if shutdownErr != nil {
		hs.Close()
		shutdownErr = fmt.Errorf("shutting down: %w", shutdownErr)
	}
	storeClosed = true
	if err := p.close(); err != nil {
		return errors.Join(shutdownErr, fmt.Errorf("closing store: %w", err))
	}
	if shutdownErr == nil {
		logger.Info("stopped")
	}
	return shutdownErr
}

// urlForListener is http://host:port of the listener, with 127.0.0.1 for
// an unspecified host so the URL is one a local client can use.
func urlForListener(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

func printBanner(w io.Writer, o *serveOptions, url string) {
	fmt.Fprintf(w, `podid serve: EKS API at %s (store %s, region %s, account %s, auth %s, iam %s)

Point the AWS CLI and SDKs at it:
  export AWS_ENDPOINT_URL_EKS=%s
  export AWS_ENDPOINT_URL_EKS_AUTH=%s AWS_ENDPOINT_URL_STS=%s AWS_ENDPOINT_URL_IAM=%s
  export AWS_REGION=%s AWS_DEFAULT_REGION=%s   # the AWS CLI v1 reads AWS_DEFAULT_REGION
`, url, storeopen.Redact(o.store), o.region, o.accountID, o.auth, o.iam, url, url, url, url, o.region, o.region)
	if o.iam == iamOff {
		fmt.Fprintf(w, "IAM is off (--iam off): role assumptions are not checked against trust policies, nor calls against identity policies.\n")
	} else {
		fmt.Fprintf(w, "IAM is enforced: create roles with their trust policies (aws iam create-role) before associations use them.\n")
	}
	if o.auth == "none" {
		fmt.Fprintf(w, "  export AWS_ACCESS_KEY_ID=podid AWS_SECRET_ACCESS_KEY=podid   # any values: --auth none does not check them\n")
	}
	fmt.Fprintf(w, `  aws eks list-clusters --endpoint-url %s --region %s
Health: curl %s/healthz
`, url, o.region, url)
	if o.console {
		fmt.Fprintf(w, "Console: %s%s (sign in with access keys)\n", url, console.Prefix)
	}
}
