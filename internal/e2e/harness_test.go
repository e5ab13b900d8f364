package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/podid/podid/internal/proctest"
	podidsts "github.com/podid/podid/internal/sts"
)

// region is the region every server, agent and client here acts in.
const region = proctest.Region

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
	built, remove, err := proctest.Build(proctest.PodidPackage, "github.com/podid/podid/internal/e2e/testdata/child")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer remove()
	bins.podid, bins.child = built[0], built[1]
	return m.Run()
}

// server is a running podid serve.
type server struct{ *proctest.Server }

// startServer starts podid serve for account with --auth sigv4 (extra
// flags may override it: the last --auth wins), SQLite and the admin keys
// in a temporary directory, on a free loopback port, with env (nil: a
// clean one); it returns once /healthz answers.
func startServer(t *testing.T, env []string, extra ...string) *server {
	t.Helper()
	return startServerWith(t, proctest.Env(env), proctest.Args(extra...))
}

// startServerWith is startServer with proctest's options.
func startServerWith(t *testing.T, opts ...proctest.ServerOption) *server {
	t.Helper()
	opts = append([]proctest.ServerOption{proctest.Account(account), proctest.StartTimeout(20 * time.Second)}, opts...)
	return &server{proctest.StartServer(t, bins.podid, opts...)}
}

// mustCLI is CLI that fails the test on error.
func (s *server) mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.CLI(t, nil, args...)
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
	out, err := s.CLI(t, []string{"AWS_SESSION_TOKEN=" + sessionToken}, "session", "inspect", "--from-env")
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/clusters/"+cluster+"/assume-role-for-pod-identity", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return do(t, req, body, service, creds)
}

// agent is a running podid agent.
type agent struct{ *proctest.Agent }

// startAgent starts podid agent for cluster against srv (see
// proctest.StartAgent) with extra flags.
func startAgent(t *testing.T, srv *server, cluster string, extra ...string) *agent {
	t.Helper()
	return &agent{proctest.StartAgent(t, bins.podid, srv.Server, cluster, extra...)}
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/v1/credentials", nil)
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
	cmd.Env = proctest.CleanEnv(dir,
		"AWS_CONTAINER_CREDENTIALS_FULL_URI="+a.URL+"/v1/credentials",
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
