package sigv4_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/internal/admin"
	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/sts"
	"github.com/podid/podid/internal/sts/stshttp"
)

const account = "111122223333"

var quiet = slog.New(slog.DiscardHandler)

type env struct {
	srv   *httptest.Server
	svc   *sts.Service
	admin sts.Credentials
	seen  chan seen // what the JSON handler saw
}

type seen struct {
	id     *authz.Identity
	path   string
	body   string
	region string // the request's region in its context ("" for none)
}

// answerCase is a request and the status and body text its answer must have.
type answerCase struct {
	name   string
	req    func() *http.Request
	status int
	want   string // substring of the body
}

// expectAnswers sends each case's request to e's server and checks its
// answer; what the handler saw is drained after each.
func (e *env) expectAnswers(t *testing.T, tests []answerCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := e.srv.Client().Do(tt.req())
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.want) {
				t.Errorf("got %d %s, want %d containing %s", resp.StatusCode, b, tt.status, tt.want)
			}
		})
		for len(e.seen) > 0 {
			<-e.seen
		}
	}
}

func newEnv(t *testing.T, stsNow func() time.Time) *env {
	t.Helper()
	return newEnvAt(t, stsNow, nil)
}

// newEnvAt is newEnv with the authenticator's clock (nil: time.Now).
func newEnvAt(t *testing.T, stsNow, authNow func() time.Time) *env {
	t.Helper()
	key := make([]byte, sts.KeySize)
	svc, err := sts.New(sts.Config{AccountID: account, Keys: [][]byte{key}, Now: stsNow, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	adminCreds, err := sigv4.NewAdminCredentials()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{svc: svc, admin: adminCreds, seen: make(chan seen, 10)}
	auth := sigv4.New(sigv4.Config{Admin: adminCreds, AccountID: account, Sessions: svc, Logger: quiet, Now: authNow})
	record := func(w http.ResponseWriter, r *http.Request) {
		id, _ := authz.FromContext(r.Context())
		b, _ := io.ReadAll(r.Body)
		e.seen <- seen{id: id, path: r.URL.Path, body: string(b), region: authz.Region(r.Context(), "")}
	}
	host := httpx.New(httpx.Config{Logger: quiet, Authenticate: auth.Authenticate})
	mount := func(pattern string, fam *httpx.Family, h http.HandlerFunc) {
		if err := host.HandleHTTP(pattern, fam, h); err != nil {
			t.Fatal(err)
		}
	}
	mount("GET /clusters/{name}", httpx.EKS, func(w http.ResponseWriter, r *http.Request) {
		record(w, r)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"cluster":{"name":"`+r.PathValue("name")+`"}}`)
	})
	mount("POST /tags/{arn}", httpx.EKS, func(w http.ResponseWriter, r *http.Request) {
		record(w, r)
		io.WriteString(w, `{}`)
	})
	if err := stshttp.Mount(host, svc, nil); err != nil {
		t.Fatal(err)
	}
	// The session inspection API, which only the admin identity may call.
	if err := admin.New(admin.Config{Sessions: svc, Authorizer: authz.Rules{}, Logger: quiet}).Mount(host); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(host)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) eks(p aws.CredentialsProvider) *eks.Client {
	return eks.New(eks.Options{Region: "us-west-2", Credentials: p, BaseEndpoint: aws.String(e.srv.URL),
		HTTPClient: e.srv.Client(), RetryMaxAttempts: 1})
}

func static(c sts.Credentials) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
}

func TestJSONAPIs(t *testing.T) {
	var stsOffset atomic.Int64 // the STS clock's offset from the real time
	e := newEnv(t, func() time.Time { return time.Now().Add(time.Duration(stsOffset.Load())) })
	ctx := context.Background()

	// Admin: the request reaches the handler with the admin identity.
	out, err := e.eks(static(e.admin)).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("c1")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Cluster.Name) != "c1" {
		t.Errorf("cluster name %q", aws.ToString(out.Cluster.Name))
	}
	got := <-e.seen
	if got.id == nil || !got.id.IsAdmin() || got.id.ARN != "arn:aws:iam::"+account+":root" {
		t.Errorf("identity = %+v, want the admin", got.id)
	}

	// A session, an escaped ARN path and a body: verified, body intact.
	vended, err := e.svc.AssumeRole(ctx, sts.AssumeRoleInput{RoleARN: "arn:aws:iam::111122223333:role/r1", RoleSessionName: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:eks:us-west-2:111122223333:podidentityassociation/c1/a-abcdefghijklmnopq"
	_, err = e.eks(static(vended.Credentials)).TagResource(ctx, &eks.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"a b": "c/d"}})
	if err != nil {
		t.Fatal(err)
	}
	got = <-e.seen
	if got.id == nil || got.id.ARN != vended.AssumedRoleARN || got.path != "/tags/"+arn || got.body != `{"tags":{"a b":"c/d"}}` {
		t.Errorf("handler saw %+v", got)
	}

	stsOffset.Store(int64(-2 * time.Hour))
	expired, err := e.svc.AssumeRole(ctx, sts.AssumeRoleInput{RoleARN: "arn:aws:iam::111122223333:role/r1", RoleSessionName: "s1", DurationSeconds: 900})
	stsOffset.Store(0)
	if err != nil {
		t.Fatal(err)
	}
	badSecret := e.admin
	badSecret.SecretAccessKey = strings.Repeat("A", 40)
	tests := []struct {
		name   string
		creds  aws.CredentialsProvider
		code   string
		status int
		msg    string
	}{
		{"bad secret", static(badSecret), "InvalidSignatureException", 403, sts.MsgSignatureMismatch},
		{"unknown key", static(sts.Credentials{AccessKeyID: "AKIAAAAAAAAAAAAAAAAA", SecretAccessKey: "x"}), "UnrecognizedClientException", 403, sts.MsgInvalidClientToken},
		{"expired session", static(expired.Credentials), "ExpiredTokenException", 400, sts.MsgExpiredToken},
		{"unsigned", aws.AnonymousCredentials{}, "MissingAuthenticationTokenException", 403, "Missing Authentication Token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.eks(tt.creds).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("c1")})
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tt.code || ae.ErrorMessage() != tt.msg {
				t.Fatalf("error = %v, want %s: %s", err, tt.code, tt.msg)
			}
			var re interface{ HTTPStatusCode() int }
			if !errors.As(err, &re) || re.HTTPStatusCode() != tt.status {
				t.Errorf("status = %v, want %d", err, tt.status)
			}
			select {
			case s := <-e.seen:
				t.Errorf("refused request reached the handler: %+v", s)
			default:
			}
		})
	}
}

// signed builds a request signed with the SDK's signer.
func signed(t *testing.T, c sts.Credentials, method, url, body, service string, at time.Time, hdr map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	sum := sha256hex(body)
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken},
		req, sum, service, "us-west-2", at)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestRawRequests(t *testing.T) {
	e := newEnv(t, nil)
	form := "Action=GetCallerIdentity&Version=2011-06-15"
	formHdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	tests := []answerCase{
		{"healthz is public", func() *http.Request { r, _ := http.NewRequest("GET", e.srv.URL+"/healthz", nil); return r }, 200, "ok"},
		{"STS signed for sts", func() *http.Request {
			return signed(t, e.admin, "POST", e.srv.URL+"/", form, "sts", time.Now(), formHdr)
		}, 200, "<Arn>arn:aws:iam::111122223333:root</Arn>"},
		{"STS signed for another service", func() *http.Request {
			return signed(t, e.admin, "POST", e.srv.URL+"/", form, "eks", time.Now(), formHdr)
		}, 403, "<Code>SignatureDoesNotMatch</Code><Message>Credential should be scoped to correct service: &#39;sts&#39;. </Message>"},
		{"body changed after signing", func() *http.Request {
			r := signed(t, e.admin, "POST", e.srv.URL+"/", form, "sts", time.Now(), formHdr)
			r.Body = io.NopCloser(strings.NewReader(form + "&X=1"))
			r.ContentLength += 4
			return r
		}, 403, "<Code>SignatureDoesNotMatch</Code>"},
		{"query changed after signing", func() *http.Request {
			r := signed(t, e.admin, "GET", e.srv.URL+"/clusters/c1?x=1", "", "eks", time.Now(), nil)
			r.URL.RawQuery = "x=2"
			return r
		}, 403, `"__type":"InvalidSignatureException"`},
		{"signed header changed", func() *http.Request {
			r := signed(t, e.admin, "GET", e.srv.URL+"/clusters/c1", "", "eks", time.Now(), map[string]string{"X-Custom": "a"})
			r.Header.Set("X-Custom", "b")
			return r
		}, 403, `"__type":"InvalidSignatureException"`},
		{"incomplete authorization", func() *http.Request {
			r, _ := http.NewRequest("GET", e.srv.URL+"/clusters/c1", nil)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAX/20240101/us-west-2/eks/aws4_request")
			r.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
			return r
		}, 400, `"__type":"IncompleteSignatureException"`},
		{"incomplete authorization on STS", func() *http.Request {
			r, _ := http.NewRequest("POST", e.srv.URL+"/", strings.NewReader(form))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Signature=abc")
			return r
		}, 400, "<Code>IncompleteSignature</Code>"},
		{"content hash header not the body's", func() *http.Request {
			return signed(t, e.admin, "POST", e.srv.URL+"/", form, "sts", time.Now(),
				map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"})
		}, 403, "<Message>The provided &#39;x-amz-content-sha256&#39; header does not match what was computed.</Message>"},
		{"content hash header matching", func() *http.Request {
			return signed(t, e.admin, "POST", e.srv.URL+"/", form, "sts", time.Now(),
				map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Amz-Content-Sha256": sha256hex(form)})
		}, 200, "<Arn>arn:aws:iam::111122223333:root</Arn>"},
		{"missing date", func() *http.Request {
			r := signed(t, e.admin, "GET", e.srv.URL+"/clusters/c1", "", "eks", time.Now(), nil)
			r.Header.Del("X-Amz-Date")
			r.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
			return r
		}, 400, `"message":"Authorization header requires existence of a 'X-Amz-Date' header (podid does not take a 'Date' header in its place).`},
		{"body too large", func() *http.Request {
			return signed(t, e.admin, "POST", e.srv.URL+"/tags/x", strings.Repeat("x", sigv4.DefaultMaxBody+1), "eks", time.Now(), nil)
		}, 413, `"__type":"RequestEntityTooLargeException"`},
	}
	e.expectAnswers(t, tests)
}

func TestInspectAPI(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	out, err := e.svc.AssumeRole(ctx, sts.AssumeRoleInput{
		RoleARN: "arn:aws:iam::111122223333:role/r1", RoleSessionName: "s1", ExternalID: "ext-1",
		Tags: []sts.Tag{{Key: "k", Value: "v"}}, TransitiveTagKeys: []string{"k"},
		SourceContext: map[string]string{"eksNodeName": "node-1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	inspect := func(c sts.Credentials, token string) (int, string) {
		body, _ := json.Marshal(admin.InspectRequest{SessionToken: token})
		resp, err := e.srv.Client().Do(signed(t, c, "POST", e.srv.URL+admin.InspectPath, string(body), "podid", time.Now(), map[string]string{"Content-Type": "application/json"}))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := inspect(e.admin, out.Credentials.SessionToken)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	if strings.Contains(body, out.Credentials.SecretAccessKey) {
		t.Error("inspection shows the secret")
	}
	var v sts.SessionView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	want := sts.SessionView{
		AccessKeyID: out.Credentials.AccessKeyID, AssumedRoleARN: out.AssumedRoleARN, AssumedRoleID: out.AssumedRoleID,
		RoleARN: "arn:aws:iam::111122223333:role/r1", RoleSessionName: "s1", Account: account,
		Tags: []sts.TagView{{Key: "k", Value: "v"}}, TransitiveTagKeys: []string{"k"}, ExternalID: "ext-1", Chain: []string{},
		SourcePrincipal: sts.EKSServicePrincipal, SourceContext: map[string]string{"eksNodeName": "node-1"},
		Issued: v.Issued, Expiration: out.Credentials.Expiration,
	}
	if diff := cmp.Diff(v, want); diff != "" {
		t.Errorf("view (-got +want):\n%s", diff)
	}
	if status, body := inspect(out.Credentials, out.Credentials.SessionToken); status != 403 || !strings.Contains(body, "AccessDeniedException") {
		t.Errorf("session caller: %d %s, want 403 AccessDeniedException", status, body)
	}
	if status, body := inspect(e.admin, "garbage"); status != 400 || !strings.Contains(body, "InvalidParameterException") {
		t.Errorf("garbage token: %d %s, want 400 InvalidParameterException", status, body)
	}
}

func TestLoadOrCreateAdmin(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c1, created, err := sigv4.LoadOrCreateAdmin(dir)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v", created, err)
	}
	if !strings.HasPrefix(c1.AccessKeyID, "AKIA") || len(c1.AccessKeyID) != 20 || len(c1.SecretAccessKey) != 40 {
		t.Errorf("credentials %q / %d-character secret", c1.AccessKeyID, len(c1.SecretAccessKey))
	}
	fi, err := os.Stat(filepath.Join(dir, sigv4.AdminFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	c2, created, err := sigv4.LoadOrCreateAdmin(dir)
	if err != nil || created || c2 != c1 {
		t.Errorf("second call: %+v created=%v err=%v, want the same keys", c2, created, err)
	}
}

// TestRefusalsLogged: the server says at info level why it refused a
// request, and logs no secret.
func TestRefusalsLogged(t *testing.T) {
	adminCreds, err := sigv4.NewAdminCredentials()
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	auth := sigv4.New(sigv4.Config{Admin: adminCreds, AccountID: account, Logger: logger})
	const url = "http://127.0.0.1/clusters/c1"
	wrong := adminCreds
	wrong.SecretAccessKey = "wrong-secret-not-to-be-logged"
	unknown := sts.Credentials{AccessKeyID: "AKIAUNKNOWNKEY000000", SecretAccessKey: "unknown-secret-not-to-be-logged"}
	tests := []struct {
		req  *http.Request
		want string
	}{
		{httptest.NewRequest("GET", url, nil), "missing signature"},
		{signed(t, unknown, "GET", url, "", "eks", time.Now(), nil), "unknown access key"},
		{signed(t, wrong, "GET", url, "", "eks", time.Now(), nil), "signature mismatch"},
		{signed(t, adminCreds, "GET", url, "", "eks", time.Now().Add(-10*time.Minute), nil), "clock skew"},
		{presigned(t, adminCreds, "GET", url, "", "eks", sha256hex(""), "60", time.Now().Add(-2*time.Minute), nil), "presigned URL expired"},
	}
	for _, tt := range tests {
		logs.Reset()
		if _, err := auth.Authenticate(tt.req); err == nil {
			t.Errorf("%s: accepted", tt.want)
		}
		if !strings.Contains(logs.String(), "level=INFO") || !strings.Contains(logs.String(), `reason="`+tt.want+`"`) {
			t.Errorf("log %q, want an info line with reason %q", logs.String(), tt.want)
		}
		for _, secret := range []string{adminCreds.SecretAccessKey, wrong.SecretAccessKey, unknown.SecretAccessKey} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("log %q holds a secret", logs.String())
			}
		}
	}
}

// A keys file other users may read, or one another user planted before the
// first start, is refused with the command that fixes it.
func TestLoadOrCreateAdminRefusesSharedFiles(t *testing.T) {
	planted := []byte(`{"accessKeyId":"AKIAPLANTEDPLANTED00","secretAccessKey":"planted"}`)
	t.Run("readable by others", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, sigv4.AdminFile)
		if err := os.WriteFile(path, planted, 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chmod(path, 0o644)
		_, _, err := sigv4.LoadOrCreateAdmin(dir)
		if err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("LoadOrCreateAdmin = %v, want a refusal saying chmod 600 %s", err, path)
		}
	})
	t.Run("directory open to others", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		os.Mkdir(dir, 0o700)
		os.Chmod(dir, 0o777)
		_, _, err := sigv4.LoadOrCreateAdmin(dir)
		if err == nil || !strings.Contains(err.Error(), "chmod 700 "+dir) {
			t.Errorf("LoadOrCreateAdmin = %v, want a refusal saying chmod 700 %s", err, dir)
		}
	})
	t.Run("owned by another user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to give a file to another user")
		}
		dir := t.TempDir()
		path := filepath.Join(dir, sigv4.AdminFile)
		if err := os.WriteFile(path, planted, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(path, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		_, _, err := sigv4.LoadOrCreateAdmin(dir)
		if err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Errorf("LoadOrCreateAdmin = %v, want a refusal naming the owner", err)
		}
	})
}
