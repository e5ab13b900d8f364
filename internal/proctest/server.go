package proctest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Region is the region servers and agents act in, and clients sign for.
const Region = "us-east-1"

// serverConfig is what StartServer's options set.
type serverConfig struct {
	name, dataDir, listen, auth, store, account, iam string
	env                                              []string
	args                                             []string
	timeout                                          time.Duration
}

// ServerOption sets up a server StartServer starts.
type ServerOption func(*serverConfig)

// Name names the server in failures and its shown output (default "podid
// serve").
func Name(name string) ServerOption { return func(c *serverConfig) { c.name = name } }

// DataDir is the server's --data-dir (default a t.TempDir()).
func DataDir(dir string) ServerOption { return func(c *serverConfig) { c.dataDir = dir } }

// Listen is the server's --listen address (default 127.0.0.1:0, a free
// port).
func Listen(addr string) ServerOption { return func(c *serverConfig) { c.listen = addr } }

// Auth is the server's --auth (default sigv4).
func Auth(auth string) ServerOption { return func(c *serverConfig) { c.auth = auth } }

// IAM is the server's --iam (default off: tests about something else than
// IAM need no roles; IAM's own tests pass IAM("enforce")).
func IAM(mode string) ServerOption { return func(c *serverConfig) { c.iam = mode } }

// Store is the server's --store DSN (default SQLite in the data
// directory, podid.db).
func Store(dsn string) ServerOption { return func(c *serverConfig) { c.store = dsn } }

// Account is the server's --account-id (default 000000000000).
func Account(id string) ServerOption { return func(c *serverConfig) { c.account = id } }

// Env is the server's environment (default CleanEnv of the data
// directory).
func Env(env []string) ServerOption { return func(c *serverConfig) { c.env = env } }

// Args are flags added after the others (the last of a repeated flag
// wins).
func Args(args ...string) ServerOption {
	return func(c *serverConfig) { c.args = append(c.args, args...) }
}

// StartTimeout bounds the wait for the server's banner, and then for its
// /healthz (default 30s each).
func StartTimeout(d time.Duration) ServerOption { return func(c *serverConfig) { c.timeout = d } }

// Server is a podid serve process.
type Server struct {
	URL     string          // http://127.0.0.1:PORT, once ready
	DataDir string          // its --data-dir
	Admin   aws.Credentials // the admin keys from admin-credentials.json; zero without them (--auth none)
	Proc    *Proc

	bin string
	cfg serverConfig
}

var bannerRE = regexp.MustCompile(`EKS API at (http://\S+) `)

// StartServer starts podid serve (bin) with the options and returns once
// it is ready (see Ready). When the test ends the server is stopped with
// SIGTERM and must exit successfully within StopGrace (else the test
// fails), and its output is shown if the test failed.
func StartServer(tb testing.TB, bin string, opts ...ServerOption) *Server {
	tb.Helper()
	s := LaunchServer(tb, bin, opts...)
	s.Ready(tb)
	return s
}

// LaunchServer is StartServer without waiting for the server to be ready:
// call Ready before using it.
func LaunchServer(tb testing.TB, bin string, opts ...ServerOption) *Server {
	tb.Helper()
	cfg := serverConfig{name: "podid serve", listen: "127.0.0.1:0", auth: "sigv4", iam: "off", account: "000000000000", timeout: 30 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.dataDir == "" {
		cfg.dataDir = filepath.Join(tb.TempDir(), "data") // podid makes it 0700
	}
	if cfg.store == "" {
		cfg.store = "sqlite:" + filepath.Join(cfg.dataDir, "podid.db")
	}
	env := cfg.env
	if env == nil {
		env = CleanEnv(cfg.dataDir)
	}
	args := append([]string{"serve", "--listen", cfg.listen, "--auth", cfg.auth, "--data-dir", cfg.dataDir,
		"--store", cfg.store, "--iam", cfg.iam, "--account-id", cfg.account, "--region", Region, "--log-level", "warn"}, cfg.args...)
	s := &Server{DataDir: cfg.dataDir, bin: bin, cfg: cfg}
	s.Proc = Start(tb, cfg.name, env, bin, args...)
	tb.Cleanup(func() { s.Stop(tb) }) // before Start's cleanup: its output shows this failure
	return s
}

// Ready waits for the server's banner (its URL) and for /healthz to
// answer 200, then reads the admin keys from its data directory.
func (s *Server) Ready(tb testing.TB) {
	tb.Helper()
	s.URL = s.Proc.WaitLine(tb, bannerRE, s.cfg.timeout)[1]
	s.Proc.WaitHTTP(tb, s.URL+"/healthz", s.cfg.timeout)
	b, err := os.ReadFile(filepath.Join(s.DataDir, "admin-credentials.json"))
	switch {
	case errors.Is(err, os.ErrNotExist):
		// --auth none: no admin keys.
	case err != nil:
		tb.Fatal(err)
	default:
		var keys struct{ AccessKeyID, SecretAccessKey string }
		if err := json.Unmarshal(b, &keys); err != nil || keys.AccessKeyID == "" || keys.SecretAccessKey == "" {
			tb.Fatalf("admin-credentials.json: %v: %s", err, b)
		}
		s.Admin = aws.Credentials{AccessKeyID: keys.AccessKeyID, SecretAccessKey: keys.SecretAccessKey, Source: "proctest"}
	}
}

// Restart starts the server again as it was started (same data directory,
// store and flags) on the address it listened on (the port it was given
// for a listen port 0), and returns once the new process is ready. Stop or
// Kill the old one first.
func (s *Server) Restart(tb testing.TB) *Server {
	tb.Helper()
	cfg := s.cfg
	if _, port, err := net.SplitHostPort(cfg.listen); err == nil && port == "0" {
		u, err := url.Parse(s.URL)
		if err != nil || u.Host == "" {
			tb.Fatalf("restarting %s: its URL %q has no address", s.Name(), s.URL)
		}
		cfg.listen = u.Host
	}
	return StartServer(tb, s.bin, func(c *serverConfig) { *c = cfg })
}

// Name is the server's name.
func (s *Server) Name() string { return s.Proc.Name() }

// Kill sends the server SIGKILL and waits for it to be gone.
func (s *Server) Kill(tb testing.TB) {
	tb.Helper()
	s.Proc.Kill(tb)
}

// Stop shuts the server down with SIGTERM and fails the test (Errorf) if
// it does not exit successfully within StopGrace. A server that is gone
// already is left as it is.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	if err := s.Proc.Stop(StopGrace); err != nil {
		tb.Error(err)
	}
}

// CLI runs a podid command (the server's binary) against the server as a
// user would: args with --endpoint and --data-dir (and so its admin keys)
// added, in CleanEnv of a new directory plus env, for at most 40 seconds.
// It returns the command's stdout, and an error holding its stderr if it
// fails.
func (s *Server) CLI(tb testing.TB, env []string, args ...string) (string, error) {
	tb.Helper()
	args = slices.Concat(args, []string{"--endpoint", s.URL, "--data-dir", s.DataDir})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = CleanEnv(tb.TempDir(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("podid %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// StaticCredentials provides c.
func StaticCredentials(c aws.Credentials) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return c, nil })
}

// EKS is an SDK eks client for the server that does not retry, signing
// with creds (nil: the admin keys; aws.AnonymousCredentials sends unsigned
// requests), with optFns applied.
func (s *Server) EKS(creds aws.CredentialsProvider, optFns ...func(*eks.Options)) *eks.Client {
	if creds == nil {
		creds = StaticCredentials(s.Admin)
	}
	return eks.New(eks.Options{Region: Region, BaseEndpoint: aws.String(s.URL), Credentials: creds, RetryMaxAttempts: 1}, optFns...)
}

// STS is an SDK sts client for the server, as EKS is.
func (s *Server) STS(creds aws.CredentialsProvider, optFns ...func(*sts.Options)) *sts.Client {
	if creds == nil {
		creds = StaticCredentials(s.Admin)
	}
	return sts.New(sts.Options{Region: Region, BaseEndpoint: aws.String(s.URL), Credentials: creds, RetryMaxAttempts: 1}, optFns...)
}

// Agent is a podid agent process.
type Agent struct {
	URL  string // http://127.0.0.1:PORT
	Proc *Proc
}

var agentListenRE = regexp.MustCompile(`msg="agent listening".* addr=(\S+)`)

// StartAgent starts podid agent (bin) for cluster against srv on a free
// loopback port (probes on the same port), with extra flags, signing its
// EKS Auth calls with srv's admin keys from its environment (as the AWS
// agent signs with the node role's; made-up keys without them), and
// returns once its /healthz answers. It is stopped when the test ends.
func StartAgent(tb testing.TB, bin string, srv *Server, cluster string, extra ...string) *Agent {
	tb.Helper()
	keys := srv.Admin
	if keys.AccessKeyID == "" {
		keys = aws.Credentials{AccessKeyID: "podid", SecretAccessKey: "podid"}
	}
	return StartAgentAs(tb, bin, srv, cluster, keys, extra...)
}

// StartAgentAs is StartAgent signing with keys (a node's IAM user's).
func StartAgentAs(tb testing.TB, bin string, srv *Server, cluster string, keys aws.Credentials, extra ...string) *Agent {
	tb.Helper()
	env := CleanEnv(tb.TempDir(), "AWS_REGION="+Region,
		"AWS_ACCESS_KEY_ID="+keys.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+keys.SecretAccessKey)
	args := append([]string{"agent", "--server", srv.URL, "--cluster", cluster, "--listen", "127.0.0.1:0", "--probe-listen", ""}, extra...)
	p := Start(tb, "podid agent ("+cluster+")", env, bin, args...)
	a := &Agent{URL: "http://" + p.WaitLine(tb, agentListenRE, 20*time.Second)[1], Proc: p}
	p.WaitHTTP(tb, a.URL+"/healthz", 20*time.Second)
	return a
}
