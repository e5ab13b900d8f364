package httpx_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/sts"
)

// newHost serves host on loopback for the test.
func newHost(t *testing.T, cfg httpx.Config, mount func(h *httpx.Host)) (string, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h := httpx.New(cfg)
	mount(h)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL, logs
}

func mustHandle(t *testing.T, h *httpx.Host, pattern string, fam *httpx.Family, fn httpx.HandlerFunc) {
	t.Helper()
	if err := h.Handle(pattern, fam, "Op", fn); err != nil {
		t.Fatal(err)
	}
}

type syncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func (b *syncBuffer) lock() {
	if b.mu == nil {
		b.mu = make(chan struct{}, 1)
	}
	b.mu <- struct{}{}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.lock()
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.lock()
	defer func() { <-b.mu }()
	return b.buf.String()
}

type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url, contentType string, body io.Reader) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{resp.StatusCode, resp.Header, b}
}

func sdkConfig() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	}
}

// TestRestJSONErrors: a handler's Go error reaches the EKS SDK as the
// modeled exception, and eksapi.ErrorFromJSON reads the same shape.
func TestRestJSONErrors(t *testing.T) {
	url, _ := newHost(t, httpx.Config{}, func(h *httpx.Host) {
		mustHandle(t, h, "GET /clusters/{name}", httpx.EKS, func(w http.ResponseWriter, r *http.Request) error {
			return store.ErrNotFound
		})
		mustHandle(t, h, "DELETE /clusters/{name}", httpx.EKS, func(w http.ResponseWriter, r *http.Request) error {
			return eksapi.NewError(eksapi.CodeResourceInUse, "Cluster busy.").WithCluster(r.PathValue("name"))
		})
	})
	c := eks.NewFromConfig(sdkConfig(), func(o *eks.Options) { o.BaseEndpoint = aws.String(url) })

	_, err := c.DescribeCluster(context.Background(), &eks.DescribeClusterInput{Name: aws.String("c1")})
	var nf *ekstypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("DescribeCluster error %T %v, want ResourceNotFoundException", err, err)
	}
	if got, want := aws.ToString(nf.Message), "No cluster found for name: c1."; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	if got := aws.ToString(nf.ClusterName); got != "c1" {
		t.Errorf("clusterName = %q, want c1", got)
	}

	_, err = c.DeleteCluster(context.Background(), &eks.DeleteClusterInput{Name: aws.String("c2")})
	var inUse *ekstypes.ResourceInUseException
	if !errors.As(err, &inUse) || aws.ToString(inUse.ClusterName) != "c2" {
		t.Errorf("DeleteCluster error %v, want ResourceInUseException for c2", err)
	}

	res := do(t, "GET", url+"/clusters/c1", "", nil)
	got := eksapi.ErrorFromJSON(res.status, res.header, res.body)
	want := eksapi.NewError(eksapi.CodeResourceNotFound, "No cluster found for name: c1.").WithCluster("c1")
	var ae *eksapi.Error
	if !errors.As(got, &ae) || ae.Code != want.Code || ae.Message != want.Message || ae.ClusterName != want.ClusterName || ae.Status != 404 {
		t.Errorf("ErrorFromJSON = %#v, want %#v", got, want)
	}
	if res.header.Get("X-Amzn-RequestId") == "" {
		t.Error("no X-Amzn-RequestId on an error")
	}
}

// TestAWSQueryErrors: the awsQuery form reaches the STS SDK with its code
// and message, eksapi.ErrorFromXML reads it, and the namespace is the
// family's.
func TestAWSQueryErrors(t *testing.T) {
	iam := httpx.IAM
	url, _ := newHost(t, httpx.Config{}, func(h *httpx.Host) {
		mustHandle(t, h, "POST /{$}", httpx.STS, func(w http.ResponseWriter, r *http.Request) error {
			return fmt.Errorf("verifying: %w", sts.NewError(sts.CodeExpiredToken, http.StatusBadRequest, sts.MsgExpiredToken))
		})
		mustHandle(t, h, "POST /iam", iam, func(w http.ResponseWriter, r *http.Request) error {
			return errors.New("disk on fire")
		})
	})
	c := awssts.NewFromConfig(sdkConfig(), func(o *awssts.Options) { o.BaseEndpoint = aws.String(url) })
	_, err := c.GetCallerIdentity(context.Background(), &awssts.GetCallerIdentityInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != sts.CodeExpiredToken || ae.ErrorMessage() != sts.MsgExpiredToken {
		t.Fatalf("GetCallerIdentity error %v, want ExpiredToken", err)
	}

	res := do(t, "POST", url+"/", "application/x-www-form-urlencoded", strings.NewReader("Action=GetCallerIdentity"))
	if res.status != 400 || !bytes.Contains(res.body, []byte(`xmlns="`+httpx.NamespaceSTS+`"`)) || res.header.Get("Content-Type") != "text/xml" {
		t.Errorf("STS error: %d %s %s", res.status, res.header.Get("Content-Type"), res.body)
	}
	if rid := res.header.Get("X-Amzn-RequestId"); rid == "" || !bytes.Contains(res.body, []byte("<RequestId>"+rid+"</RequestId>")) {
		t.Errorf("request ID %q not in the body %s", rid, res.body)
	}
	var ue *eksapi.UnknownError
	if err := eksapi.ErrorFromXML(res.body); !errors.As(err, &ue) || ue.Code != sts.CodeExpiredToken || ue.Message != sts.MsgExpiredToken {
		t.Errorf("ErrorFromXML = %#v", err)
	}

	res = do(t, "POST", url+"/iam", "application/x-www-form-urlencoded", strings.NewReader("Action=ListRoles"))
	if res.status != 500 || !bytes.Contains(res.body, []byte(`xmlns="`+httpx.NamespaceIAM+`"`)) ||
		!bytes.Contains(res.body, []byte("<Type>Receiver</Type>")) || bytes.Contains(res.body, []byte("fire")) {
		t.Errorf("IAM internal error: %d %s", res.status, res.body)
	}
	if err := eksapi.ErrorFromXML(res.body); !errors.As(err, &ue) || ue.Code != "ServiceFailure" {
		t.Errorf("ErrorFromXML = %#v, want IAM's ServiceFailure", err)
	}
}

// TestNoSpace: a write refused for want of disk space is a 503 the SDKs
// retry, in either protocol, and the log says the disk is full.
func TestNoSpace(t *testing.T) {
	iam := &httpx.Family{Name: "iam", Protocol: httpx.AWSQuery, Namespace: httpx.NamespaceIAM}
	noSpace := func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("creating association: %w: database or disk is full (13)", store.ErrNoSpace)
	}
	url, logs := newHost(t, httpx.Config{}, func(h *httpx.Host) {
		mustHandle(t, h, "DELETE /clusters/{name}", httpx.EKS, noSpace)
		mustHandle(t, h, "POST /iam", iam, noSpace)
	})
	c := eks.NewFromConfig(sdkConfig(), func(o *eks.Options) { o.BaseEndpoint = aws.String(url); o.RetryMaxAttempts = 1 })
	_, err := c.DeleteCluster(context.Background(), &eks.DeleteClusterInput{Name: aws.String("c1")})
	var su *ekstypes.ServiceUnavailableException
	if !errors.As(err, &su) || aws.ToString(su.Message) != "The service cannot store changes right now. Try again later." {
		t.Errorf("DeleteCluster error %v, want ServiceUnavailableException", err)
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="write refused: the disk is full`) || !strings.Contains(logs.String(), "(13)") {
		t.Errorf("log does not say the disk is full, with the cause:\n%s", logs)
	}
	res := do(t, "POST", url+"/iam", "application/x-www-form-urlencoded", strings.NewReader("Action=CreateRole"))
	var ue *eksapi.UnknownError
	if err := eksapi.ErrorFromXML(res.body); res.status != 503 || !errors.As(err, &ue) || ue.Code != "ServiceUnavailable" {
		t.Errorf("IAM on a full disk: %d %s, want a 503 ServiceUnavailable", res.status, res.body)
	}
}

// TestPanicRecovery: a panic is a 500 in the route's protocol that does
// not reveal the panic value; its stack is logged.
func TestPanicRecovery(t *testing.T) {
	url, logs := newHost(t, httpx.Config{}, func(h *httpx.Host) {
		mustHandle(t, h, "GET /boom", httpx.EKS, func(http.ResponseWriter, *http.Request) error { panic("secret boom") })
		mustHandle(t, h, "POST /{$}", httpx.STS, func(http.ResponseWriter, *http.Request) error { panic("secret boom") })
	})
	res := do(t, "GET", url+"/boom", "", nil)
	if res.status != 500 || res.header.Get("X-Amzn-ErrorType") != eksapi.CodeServer || bytes.Contains(res.body, []byte("secret")) {
		t.Errorf("JSON panic: %d %q %s", res.status, res.header.Get("X-Amzn-ErrorType"), res.body)
	}
	res = do(t, "POST", url+"/", "application/x-www-form-urlencoded", nil)
	var ue *eksapi.UnknownError
	if err := eksapi.ErrorFromXML(res.body); res.status != 500 || !errors.As(err, &ue) || ue.Code != sts.CodeInternalFailure || bytes.Contains(res.body, []byte("secret")) {
		t.Errorf("XML panic: %d %s", res.status, res.body)
	}
	if !strings.Contains(logs.String(), "panic serving request") || !strings.Contains(logs.String(), "secret boom") {
		t.Errorf("panic not logged:\n%s", logs)
	}
}

// TestNoRoute: 404 UnknownOperationException, 405 with Allow, empty labels
// named, /healthz's own 405 and 503.
func TestNoRoute(t *testing.T) {
	healthy := errors.New("store down")
	url, _ := newHost(t, httpx.Config{Health: func(context.Context) error { return healthy }}, func(h *httpx.Host) {
		ok := func(w http.ResponseWriter, r *http.Request) error { return httpx.WriteJSON(w, struct{}{}) }
		mustHandle(t, h, "GET /clusters/{name}", httpx.EKS, ok)
		mustHandle(t, h, "DELETE /clusters/{name}", httpx.EKS, ok)
		mustHandle(t, h, "GET /clusters/{name}/things/{associationId}", httpx.EKS, ok)
	})
	tests := []struct {
		name, method, path string
		status             int
		code, msg, allow   string
	}{
		{"unknown", "GET", "/nothing", 404, eksapi.CodeUnknownOperation, "No operation matches GET /nothing.", ""},
		{"wrong method", "PUT", "/clusters/c1", 405, eksapi.CodeMethodNotAllowed, "The method PUT is not allowed for the requested resource.", "GET, DELETE"},
		{"empty name", "GET", "/clusters/", 400, eksapi.CodeInvalidParameter, "The parameter name must not be empty.", ""},
		{"empty association", "GET", "/clusters/c1/things/", 400, eksapi.CodeInvalidParameter, "The parameter associationId should be 19 characters long.", ""},
		{"empty label", "GET", "/clusters//things/x", 400, eksapi.CodeInvalidParameter, "A path parameter of the request is empty.", ""},
		{"dot segment", "GET", "/clusters/../x", 404, eksapi.CodeUnknownOperation, "No operation matches GET /clusters/../x.", ""},
		{"healthz method", "POST", "/healthz", 405, eksapi.CodeMethodNotAllowed, "The method POST is not allowed for /healthz.", "GET, HEAD"},
		{"healthz down", "GET", "/healthz", 503, eksapi.CodeServiceUnavailable, "The store is not ready.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, tt.method, url+tt.path, "", nil)
			err := eksapi.ErrorFromJSON(res.status, res.header, res.body)
			var ae *eksapi.Error
			var ue *eksapi.UnknownError
			code, msg := "", ""
			switch {
			case errors.As(err, &ae):
				code, msg = ae.Code, ae.Message
			case errors.As(err, &ue):
				code, msg = ue.Code, ue.Message
			}
			if res.status != tt.status || code != tt.code || msg != tt.msg {
				t.Errorf("got %d %s %q, want %d %s %q", res.status, code, msg, tt.status, tt.code, tt.msg)
			}
			if got := res.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

// TestBodyLimit: the host's limit and a family's lower one, as a 413 in
// the route's protocol, whether the length is declared or not; the body is
// read once and shared by authentication and the handler.
func TestBodyLimit(t *testing.T) {
	var authSaw []byte
	url, _ := newHost(t, httpx.Config{
		MaxBodyBytes: 1000,
		Authenticate: func(r *http.Request) (*http.Request, error) {
			b, err := httpx.ReadBody(r)
			authSaw = b
			return r, err
		},
	}, func(h *httpx.Host) {
		echo := func(w http.ResponseWriter, r *http.Request) error {
			var in map[string]string
			if err := httpx.DecodeJSON(r, &in); err != nil {
				return err
			}
			return httpx.WriteJSON(w, in)
		}
		mustHandle(t, h, "POST /json", httpx.EKS, echo)
		mustHandle(t, h, "POST /small", &httpx.Family{Name: "small", MaxBody: 100}, echo)
		mustHandle(t, h, "POST /{$}", httpx.STS, func(w http.ResponseWriter, r *http.Request) error {
			_, err := httpx.ReadBody(r)
			return err
		})
	})
	res := do(t, "POST", url+"/json", "application/json", strings.NewReader(`{"a":"b"}`))
	if res.status != 200 || string(res.body) != `{"a":"b"}` || string(authSaw) != `{"a":"b"}` {
		t.Errorf("small body: %d %s (authentication saw %q)", res.status, res.body, authSaw)
	}
	big := `{"a":"` + strings.Repeat("x", 2000) + `"}`
	for _, tt := range []struct {
		name, path string
		body       io.Reader
		limit      string
	}{
		{"declared length", "/json", strings.NewReader(big), "1000"},
		{"chunked", "/json", io.MultiReader(strings.NewReader(big)), "1000"},
		{"family limit", "/small", strings.NewReader(big[:500]), "100"},
	} {
		res := do(t, "POST", url+tt.path, "application/json", tt.body)
		err := eksapi.ErrorFromJSON(res.status, res.header, res.body)
		var ue *eksapi.UnknownError
		if !errors.As(err, &ue) || res.status != 413 || ue.Code != eksapi.CodeRequestEntityTooLarge || !strings.Contains(ue.Message, "limit of "+tt.limit+" bytes") {
			t.Errorf("%s: %d %s", tt.name, res.status, res.body)
		}
	}
	res = do(t, "POST", url+"/", "application/x-www-form-urlencoded", strings.NewReader("Action=x&Pad="+strings.Repeat("x", 70<<10)))
	var ue *eksapi.UnknownError
	if err := eksapi.ErrorFromXML(res.body); res.status != 413 || !errors.As(err, &ue) || ue.Code != sts.CodeRequestEntityTooLarge {
		t.Errorf("STS body too large: %d %s", res.status, res.body)
	}
	res = do(t, "POST", url+"/json", "application/json", strings.NewReader(`{"a":`))
	if err := eksapi.ErrorFromJSON(res.status, res.header, res.body); res.status != 400 || !strings.Contains(err.Error(), "SerializationException") {
		t.Errorf("bad JSON: %d %s", res.status, res.body)
	}
}

// TestAuthenticateFailure: a refusal is written in the route's protocol;
// public families are not authenticated.
func TestAuthenticateFailure(t *testing.T) {
	url, _ := newHost(t, httpx.Config{
		Authenticate: func(r *http.Request) (*http.Request, error) {
			return nil, eksapi.NewError(eksapi.CodeAccessDenied, "no")
		},
	}, func(h *httpx.Host) {
		ok := func(w http.ResponseWriter, r *http.Request) error { return httpx.WriteJSON(w, struct{}{}) }
		mustHandle(t, h, "GET /clusters", httpx.EKS, ok)
		mustHandle(t, h, "GET /open", httpx.OIDC, ok)
	})
	if res := do(t, "GET", url+"/clusters", "", nil); res.status != 403 || res.header.Get("X-Amzn-ErrorType") != eksapi.CodeAccessDenied {
		t.Errorf("refused: %d %s", res.status, res.body)
	}
	if res := do(t, "GET", url+"/open", "", nil); res.status != 200 {
		t.Errorf("public: %d %s", res.status, res.body)
	}
	if res := do(t, "GET", url+"/healthz", "", nil); res.status != 200 {
		t.Errorf("healthz: %d %s", res.status, res.body)
	}
}

// TestAuthErrorProtocols: an authentication refusal is STS's code in
// awsQuery and the matching restJson1 exception elsewhere, as the SDKs
// decode them.
func TestAuthErrorProtocols(t *testing.T) {
	refusal := &httpx.AuthError{Code: sts.CodeSignatureDoesNotMatch, Message: sts.MsgSignatureMismatch, AccessKeyID: "AKIDEXAMPLE"}
	url, _ := newHost(t, httpx.Config{
		Authenticate: func(r *http.Request) (*http.Request, error) { return nil, refusal },
	}, func(h *httpx.Host) {
		ok := func(w http.ResponseWriter, r *http.Request) error { return httpx.WriteJSON(w, struct{}{}) }
		mustHandle(t, h, "GET /clusters/{name}", httpx.EKS, ok)
		mustHandle(t, h, "POST /{$}", httpx.STS, ok)
	})
	_, err := eks.NewFromConfig(sdkConfig(), func(o *eks.Options) { o.BaseEndpoint = aws.String(url) }).
		DescribeCluster(context.Background(), &eks.DescribeClusterInput{Name: aws.String("c1")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != eksapi.CodeInvalidSignature || ae.ErrorMessage() != sts.MsgSignatureMismatch {
		t.Errorf("EKS: %v, want InvalidSignatureException", err)
	}
	_, err = awssts.NewFromConfig(sdkConfig(), func(o *awssts.Options) { o.BaseEndpoint = aws.String(url) }).
		GetCallerIdentity(context.Background(), &awssts.GetCallerIdentityInput{})
	if !errors.As(err, &ae) || ae.ErrorCode() != sts.CodeSignatureDoesNotMatch || ae.ErrorMessage() != sts.MsgSignatureMismatch {
		t.Errorf("STS: %v, want SignatureDoesNotMatch", err)
	}
	res := do(t, "GET", url+"/clusters/c1", "", nil)
	if res.status != 403 {
		t.Errorf("status %d, want 403", res.status)
	}
}

// TestRequestIDsInTimeOrder: request IDs are version 7 UUIDs, each later
// one sorting after the one before (the audit trail is keyed by them).
func TestRequestIDsInTimeOrder(t *testing.T) {
	h := httpx.New(httpx.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var prev string
	for i := range 50 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		id := rec.Header().Get(httpx.HeaderRequestID)
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 7 || id != u.String() {
			t.Fatalf("request %d: ID %q is not a version 7 UUID (%v)", i, id, err)
		}
		if id <= prev {
			t.Errorf("request %d: ID %s does not sort after %s", i, id, prev)
		}
		prev = id
	}
}

// TestAccessLog: one line per request, with its method, path (never the
// query), operation, status, error code, duration and request ID, at info
// (warn for a 5xx); none below the logger's level.
func TestAccessLog(t *testing.T) {
	url, logs := newHost(t, httpx.Config{}, func(h *httpx.Host) {
		mustHandle(t, h, "GET /ok", httpx.EKS, func(w http.ResponseWriter, _ *http.Request) error {
			w.WriteHeader(http.StatusNoContent)
			return nil
		})
		mustHandle(t, h, "GET /fail", httpx.EKS, func(http.ResponseWriter, *http.Request) error {
			return errors.New("broken")
		})
	})
	ok := do(t, "GET", url+"/ok?nextToken=secret", "", nil)
	fail := do(t, "GET", url+"/fail", "", nil)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	var got []string
	for _, l := range lines {
		if strings.Contains(l, "msg=request ") {
			got = append(got, l[strings.Index(l, " level="):])
		}
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`^ level=INFO msg=request method=GET path=/ok op=Op status=204 code="" duration=[0-9.]+[µnm]?s request_id=` +
			regexp.QuoteMeta(ok.header.Get(httpx.HeaderRequestID)) + `$`),
		regexp.MustCompile(`^ level=WARN msg=request method=GET path=/fail op=Op status=500 code=ServerException duration=[0-9.]+[µnm]?s request_id=` +
			regexp.QuoteMeta(fail.header.Get(httpx.HeaderRequestID)) + `$`),
	}
	if len(got) != len(want) {
		t.Fatalf("access log lines:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i, re := range want {
		if !re.MatchString(got[i]) {
			t.Errorf("access log line %d:\n%s\nwant %s", i, got[i], re)
		}
	}

	quietLogs := &syncBuffer{}
	quiet, _ := newHost(t, httpx.Config{Logger: slog.New(slog.NewTextHandler(quietLogs, &slog.HandlerOptions{Level: slog.LevelError}))},
		func(h *httpx.Host) {
			mustHandle(t, h, "GET /ok", httpx.EKS, func(http.ResponseWriter, *http.Request) error { return nil })
		})
	do(t, "GET", quiet+"/ok", "", nil)
	if s := quietLogs.String(); s != "" {
		t.Errorf("logged below the logger's level: %s", s)
	}
}
