package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	podidsts "github.com/podid/podid/internal/sts"
)

// region is the region every server, agent and client here acts in.
const region = "us-east-1"

// bins are the binaries TestMain builds once.
var bins struct {
	podid, child string
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode (builds and starts podid)")
		return 0
	}
	dir, err := os.MkdirTemp("", "podid-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator),
		"github.com/podid/podid/cmd/podid", "github.com/podid/podid/internal/e2e/testdata/child")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building podid and the child: %v\n%s", err, out)
		return 1
	}
	bins.podid = filepath.Join(dir, "podid")
	bins.child = filepath.Join(dir, "child")
	return m.Run()
}

// cleanEnv is this process's environment without AWS or podid settings,
// with HOME (and so ~/.aws) in dir and the instance metadata service off:
// nothing but what a test sets reaches a child's credential chain.
func cleanEnv(dir string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "PODID_") || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+dir,
		"AWS_CONFIG_FILE="+filepath.Join(dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true")
	return append(env, extra...)
}

// lineLog collects a process's output lines and lets a test wait for one.
type lineLog struct {
	mu      sync.Mutex
	lines   []string
	partial []byte
	changed chan struct{} // closed and replaced on each new line
}

func newLineLog() *lineLog { return &lineLog{changed: make(chan struct{})} }

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

// find returns the submatches of the first line matching re.
func (l *lineLog) find(re *regexp.Regexp) ([]string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if m := re.FindStringSubmatch(line); m != nil {
			return m, nil
		}
	}
	return nil, l.changed
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n") + string(l.partial)
}

// proc is a started podid (or moto) process, stopped at the test's end.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *lineLog
	done chan struct{} // closed when the process has exited
}

// startProc starts bin with args and env, its stdout and stderr in one
// log; at the test's end it is sent SIGTERM (SIGKILL if it lingers) and,
// if the test failed, its log is shown.
func startProc(t *testing.T, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: newLineLog(), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	// Its own process group (stop ends its workers too); killed if the
	// test binary dies before its cleanup runs.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.log)
		}
	})
	return p
}

// stop ends the process (and its process group: moto_server's workers).
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// waitLine waits for an output line matching re and returns its
// submatches.
func (p *proc) waitLine(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		m, changed := p.log.find(re)
		if m != nil {
			return m
		}
		select {
		case <-changed:
		case <-p.done:
			if m, _ := p.log.find(re); m != nil {
				return m
			}
			t.Fatalf("%s exited (%v) before printing a line matching %q:\n%s", p.name, p.cmd.ProcessState, re, p.log)
		case <-deadline:
			t.Fatalf("%s printed no line matching %q within %s:\n%s", p.name, re, timeout, p.log)
		}
	}
}

// waitHTTP polls url until it answers 200, failing the test if the
// process exits or timeout passes first.
func (p *proc) waitHTTP(t *testing.T, url string, timeout time.Duration) {
	t.Helper()
	if err := p.pollHTTP(url, timeout); err != nil {
		t.Fatalf("%s: %v:\n%s", p.name, err, p.log)
	}
}

// pollHTTP polls url until it answers 200; it fails if the process exits
// or timeout passes first.
func (p *proc) pollHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				cancel()
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		cancel()
		last = err
		select {
		case <-p.done:
			return fmt.Errorf("exited (%v) before %s answered", p.cmd.ProcessState, url)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer 200 within %s (last: %v)", url, timeout, last)
}

// server is a running podid serve.
type server struct {
	url     string
	dataDir string
	admin   aws.Credentials // zero with --auth none
	proc    *proc
}

var bannerRE = regexp.MustCompile(`EKS API at (http://\S+) `)

// startServer starts podid serve with --auth sigv4 (extra flags may
// override it: the last --auth wins), SQLite and the admin keys in a
// temporary directory, on a free loopback port; it returns once /healthz
// answers.
func startServer(t *testing.T, env []string, extra ...string) *server {
	t.Helper()
	return startServerIn(t, t.TempDir(), "127.0.0.1:0", env, extra...)
}

// startServerIn is startServer with the data directory (and SQLite
// store) in dir, listening on listen.
func startServerIn(t *testing.T, dir, listen string, env []string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--listen", listen, "--auth", "sigv4",
		"--data-dir", dir, "--store", "sqlite:" + filepath.Join(dir, "podid.db"),
		"--account-id", account, "--region", region, "--log-level", "warn"}, extra...)
	if env == nil {
		env = cleanEnv(dir)
	}
	p := startProc(t, "podid serve", env, bins.podid, args...)
	s := &server{url: p.waitLine(t, bannerRE, 20*time.Second)[1], dataDir: dir, proc: p}
	p.waitHTTP(t, s.url+"/healthz", 20*time.Second)
	b, err := os.ReadFile(filepath.Join(dir, "admin-credentials.json"))
	switch {
	case errors.Is(err, os.ErrNotExist):
		// --auth none: no admin keys.
	case err != nil:
		t.Fatal(err)
	default:
		var keys struct{ AccessKeyID, SecretAccessKey string }
		if err := json.Unmarshal(b, &keys); err != nil || keys.AccessKeyID == "" || keys.SecretAccessKey == "" {
			t.Fatalf("admin-credentials.json: %v: %s", err, b)
		}
		s.admin = aws.Credentials{AccessKeyID: keys.AccessKeyID, SecretAccessKey: keys.SecretAccessKey, Source: "e2e"}
	}
	return s
}

// eks is an SDK eks client for the server, signing with creds (admin's by
// default; aws.AnonymousCredentials sends unsigned requests).
func (s *server) eks(creds aws.CredentialsProvider) *eks.Client {
	if creds == nil {
		creds = staticCreds(s.admin)
	}
	return eks.New(eks.Options{Region: region, BaseEndpoint: aws.String(s.url), Credentials: creds, RetryMaxAttempts: 1})
}

// sts is an SDK sts client for the server.
func (s *server) sts(creds aws.CredentialsProvider) *sts.Client {
	if creds == nil {
		creds = staticCreds(s.admin)
	}
	return sts.New(sts.Options{Region: region, BaseEndpoint: aws.String(s.url), Credentials: creds, RetryMaxAttempts: 1})
}

func staticCreds(c aws.Credentials) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return c, nil })
}

// cli runs a podid command against the server, as a user would (the admin
// keys from --data-dir), and returns its stdout.
func (s *server) cli(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	args = append(args, "--endpoint", s.url, "--data-dir", s.dataDir)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.podid, args...)
	cmd.Env = cleanEnv(t.TempDir(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("podid %s: %w: %s", strings.Join(args[:2], " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// mustCLI is cli that fails the test on error.
func (s *server) mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.cli(t, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pod is a pod's identity in a token.
type pod struct {
	namespace, serviceAccount, name, uid string
}

// token mints the pod's token with podid token.
func (s *server) token(t *testing.T, cluster string, p pod, extra ...string) string {
	t.Helper()
	out := s.mustCLI(t, append([]string{"token", "--cluster", cluster, "--namespace", p.namespace,
		"--service-account", p.serviceAccount, "--pod-name", p.name, "--pod-uid", p.uid}, extra...)...)
	tok := strings.TrimSpace(out)
	if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
		t.Fatalf("podid token printed %q, not a JWT", out)
	}
	return tok
}

// wait runs podid wait with args (none: every write so far is in effect).
func (s *server) wait(t *testing.T, args ...string) {
	t.Helper()
	out := s.mustCLI(t, append([]string{"wait", "--timeout", "20s"}, args...)...)
	if !strings.HasPrefix(out, "in effect: revision ") {
		t.Fatalf("podid wait printed %q", out)
	}
}

// inspect shows a vended session through podid session inspect.
func (s *server) inspect(t *testing.T, sessionToken string) podidsts.SessionView {
	t.Helper()
	out, err := s.cli(t, []string{"AWS_SESSION_TOKEN=" + sessionToken}, "session", "inspect", "--from-env")
	if err != nil {
		t.Fatal(err)
	}
	var v podidsts.SessionView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("podid session inspect printed %q: %v", out, err)
	}
	return v
}

// response is a raw HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// awsError reads a restJson1 error as the SDK does: the code from
// X-Amzn-ErrorType, else the body's __type or code, without a namespace.
func (r response) awsError() (code, message string) {
	var b struct {
		Type    string `json:"__type"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Upper   string `json:"Message"`
	}
	json.Unmarshal(r.body, &b)
	code = r.header.Get("X-Amzn-ErrorType")
	for _, c := range []string{b.Type, b.Code} {
		if code == "" {
			code = c
		}
	}
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	message = b.Message
	if message == "" {
		message = b.Upper
	}
	return code, message
}

// do sends req (signed for service with creds unless creds is nil) and
// reads the response.
func do(t *testing.T, req *http.Request, body []byte, service string, creds *aws.Credentials) response {
	t.Helper()
	r, err := send(req, body, service, creds)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// send is do for any goroutine: it returns its error.
func send(req *http.Request, body []byte, service string, creds *aws.Credentials) (response, error) {
	if creds != nil {
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])
		req.Header.Set("X-Amz-Content-Sha256", hash)
		if err := v4.NewSigner().SignHTTP(req.Context(), *creds, req, hash, service, region, time.Now()); err != nil {
			return response{}, err
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// assumeRoleForPodIdentity calls EKS Auth directly, signed with creds
// (nil: unsigned) for the signing name service.
func (s *server) assumeRoleForPodIdentity(t *testing.T, cluster, token string, creds *aws.Credentials, service string) response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"token": token})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/clusters/"+cluster+"/assume-role-for-pod-identity", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return do(t, req, body, service, creds)
}

// agent is a running podid agent.
type agent struct {
	url  string // http://127.0.0.1:PORT
	proc *proc
}

var agentListenRE = regexp.MustCompile(`msg="agent listening".* addr=(\S+)`)

// startAgent starts podid agent for cluster against srv on a free loopback
// port (probes on the same port), with extra flags, signing EKS Auth calls
// with srv's admin keys from its environment (as the AWS agent signs with
// the node role's).
func startAgent(t *testing.T, srv *server, cluster string, extra ...string) *agent {
	t.Helper()
	env := cleanEnv(t.TempDir(), "AWS_REGION="+region)
	if srv.admin.AccessKeyID != "" {
		env = append(env, "AWS_ACCESS_KEY_ID="+srv.admin.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+srv.admin.SecretAccessKey)
	} else {
		env = append(env, "AWS_ACCESS_KEY_ID=podid", "AWS_SECRET_ACCESS_KEY=podid")
	}
	args := append([]string{"agent", "--server", srv.url, "--cluster", cluster, "--listen", "127.0.0.1:0", "--probe-listen", ""}, extra...)
	p := startProc(t, "podid agent ("+cluster+")", env, bins.podid, args...)
	a := &agent{url: "http://" + p.waitLine(t, agentListenRE, 20*time.Second)[1], proc: p}
	p.waitHTTP(t, a.url+"/healthz", 20*time.Second)
	return a
}

// credentials calls the agent's /v1/credentials with token, as the SDK's
// container provider does.
func (a *agent) credentials(t *testing.T, token string) response {
	t.Helper()
	r, err := a.get(token)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// get is credentials for any goroutine: it returns its error.
func (a *agent) get(token string) (response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url+"/v1/credentials", nil)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Authorization", token)
	req.Header.Set("Accept", "application/json")
	return send(req, nil, "", nil)
}

// identity is what the child program prints.
type identity struct {
	ARN          string    `json:"arn"`
	Account      string    `json:"account"`
	UserID       string    `json:"userId"`
	AccessKeyID  string    `json:"accessKeyId"`
	SessionToken string    `json:"sessionToken"`
	Source       string    `json:"source"`
	Expires      time.Time `json:"expires"`
}

// runChild runs the child program as a pod: its token in a file (no
// trailing newline), the agent as its credentials endpoint and stsURL as
// its STS endpoint, no static keys. A failure's error holds its stderr.
func runChild(t *testing.T, a *agent, token, stsURL string) (identity, error) {
	t.Helper()
	return runWorkload(t, a, token, stsURL, bins.child)
}

// boto3 is the Python interpreter that has boto3, found once.
var boto3 = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("python3", "-c", "import boto3, sys; print(sys.executable)").Output()
	return strings.TrimSpace(string(out)), err
})

// runBoto3 is runChild with testdata/boto3_child.py, the same workload
// written with boto3 (botocore's container provider); it skips the test
// without python3 and boto3.
func runBoto3(t *testing.T, a *agent, token, stsURL string) (identity, error) {
	t.Helper()
	python, err := boto3()
	if err != nil {
		t.Skipf("python3 with boto3 not available: %v", err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "boto3_child.py"))
	if err != nil {
		t.Fatal(err)
	}
	return runWorkload(t, a, token, stsURL, python, script)
}

// runWorkload runs argv as a pod (see runChild).
func runWorkload(t *testing.T, a *agent, token, stsURL string, argv ...string) (identity, error) {
	t.Helper()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "eks-pod-identity-token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = cleanEnv(dir,
		"AWS_CONTAINER_CREDENTIALS_FULL_URI="+a.url+"/v1/credentials",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="+tokenFile,
		"AWS_ENDPOINT_URL_STS="+stsURL,
		"AWS_REGION="+region, "AWS_DEFAULT_REGION="+region)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return identity{}, fmt.Errorf("%s: %v: %s", filepath.Base(argv[len(argv)-1]), err, strings.TrimSpace(stderr.String()))
	}
	var id identity
	if err := json.Unmarshal(stdout.Bytes(), &id); err != nil {
		t.Fatalf("%s printed %q: %v", filepath.Base(argv[len(argv)-1]), stdout.String(), err)
	}
	return id, nil
}

// mustRunChild is runChild that fails the test on error.
func mustRunChild(t *testing.T, a *agent, token, stsURL string) identity {
	t.Helper()
	id, err := runChild(t, a, token, stsURL)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// freePort returns a loopback port free a moment ago (for moto_server,
// which cannot report the port it bound).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
