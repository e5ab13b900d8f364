package durability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/proctest"
)

const (
	region  = proctest.Region
	account = "000000000000"
)

// podidBin is the binary TestMain builds once.
var podidBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	bins, remove, err := proctest.Build(proctest.PodidPackage)
	if err != nil {
		fmt.Fprintln(os.Stderr, "durability:", err)
		return 1
	}
	defer remove()
	podidBin = bins[0]
	code := m.Run()
	if err := reportFaults(); err != nil {
		fmt.Fprintln(os.Stderr, "durability: writing the fault table:", err)
		return 1
	}
	return code
}

// server is a running podid serve process.
type server struct{ *proctest.Server }

// startServer starts podid serve with --auth none on a free loopback port
// and the store storeDSN, and returns once /healthz answers. At the test's
// end it is stopped (SIGTERM; the test fails unless it exits cleanly) and,
// if the test failed, its output shown.
func startServer(t testing.TB, name, storeDSN string, extra ...string) *server {
	t.Helper()
	s := launchServer(t, name, storeDSN, extra...)
	s.Ready(t)
	return s
}

// launchServer starts podid serve as startServer does, without waiting
// for it to be ready.
func launchServer(t testing.TB, name, storeDSN string, extra ...string) *server {
	t.Helper()
	return &server{proctest.LaunchServer(t, podidBin, proctest.Name(name), proctest.Auth("none"),
		proctest.Store(storeDSN), proctest.Account(account), proctest.Args(extra...))}
}

// httpClient is shared by every client here: bounded, with enough idle
// connections for the concurrent writers.
var httpClient = &http.Client{
	Timeout:   20 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
}

// eks is an SDK eks client for the server (unsigned: --auth none), which
// does not retry: the tests decide what a retry is.
func (s *server) eks() *eks.Client {
	return s.EKS(aws.AnonymousCredentials{}, func(o *eks.Options) { o.HTTPClient = httpClient })
}

// writeRevision returns X-Podid-Revision of the response behind an SDK
// call's result metadata: the store revision that covers the write.
func writeRevision(md middleware.Metadata) (int64, error) {
	resp, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response)
	if !ok {
		return 0, errors.New("no raw HTTP response in the result metadata")
	}
	v := resp.Header.Get("X-Podid-Revision")
	rev, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("X-Podid-Revision %q on a write's response: %w", v, err)
	}
	return rev, nil
}

// apiError returns the AWS error code of err, or "" when err is not an
// answer from the server (a transport failure: the outcome is unknown).
func apiError(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// createCluster creates a cluster and fails the test if it cannot.
func createCluster(t testing.TB, c *eks.Client, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := c.CreateCluster(ctx, &eks.CreateClusterInput{Name: aws.String(name),
		RoleArn:            aws.String(roleARN("cluster-role")),
		ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-1", "subnet-2"}}})
	if err != nil {
		t.Fatalf("CreateCluster %s: %v", name, err)
	}
}

func roleARN(name string) string { return "arn:aws:iam::" + account + ":role/" + name }

// adminCall sends an unsigned request to the server's podid API and
// decodes a 200's JSON body into out; another status is an error holding
// the AWS error code.
func (s *server) adminCall(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &httpError{status: resp.StatusCode, code: errorCode(resp.Header, b), body: string(b)}
	}
	return json.Unmarshal(b, out)
}

// httpError is a non-200 answer.
type httpError struct {
	status int
	code   string
	body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d %s: %s", e.status, e.code, e.body) }

// errorCode reads a restJson1 error's code as the SDK does.
func errorCode(h http.Header, body []byte) string {
	code := h.Get("X-Amzn-ErrorType")
	if code == "" {
		var b struct {
			Type string `json:"__type"`
			Code string `json:"code"`
		}
		json.Unmarshal(body, &b)
		code = b.Type
		if code == "" {
			code = b.Code
		}
	}
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	return code
}

// token mints a pod's service-account token with the admin token API.
func (s *server) token(t testing.TB, cluster, namespace, serviceAccount string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in := map[string]string{"namespace": namespace, "serviceAccount": serviceAccount,
		"podName": serviceAccount + "-pod", "podUid": "0b5c4c2e-7d6a-4f0e-9a53-" + fmt.Sprintf("%012x", len(serviceAccount))}
	var out struct{ Token string }
	if err := s.adminCall(ctx, http.MethodPost, "/podid/v1/clusters/"+url.PathEscape(cluster)+"/tokens", in, &out); err != nil {
		t.Fatalf("minting a token on %s: %v", s.Name(), err)
	}
	return out.Token
}

// assume calls EKS Auth's AssumeRoleForPodIdentity (unsigned: --auth none).
func (s *server) assume(ctx context.Context, cluster, token string) (eksapi.AssumeRoleForPodIdentityOutput, error) {
	var out eksapi.AssumeRoleForPodIdentityOutput
	err := s.adminCall(ctx, http.MethodPost, "/clusters/"+url.PathEscape(cluster)+"/assume-role-for-pod-identity",
		map[string]string{"token": token}, &out)
	return out, err
}

// assumedRole returns the role name of EKS Auth's answer for token
// ("role" of arn:aws:sts::ACCOUNT:assumed-role/role/session), or the AWS
// error code prefixed with "error:".
func (s *server) assumedRole(ctx context.Context, cluster, token string) (string, error) {
	out, err := s.assume(ctx, cluster, token)
	var he *httpError
	if errors.As(err, &he) {
		return "error:" + he.code, nil
	}
	if err != nil {
		return "", err
	}
	if out.AssumedRoleUser == nil {
		return "", fmt.Errorf("AssumeRoleForPodIdentity answered without assumedRoleUser")
	}
	_, rest, ok := strings.Cut(out.AssumedRoleUser.Arn, ":assumed-role/")
	role, _, _ := strings.Cut(rest, "/")
	if !ok || role == "" {
		return "", fmt.Errorf("assumed role ARN %q", out.AssumedRoleUser.Arn)
	}
	return role, nil
}

// waitRevision calls GET /podid/v1/wait?revision=rev on the server and
// returns the revision it reports in effect.
func (s *server) waitRevision(ctx context.Context, rev int64, timeout time.Duration) (int64, error) {
	var out struct{ Revision int64 }
	q := url.Values{"revision": {strconv.FormatInt(rev, 10)}, "timeout": {timeout.String()}}
	if err := s.adminCall(ctx, http.MethodGet, "/podid/v1/wait?"+q.Encode(), nil, &out); err != nil {
		return 0, err
	}
	return out.Revision, nil
}
