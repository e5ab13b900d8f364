package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/podid/podid/internal/servertest"
)

// fuzzServer is a server with cluster c1 and one association in it.
func fuzzServer(f *testing.F) (http.Handler, string) {
	srv := servertest.New(f)
	c := srv.EKS(f)
	createCluster(f, c, "c1")
	out := createAssoc(f, c, "c1", "ns", "sa")
	return srv.Server.Handler(), aws.ToString(out.AssociationId)
}

// serveFuzz sends one request to h and checks the wire invariants: never
// a 5xx (a panic or an unmapped error), always a request ID, a JSON body on
// success, and an AWS-shaped JSON error otherwise.
func serveFuzz(t *testing.T, h http.Handler, method, path, rawQuery, body string) {
	t.Helper()
	req := &http.Request{
		Method: method,
		URL:    &url.URL{Path: path, RawQuery: rawQuery},
		Header: http.Header{},
		Host:   "podid.test",
	}
	if body != "" {
		req.Body = readCloser{strings.NewReader(body)}
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", "application/json")
	}
	req = req.WithContext(t.Context())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	res := rec.Result()
	if res.StatusCode >= 500 {
		t.Fatalf("%s %q?%q body %q: status %d: %s", method, path, rawQuery, body, res.StatusCode, rec.Body.Bytes())
	}
	if res.Header.Get("X-Amzn-RequestId") == "" {
		t.Errorf("no X-Amzn-RequestId")
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("%s %q?%q body %q: status %d, body not a JSON object: %q", method, path, rawQuery, body, res.StatusCode, rec.Body.Bytes())
	}
	if res.StatusCode == http.StatusOK {
		return
	}
	code := res.Header.Get("X-Amzn-ErrorType")
	if typ, _ := doc["__type"].(string); code == "" || typ != code {
		t.Errorf("%s %q: X-Amzn-ErrorType %q, __type %v", method, path, code, doc["__type"])
	}
	if _, ok := doc["message"].(string); !ok {
		t.Errorf("%s %q: no message string in %q", method, path, rec.Body.Bytes())
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

// FuzzRequest throws arbitrary methods, paths, queries and bodies at the
// whole handler.
func FuzzRequest(f *testing.F) {
	h, id := fuzzServer(f)
	arn := "arn:aws:eks:us-east-1:000000000000:podidentityassociation/c1/" + id
	seeds := []struct{ method, path, query, body string }{
		{"GET", "/clusters", "", ""},
		{"GET", "/clusters", "maxResults=2&include=all", ""},
		{"POST", "/clusters", "", `{"name":"fz","roleArn":"arn:aws:iam::000000000000:role/r","resourcesVpcConfig":{}}`},
		{"POST", "/clusters", "", `{"name":"fz2","roleArn":"arn:aws:iam::000000000000:role/r","resourcesVpcConfig":{"subnetIds":[1]}}`},
		{"GET", "/clusters/c1", "", ""},
		{"DELETE", "/clusters/nope", "", ""},
		{"GET", "/clusters/c1/pod-identity-associations", "maxResults=1&namespace=ns", ""},
		{"GET", "/clusters/c1/pod-identity-associations", "nextToken=eyJ2IjoxLCJhIjoieCIsIm0iOiIifQ", ""},
		{"POST", "/clusters/c1/pod-identity-associations", "", `{"namespace":"a","serviceAccount":"b","roleArn":"arn:aws:iam::000000000000:role/r","tags":{"k":"v"}}`},
		{"GET", "/clusters/c1/pod-identity-associations/" + id, "", ""},
		{"POST", "/clusters/c1/pod-identity-associations/" + id, "", `{"targetRoleArn":"","policy":"{}","disableSessionTags":true}`},
		{"DELETE", "/clusters/c1/pod-identity-associations/a-00000000000000000", "", ""},
		{"POST", "/tags/" + arn, "", `{"tags":{"a":"b"}}`},
		{"DELETE", "/tags/" + arn, "tagKeys=a&tagKeys=b", ""},
		{"GET", "/tags/" + arn, "", ""},
		{"PUT", "/clusters/c1", "", "{"},
		{"GET", "/healthz", "", ""},
		{"GET", "//..//x", "", ""},
		{"POST", "/clusters/c1/pod-identity-associations", "", `{"namespace":null,"tags":null}`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, s.body)
	}
	f.Fuzz(func(t *testing.T, method, path, query, body string) {
		if method == "" || strings.ContainsAny(method, " \t\r\n") || len(body) > 1<<16 {
			t.Skip()
		}
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		serveFuzz(t, h, method, path, query, body)
	})
}

// FuzzAssociationBodies fuzzes the JSON bodies and path labels of the
// association writes, where most of the validation lives.
func FuzzAssociationBodies(f *testing.F) {
	h, id := fuzzServer(f)
	for _, s := range []struct {
		update  bool
		cluster string
		body    string
	}{
		{false, "c1", `{"namespace":"ns2","serviceAccount":"sa","roleArn":"arn:aws:iam::000000000000:role/r"}`},
		{false, "c1", `{"namespace":"ns3","serviceAccount":"s.a","roleArn":"arn:aws:iam::000000000000:role/p/r","targetRoleArn":"arn:aws:iam::111122223333:role/t","disableSessionTags":true,"policy":"{\"Version\":\"2012-10-17\"}","clientRequestToken":"t1","tags":{"a":""}}`},
		{false, "c1", `{"namespace":"NS","serviceAccount":"","roleArn":"x"}`},
		{false, "c1", `{"namespace":["x"]}`},
		{false, "c1", `{"tags":{"aws:x":"y"}}`},
		{false, "no-such", `{"namespace":"a","serviceAccount":"b","roleArn":"arn:aws:iam::000000000000:role/r"}`},
		{true, "c1", `{"roleArn":"arn:aws:iam::000000000000:role/other"}`},
		{true, "c1", `{"targetRoleArn":""}`},
		{true, "c1", `{"policy":"","disableSessionTags":false}`},
		{true, "c1", `{"disableSessionTags":1}`},
		{true, "c1", `{}`},
		{true, "c1", `{"roleArn":"arn:aws:iam::000000000000:role/r","clientRequestToken":"` + strings.Repeat("t", 300) + `"}`},
	} {
		f.Add(s.update, s.cluster, s.body)
	}
	f.Fuzz(func(t *testing.T, update bool, cluster, body string) {
		if len(body) > 1<<16 {
			t.Skip()
		}
		path := "/clusters/" + url.PathEscape(cluster) + "/pod-identity-associations"
		if update {
			path += "/" + id
		}
		serveFuzz(t, h, "POST", path, "", body)
	})
}

// FuzzPageToken: any nextToken is a page or an InvalidParameterException.
func FuzzPageToken(f *testing.F) {
	h, _ := fuzzServer(f)
	for _, s := range []string{"", "x", "eyJ2IjoxLCJhIjoiYS0wIiwibSI6IkFBQUEifQ", "eyJ2Ijoy", "%%%", strings.Repeat("A", 3000)} {
		f.Add(s, "1")
	}
	f.Fuzz(func(t *testing.T, token, maxResults string) {
		q := url.Values{"nextToken": {token}, "maxResults": {maxResults}}
		serveFuzz(t, h, "GET", "/clusters/c1/pod-identity-associations", q.Encode(), "")
		serveFuzz(t, h, "GET", "/clusters", q.Encode(), "")
	})
}
