package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/servertest"
)

func TestRawWireErrors(t *testing.T) {
	srv := servertest.New(t, servertest.WithConfig(func(cfg *server.Config) { cfg.MaxBodyBytes = 4096 }))
	c := srv.EKS(t)
	createCluster(t, c, "c1")
	a := createAssoc(t, c, "c1", "ns", "sa")
	assocURL := srv.URL + "/clusters/c1/pod-identity-associations"

	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
		msg                      string
	}{
		{"malformed JSON", "POST", "/clusters/c1/pod-identity-associations", `{"namespace":`, 400, "SerializationException", "unexpected end"},
		{"syntax error", "POST", "/clusters/c1/pod-identity-associations", `{"namespace" "x"}`, 400, "SerializationException", "syntax error"},
		{"wrong type", "POST", "/clusters/c1/pod-identity-associations", `{"namespace":5,"serviceAccount":"sa","roleArn":"r"}`, 400, "SerializationException", `member "namespace" must be a string`},
		{"wrong bool type", "POST", "/clusters/c1/pod-identity-associations/" + aws.ToString(a.AssociationId), `{"disableSessionTags":"yes"}`, 400, "SerializationException", "must be a boolean"},
		{"wrong tags type", "POST", "/tags/" + url.PathEscape(aws.ToString(a.AssociationArn)), `{"tags":["a"]}`, 400, "SerializationException", "must be an object"},
		{"array body", "POST", "/clusters", `[1,2]`, 400, "SerializationException", "must be a JSON object"},
		{"lone surrogate in a tag", "POST", "/tags/" + url.PathEscape(aws.ToString(a.AssociationArn)), `{"tags":{"k":"\ud800"}}`, 400, "SerializationException", `Invalid JSON: \ud800 is a lone UTF-16 surrogate, not a character.`},
		{"trailing data", "POST", "/clusters", `{"name":"x"} {}`, 400, "SerializationException", "after the JSON object"},
		{"empty body", "POST", "/clusters/c1/pod-identity-associations", ``, 400, "InvalidParameterException", "namespace must not be empty"},
		{"null body", "POST", "/clusters/c1/pod-identity-associations", `null`, 400, "InvalidParameterException", "namespace must not be empty"},
		{"oversized body", "POST", "/clusters/c1/pod-identity-associations", `{"namespace":"` + strings.Repeat("n", 5000) + `"}`, 413, "RequestEntityTooLargeException", "limit of 4096 bytes"},
		{"unknown route", "GET", "/nothing/here", "", 404, "UnknownOperationException", "No operation matches GET /nothing/here."},
		{"unknown tags route", "GET", "/tags", "", 404, "UnknownOperationException", "No operation"},
		{"trailing slash", "GET", "/clusters/c1/", "", 404, "UnknownOperationException", "No operation"},
		{"dot segment", "GET", "/clusters/../clusters", "", 404, "UnknownOperationException", "No operation"},
		{"wrong method", "PUT", "/clusters/c1", "", 405, "MethodNotAllowedException", "PUT is not allowed"},
		{"wrong method on collection", "DELETE", "/clusters/c1/pod-identity-associations", "", 405, "MethodNotAllowedException", "DELETE"},
		{"wrong method on clusters", "DELETE", "/clusters", "", 405, "MethodNotAllowedException", "DELETE"},
		{"empty cluster name", "GET", "/clusters/", "", 400, "InvalidParameterException", "name must not be empty"},
		{"empty cluster label", "POST", "/clusters//pod-identity-associations", `{}`, 400, "InvalidParameterException", "path parameter of the request is empty"},
		{"empty association ID", "DELETE", "/clusters/c1/pod-identity-associations/", "", 400, "InvalidParameterException", "should be 19 characters long"},
		{"empty ARN", "GET", "/tags/", "", 400, "BadRequestException", "resourceArn must not be empty"},
		{"bad maxResults", "GET", "/clusters/c1/pod-identity-associations?maxResults=abc", "", 400, "InvalidParameterException", "maxResults"},
		{"repeated maxResults", "GET", "/clusters?maxResults=1&maxResults=2", "", 400, "InvalidParameterException", "maxResults"},
		{"wrong healthz method", "POST", "/healthz", "", 405, "MethodNotAllowedException", "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body *strings.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			var res rawResult
			if body != nil {
				res = do(t, tt.method, srv.URL+tt.path, body)
			} else {
				res = do(t, tt.method, srv.URL+tt.path, nil)
			}
			checkAWSError(t, res, tt.status, tt.code)
			if msg, _ := res.json["message"].(string); !strings.Contains(msg, tt.msg) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.msg)
			}
		})
	}
	t.Run("405 has Allow", func(t *testing.T) {
		res := do(t, "PATCH", assocURL+"/"+aws.ToString(a.AssociationId), nil)
		if got := res.header.Get("Allow"); got != "GET, POST, DELETE" {
			t.Errorf("Allow = %q, want GET, POST, DELETE", got)
		}
	})
	t.Run("request IDs are unique", func(t *testing.T) {
		r1, r2 := do(t, "GET", srv.URL+"/healthz", nil), do(t, "GET", srv.URL+"/healthz", nil)
		if r1.status != 200 || r1.header.Get("X-Amzn-RequestId") == r2.header.Get("X-Amzn-RequestId") {
			t.Errorf("healthz %d, request IDs %q and %q", r1.status, r1.header.Get("X-Amzn-RequestId"), r2.header.Get("X-Amzn-RequestId"))
		}
	})
}

// TestTagARNEncodings: the SDK percent-encodes the ARN into one path
// segment; hand-written requests may send it raw. Both work.
func TestTagARNEncodings(t *testing.T) {
	srv := servertest.New(t)
	c := srv.EKS(t)
	createCluster(t, c, "c1")
	a := createAssoc(t, c, "c1", "ns", "sa")
	arn := aws.ToString(a.AssociationArn)
	for _, tt := range []struct{ name, path string }{
		{"percent-encoded", "/tags/" + url.PathEscape(arn)},
		{"SDK-style escaping", "/tags/" + strings.NewReplacer(":", "%3A", "/", "%2F").Replace(arn)},
		{"unencoded", "/tags/" + arn},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key := strings.ReplaceAll(tt.name, " ", "-")
			res := do(t, "POST", srv.URL+tt.path, strings.NewReader(`{"tags":{"`+key+`":"v"}}`))
			if res.status != 200 {
				t.Fatalf("TagResource %s: %d %s", tt.path, res.status, res.body)
			}
			res = do(t, "GET", srv.URL+tt.path, nil)
			tags, _ := res.json["tags"].(map[string]any)
			if res.status != 200 || tags[key] != "v" {
				t.Errorf("ListTagsForResource %s: %d %s", tt.path, res.status, res.body)
			}
			res = do(t, "DELETE", srv.URL+tt.path+"?tagKeys="+key, nil)
			if res.status != 200 {
				t.Errorf("UntagResource %s: %d %s", tt.path, res.status, res.body)
			}
		})
	}
	// The cluster ARN, unencoded.
	res := do(t, "GET", srv.URL+"/tags/"+srv.Server.ClusterARN("us-east-1", "c1"), nil)
	if res.status != 200 {
		t.Errorf("ListTagsForResource on the raw cluster ARN: %d %s", res.status, res.body)
	}
}

// TestSuccessWireFormat: the JSON podid writes, member by member.
func TestSuccessWireFormat(t *testing.T) {
	srv := servertest.New(t)
	c := srv.EKS(t)
	createCluster(t, c, "c1")
	a := createAssoc(t, c, "c1", "ns", "sa")
	res := do(t, "GET", srv.URL+"/clusters/c1/pod-identity-associations/"+aws.ToString(a.AssociationId), nil)
	if res.status != 200 || res.header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q %s", res.status, res.header.Get("Content-Type"), res.body)
	}
	for _, want := range []string{`"tags":{}`, `"disableSessionTags":false`, `"createdAt":1`} {
		if !bytes.Contains(res.body, []byte(want)) {
			t.Errorf("body %s lacks %s", res.body, want)
		}
	}
	for _, absent := range []string{"targetRoleArn", "externalId", "policy", "ownerArn"} {
		if bytes.Contains(res.body, []byte(absent)) {
			t.Errorf("body %s has unset member %s", res.body, absent)
		}
	}
	if ts := string(res.body); !regexpMillis.MatchString(ts) {
		t.Errorf("timestamps not epoch seconds with 3 decimals: %s", ts)
	}
	list := do(t, "GET", srv.URL+"/clusters/c1/pod-identity-associations", nil)
	if bytes.Contains(list.body, []byte("nextToken")) {
		t.Errorf("last page has a nextToken: %s", list.body)
	}
	tag := do(t, "POST", srv.URL+"/tags/"+url.PathEscape(aws.ToString(a.AssociationArn)), strings.NewReader(`{"tags":{"a":"b"}}`))
	if tag.status != 200 || string(tag.body) != "{}" {
		t.Errorf("TagResource: %d %s, want 200 {}", tag.status, tag.body)
	}
}

// TestRoutesAndAuthenticate: extra routes share the host; Authenticate
// runs before everything but /healthz; panics become a 500 ServerException.
func TestRoutesAndAuthenticate(t *testing.T) {
	var logs syncBuffer
	srv := servertest.New(t, servertest.WithConfig(func(cfg *server.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		cfg.Routes = map[string]http.Handler{
			"POST /{$}": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(`<sts/>` + server.RequestID(r.Context())))
			}),
			"GET /boom": http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }),
		}
		cfg.Authenticate = func(r *http.Request) (*http.Request, error) {
			if r.Header.Get("Authorization") == "" {
				return nil, eksapi.NewError(eksapi.CodeMissingAuthentication, "Missing Authentication Token")
			}
			return r, nil
		}
	}))
	if res := do(t, "GET", srv.URL+"/healthz", nil); res.status != 200 {
		t.Errorf("healthz without credentials: %d, want 200", res.status)
	}
	if res := do(t, "GET", srv.URL+"/clusters", nil); res.status != 403 {
		t.Errorf("unsigned request: %d, want 403 from the middleware", res.status)
	}
	// The SDK signs, so its requests pass.
	c := srv.EKS(t)
	createCluster(t, c, "c1")

	req, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader("Action=GetCallerIdentity"))
	req.Header.Set("Authorization", "x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if rid := resp.Header.Get("X-Amzn-RequestId"); resp.StatusCode != 200 || body.String() != "<sts/>"+rid {
		t.Errorf("extra route: %d %q (request ID %q)", resp.StatusCode, body.String(), rid)
	}

	req, _ = http.NewRequest("GET", srv.URL+"/boom", nil)
	req.Header.Set("Authorization", "x")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body.Reset()
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || resp.Header.Get("X-Amzn-ErrorType") != "ServerException" || strings.Contains(body.String(), "boom") {
		t.Errorf("panic: %d %q %s, want a 500 ServerException without the panic value", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body.String())
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Error("the panic was not logged")
	}
	if strings.Contains(logs.String(), "Authorization") || strings.Contains(logs.String(), "Action=") {
		t.Errorf("logs carry headers or bodies:\n%s", logs.String())
	}

	_, err = server.New(server.Config{Store: srv.Store, Routes: map[string]http.Handler{"GET /clusters": http.NotFoundHandler()}})
	if err == nil {
		t.Error("a route conflicting with an EKS route was accepted")
	}
}

func TestConfigValidation(t *testing.T) {
	err := server.Config{Region: "Mars", AccountID: "12", PublicURL: "ftp://x", MaxBodyBytes: -1}.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"region", "account ID", "public URL", "max body bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not report the %s", err, want)
		}
	}
	if err := (server.Config{}).Validate(); err != nil {
		t.Errorf("defaults rejected: %v", err)
	}
	if _, err := server.New(server.Config{}); err == nil || !strings.Contains(err.Error(), "store") {
		t.Errorf("New without a store: %v", err)
	}
}

// TestSDKErrorNotRetried: a modeled 4xx reaches the caller at once (the SDK
// does not retry it), so a failing call costs one request.
func TestSDKErrorNotRetried(t *testing.T) {
	var mu sync.Mutex
	n := 0
	srv := servertest.New(t, servertest.WithConfig(func(cfg *server.Config) {
		cfg.Authenticate = func(r *http.Request) (*http.Request, error) {
			mu.Lock()
			n++
			mu.Unlock()
			return r, nil
		}
	}))
	_, err := srv.EKS(t).DescribeCluster(context.Background(), &eks.DescribeClusterInput{Name: aws.String("none")})
	wantAPIError[*types.ResourceNotFoundException](t, err, "No cluster found")
	if n != 1 {
		t.Errorf("%d requests for one failing call, want 1", n)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var regexpMillis = regexp.MustCompile(`"createdAt":[0-9]+\.[0-9]{3}[,}].*"modifiedAt":[0-9]+\.[0-9]{3}[,}]`)
