package eksauthclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/agent/agenttest"
	"github.com/podid/podid/internal/agent/eksauthclient"
)

const testToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"

func newClient(t *testing.T, endpoint string) *eksauthclient.Client {
	t.Helper()
	c, err := eksauthclient.New(eksauthclient.Config{
		Endpoint:    endpoint,
		Region:      agenttest.Region,
		Credentials: agenttest.Credentials(),
		BaseBackoff: time.Millisecond,
		MaxBackoff:  5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAssumeRoleForPodIdentity(t *testing.T) {
	fake := agenttest.NewFake(t)
	c := newClient(t, fake.URL)
	out, err := c.AssumeRoleForPodIdentity(context.Background(), "my-cluster_1", testToken)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := fake.Success(agenttest.Call{Cluster: "my-cluster_1", Token: testToken})
	want.Credentials.AccessKeyId = out.Credentials.AccessKeyId // carries a call counter
	want.Credentials.Expiration = out.Credentials.Expiration
	if diff := cmp.Diff(out, want); diff != "" {
		t.Errorf("output (-got +want):\n%s", diff)
	}
	acct, err := eksauthclient.AccountID(out)
	if err != nil || acct != agenttest.AccountID {
		t.Errorf("AccountID = %q, %v; want %q", acct, err, agenttest.AccountID)
	}
	log := fake.Log()
	if len(log) != 1 {
		t.Fatalf("calls = %d, want 1", len(log))
	}
	call := log[0]
	if call.SignatureErr != nil {
		t.Errorf("signature: %v", call.SignatureErr)
	}
	if got, want := string(call.Body), `{"token":"`+testToken+`"}`; got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
	if got := call.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
}

func TestPathEscaping(t *testing.T) {
	fake := agenttest.NewFake(t)
	c := newClient(t, fake.URL+"/")
	// A name that could not pass EKS's pattern, to see the path is escaped
	// and still signed correctly; the fake answers for any name.
	if _, err := c.AssumeRoleForPodIdentity(context.Background(), "a b?c", testToken); err != nil {
		t.Fatal(err)
	}
	call := fake.Log()[0]
	if got, want := call.Path, "/clusters/a%20b%3Fc/assume-role-for-pod-identity"; got != want {
		t.Errorf("path = %q, want %q", got, want)
	}
	if call.Cluster != "a b?c" {
		t.Errorf("cluster = %q", call.Cluster)
	}
	if call.SignatureErr != nil {
		t.Errorf("signature: %v", call.SignatureErr)
	}
}

// rawServer answers every request with the given status, headers and body.
func rawServer(t *testing.T, status int, hdr map[string]string, body string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s, &n
}

func TestErrorDecoding(t *testing.T) {
	tests := []struct {
		name   string
		status int
		hdr    map[string]string
		body   string
		want   eksauthclient.Error
		irrec  bool
	}{
		{"header wins", 400, map[string]string{"X-Amzn-ErrorType": "AccessDeniedException", "X-Amzn-RequestId": "r1"},
			`{"__type":"InvalidTokenException","message":"Unauthorized Exception! EKS does not have permissions to assume the associated role."}`,
			eksauthclient.Error{StatusCode: 400, Code: "AccessDeniedException", Message: "Unauthorized Exception! EKS does not have permissions to assume the associated role.", RequestID: "r1", Fault: "client"}, true},
		{"__type with namespace", 404, nil, `{"__type":"com.amazonaws.eksauth#ResourceNotFoundException","Message":"no association"}`,
			eksauthclient.Error{StatusCode: 404, Code: "ResourceNotFoundException", Message: "no association", Fault: "client"}, true},
		{"header with colon", 400, map[string]string{"X-Amzn-ErrorType": "ExpiredTokenException:http://internal.amazon.com/coral/", "X-Amz-Request-Id": "r2"}, `{"message":"expired"}`,
			eksauthclient.Error{StatusCode: 400, Code: "ExpiredTokenException", Message: "expired", RequestID: "r2", Fault: "client"}, true},
		{"code member", 400, nil, `{"code":"InvalidTokenException","message":"bad"}`,
			eksauthclient.Error{StatusCode: 400, Code: "InvalidTokenException", Message: "bad", Fault: "client"}, true},
		{"numeric code ignored", 400, nil, `{"code":7,"message":"bad"}`,
			eksauthclient.Error{StatusCode: 400, Code: "UnknownError", Message: "bad", Fault: "unknown"}, false},
		{"empty body", 403, nil, ``,
			eksauthclient.Error{StatusCode: 403, Code: "UnknownError", Fault: "unknown"}, false},
		{"invalid parameter", 400, nil, `{"__type":"InvalidParameterException","message":"x"}`,
			eksauthclient.Error{StatusCode: 400, Code: "InvalidParameterException", Message: "x", Fault: "client"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, n := rawServer(t, tt.status, tt.hdr, tt.body)
			_, err := newClient(t, s.URL).AssumeRoleForPodIdentity(context.Background(), "c", testToken)
			var got *eksauthclient.Error
			if !errors.As(err, &got) {
				t.Fatalf("error %v is not *Error", err)
			}
			if diff := cmp.Diff(*got, tt.want); diff != "" {
				t.Errorf("error (-got +want):\n%s", diff)
			}
			if got := eksauthclient.IsIrrecoverable(err); got != tt.irrec {
				t.Errorf("IsIrrecoverable = %v, want %v", got, tt.irrec)
			}
			if n.Load() != 1 {
				t.Errorf("attempts = %d, want 1 (not retried)", n.Load())
			}
		})
	}
	t.Run("non-JSON body", func(t *testing.T) {
		s, _ := rawServer(t, 400, nil, `<html>nope</html>`)
		_, err := newClient(t, s.URL).AssumeRoleForPodIdentity(context.Background(), "c", testToken)
		var got *eksauthclient.Error
		if !errors.As(err, &got) || got.Code != "UnknownError" || !strings.Contains(got.Message, "failed to decode response body") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name      string
		failures  int // answers before success
		status    int
		code      string
		wantCalls int64
		wantErr   bool
	}{
		{"503 then success", 2, 503, eksapi.CodeServiceUnavailable, 3, false},
		{"throttled then success", 1, 429, eksapi.CodeThrottling, 2, false},
		{"500 always", 10, 500, eksapi.CodeInternalServer, 3, true},
		{"400 not retried", 10, 400, eksapi.CodeInvalidToken, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := agenttest.NewFake(t)
			var n atomic.Int64
			fake.SetResponder(func(c agenttest.Call) (*eksapi.AssumeRoleForPodIdentityOutput, *eksapi.Error) {
				if n.Add(1) <= int64(tt.failures) {
					e := eksapi.NewError(tt.code, "try later")
					e.Status = tt.status
					return nil, e
				}
				return fake.Success(c)
			})
			_, err := newClient(t, fake.URL).AssumeRoleForPodIdentity(context.Background(), "c", testToken)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got := fake.Calls(); got != tt.wantCalls {
				t.Errorf("calls = %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestResponseValidation(t *testing.T) {
	full := func() map[string]any {
		return map[string]any{
			"subject":                map[string]any{"namespace": "ns", "serviceAccount": "sa"},
			"audience":               "pods.eks.amazonaws.com",
			"podIdentityAssociation": map[string]any{"associationArn": "arn:aws:eks:us-west-2:111122223333:podidentityassociation/c/a-1", "associationId": "a-1"},
			"assumedRoleUser":        map[string]any{"arn": "arn:aws:sts::111122223333:assumed-role/r/s", "assumeRoleId": "AROA:s"},
			"credentials":            map[string]any{"accessKeyId": "ASIA", "secretAccessKey": "s", "sessionToken": "t", "expiration": 1702206632},
		}
	}
	tests := []struct {
		name   string
		mutate func(m map[string]any)
		errHas string
	}{
		{"complete", func(map[string]any) {}, ""},
		{"no credentials", func(m map[string]any) { delete(m, "credentials") }, "credentials"},
		{"no expiration", func(m map[string]any) { delete(m["credentials"].(map[string]any), "expiration") }, "credentials.expiration"},
		{"no audience", func(m map[string]any) { delete(m, "audience") }, "audience"},
		{"no association id", func(m map[string]any) { delete(m["podIdentityAssociation"].(map[string]any), "associationId") }, "podIdentityAssociation.associationId"},
		{"bad arn", func(m map[string]any) { m["assumedRoleUser"].(map[string]any)["arn"] = "not-an-arn" }, "parsing assumedRoleUser.arn"},
		{"string expiration", func(m map[string]any) { m["credentials"].(map[string]any)["expiration"] = "2024-01-01T00:00:00Z" }, "decoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := full()
			tt.mutate(m)
			b, _ := json.Marshal(m)
			s, _ := rawServer(t, 200, map[string]string{"Content-Type": "application/json"}, string(b))
			out, err := newClient(t, s.URL).AssumeRoleForPodIdentity(context.Background(), "c", testToken)
			if tt.errHas == "" {
				if err != nil || out.Credentials.Expiration.Unix() != 1702206632 {
					t.Errorf("got %+v, %v", out, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("err = %v, want it to mention %q", err, tt.errHas)
			}
		})
	}
}

func TestResponseSizeBound(t *testing.T) {
	s, _ := rawServer(t, 200, nil, `{"audience":"`+strings.Repeat("a", 2000)+`"}`)
	c, err := eksauthclient.New(eksauthclient.Config{Endpoint: s.URL, Region: "us-east-1", MaxResponseSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.AssumeRoleForPodIdentity(context.Background(), "c", testToken)
	if err == nil || !strings.Contains(err.Error(), "larger than 1000 bytes") {
		t.Errorf("err = %v", err)
	}
}

func TestAnonymousIsUnsigned(t *testing.T) {
	fake := agenttest.NewFake(t)
	c, err := eksauthclient.New(eksauthclient.Config{Endpoint: fake.URL, Region: "us-east-1", Credentials: aws.AnonymousCredentials{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AssumeRoleForPodIdentity(context.Background(), "c", testToken); err != nil {
		t.Fatal(err)
	}
	if h := fake.Log()[0].Header.Get("Authorization"); h != "" {
		t.Errorf("Authorization = %q, want none", h)
	}
}

func TestNewFromEnvironment(t *testing.T) {
	fake := agenttest.NewFake(t)
	t.Setenv("AWS_ACCESS_KEY_ID", agenttest.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", agenttest.SecretAccessKey)
	t.Setenv("AWS_REGION", agenttest.Region)
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv(eksauthclient.EndpointEnv, fake.URL)
	c, err := eksauthclient.NewFromEnvironment(context.Background(), "", eksauthclient.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AssumeRoleForPodIdentity(context.Background(), "c", testToken); err != nil {
		t.Fatal(err)
	}
	if err := fake.Log()[0].SignatureErr; err != nil {
		t.Errorf("signature: %v", err)
	}
}

// TestNewFromEnvironmentMissing: without credentials or a region the
// error says what is missing and how to give it.
func TestNewFromEnvironmentMissing(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "")
	}
	_, err := eksauthclient.NewFromEnvironment(context.Background(), "http://127.0.0.1:1", eksauthclient.Config{})
	if err == nil || !strings.Contains(err.Error(), "--region") {
		t.Errorf("no region: %v, want it to mention --region", err)
	}
	_, err = eksauthclient.NewFromEnvironment(context.Background(), "http://127.0.0.1:1", eksauthclient.Config{Region: "us-east-1"})
	for _, want := range []string{"no AWS credentials in the environment", "AWS_ACCESS_KEY_ID", "node credentials"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no credentials: %v, want it to mention %q", err, want)
		}
	}
}

// TestServiceModel cross-checks the client's request and the fake's
// response against botocore's eks-auth service model.
func TestServiceModel(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found; skipping the botocore model check")
	}
	script := `
import json, botocore.session
m = botocore.session.get_session().get_service_model("eks-auth")
op = m.operation_model("AssumeRoleForPodIdentity")
def members(s):
    return {n: {"loc": (v.serialization.get("location") or "body"), "type": v.type_name,
                "members": sorted(v.members) if v.type_name == "structure" else None,
                "required": sorted(v.required_members) if v.type_name == "structure" else None}
            for n, v in s.members.items()}
print(json.dumps({
  "protocol": m.metadata["protocol"], "signingName": m.metadata.get("signingName"),
  "method": op.http["method"], "uri": op.http["requestUri"], "code": op.http.get("responseCode", 200),
  "input": members(op.input_shape), "inputRequired": sorted(op.input_shape.required_members),
  "output": members(op.output_shape), "outputRequired": sorted(op.output_shape.required_members),
  "errors": {e.name: e.metadata.get("error", {}).get("httpStatusCode") for e in op.error_shapes},
}))`
	out, err := exec.Command("python3", "-c", script).Output()
	if err != nil {
		t.Skipf("botocore not usable (%v); skipping the model check", err)
	}
	var model struct {
		Protocol, SigningName, Method, URI string
		Code                               int
		Input, Output                      map[string]struct {
			Loc, Type         string
			Members, Required []string
		}
		InputRequired, OutputRequired []string
		Errors                        map[string]int
	}
	if err := json.Unmarshal(out, &model); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{model.Protocol, model.SigningName, model.Method, model.URI},
		[]string{"rest-json", eksauthclient.SigningName, http.MethodPost, "/clusters/{clusterName}/assume-role-for-pod-identity"}); diff != "" {
		t.Errorf("binding (-model +client):\n%s", diff)
	}
	if model.Code != 200 {
		t.Errorf("success code %d", model.Code)
	}
	// Input: clusterName in the path, the rest JSON members of
	// AssumeRoleForPodIdentityInput.
	if got := model.Input["clusterName"].Loc; got != "uri" {
		t.Errorf("clusterName location %q", got)
	}
	var bodyMembers []string
	for n, m := range model.Input {
		if m.Loc == "body" {
			bodyMembers = append(bodyMembers, n)
		}
	}
	// Older botocore releases lack the newer optional eksNodeName,
	// instanceId and zone, so every model member must be ours, and ours
	// beyond the model must be those three.
	ours := jsonKeys(t, eksapi.AssumeRoleForPodIdentityInput{Token: "t", EksNodeName: "n", InstanceId: "i", Zone: "z"})
	for _, n := range bodyMembers {
		if _, ok := ours[n]; !ok {
			t.Errorf("model input member %q missing from eksapi.AssumeRoleForPodIdentityInput", n)
		}
		delete(ours, n)
	}
	for n := range ours {
		if n != "eksNodeName" && n != "instanceId" && n != "zone" {
			t.Errorf("input member %q is not in the model", n)
		}
	}
	if diff := cmp.Diff(model.InputRequired, []string{"clusterName", "token"}); diff != "" {
		t.Errorf("input required (-model +ours):\n%s", diff)
	}
	// Output: the fake's success document has every member, nested too.
	fake := agenttest.NewFake(t)
	full, _ := fake.Success(agenttest.Call{Cluster: "c", Token: testToken})
	doc := jsonKeys(t, full)
	if diff := cmp.Diff(sortedKeys(doc), sortedKeys(model.Output)); diff != "" {
		t.Errorf("output members (-ours +model):\n%s", diff)
	}
	if diff := cmp.Diff(model.OutputRequired, sortedKeys(model.Output)); diff != "" {
		t.Errorf("model no longer marks every output member required (-model +all):\n%s", diff)
	}
	for name, m := range model.Output {
		if m.Type != "structure" {
			continue
		}
		sub, ok := doc[name].(map[string]any)
		if !ok {
			t.Errorf("output %s is not an object", name)
			continue
		}
		if diff := cmp.Diff(sortedKeys(sub), m.Members); diff != "" {
			t.Errorf("output %s members (-ours +model):\n%s", name, diff)
		}
		if diff := cmp.Diff(m.Required, m.Members); diff != "" {
			t.Errorf("output %s: model required differs from members, Validate needs review (-required +members):\n%s", name, diff)
		}
	}
	wantErrs := map[string]int{
		"AccessDeniedException": 400, "ExpiredTokenException": 400, "InternalServerException": 500,
		"InvalidParameterException": 400, "InvalidRequestException": 400, "InvalidTokenException": 400,
		"ResourceNotFoundException": 404, "ServiceUnavailableException": 503, "ThrottlingException": 429,
	}
	if diff := cmp.Diff(model.Errors, wantErrs); diff != "" {
		t.Errorf("errors (-model +ours):\n%s", diff)
	}
}

func jsonKeys(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
