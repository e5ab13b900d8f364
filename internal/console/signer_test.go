package console_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// vector is one request signed by both signers.
type vector struct {
	Method      string            `json:"method"`
	Host        string            `json:"host"`
	Path        string            `json:"path"` // as sent: percent-encoded
	Query       [][2]string       `json:"query"`
	Headers     map[string]string `json:"headers"`
	Body        string            `json:"body"`
	Credentials struct {
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
		SessionToken    string `json:"sessionToken,omitempty"`
	} `json:"credentials"`
	Region  string `json:"region"`
	Service string `json:"service"`
	Date    string `json:"date"`
}

type signed struct {
	RawQuery string            `json:"rawQuery"`
	Headers  map[string]string `json:"headers"`
}

func vectors() []vector {
	base := func(method, path, service string) vector {
		v := vector{Method: method, Host: "127.0.0.1:8080", Path: path, Region: "us-east-1", Service: service,
			Date: "2026-12-05T06:30:00Z", Headers: map[string]string{}}
		v.Credentials.AccessKeyID = "AKIAIOSFODNN7EXAMPLE"
		v.Credentials.SecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
		return v
	}
	list := base("GET", "/clusters", "eks")
	list.Query = [][2]string{{"maxResults", "100"}, {"nextToken", "abc+/=="}}

	create := base("POST", "/clusters/web/pod-identity-associations", "eks")
	create.Headers["Content-Type"] = "application/json"
	create.Body = `{"namespace":"défault","serviceAccount":"app","roleArn":"arn:aws:iam::000000000000:role/app"}`

	untag := base("DELETE", "/tags/arn%3Aaws%3Aeks%3Aus-east-1%3A000000000000%3Apodidentityassociation%2Fweb%2Fa-0123456789abcdefg", "eks")
	untag.Query = [][2]string{{"tagKeys", "team"}, {"tagKeys", "app"}, {"tagKeys", "a b*c~'!()"}}

	sts := base("POST", "/", "sts")
	sts.Headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
	sts.Body = "Action=GetCallerIdentity&Version=2011-06-15"
	sts.Credentials.AccessKeyID = "ASIAEXAMPLESESSION01"
	sts.Credentials.SessionToken = "FwoGZXIvYXdzEB0aDExampleSessionToken+/=="

	trail := base("POST", "/", "cloudtrail")
	trail.Region = "eu-west-3"
	trail.Headers["Content-Type"] = "application/x-amz-json-1.1"
	trail.Headers["X-Amz-Target"] = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
	trail.Body = `{"MaxResults":50,"StartTime":1796452200}`

	odd := base("GET", "/clusters/a%20b/pod-identity-associations", "eks")
	odd.Host = "podid.example:443"
	odd.Query = [][2]string{{"b", "2"}, {"a", "ü é"}, {"A", ""}, {"namespace", "kube-system"}}
	odd.Headers["X-Amz-Meta-Note"] = "  two   spaces  "

	admin := base("POST", "/podid/v1/explain", "podid")
	admin.Body = `{"clusterName":"web","podName":"p"}`

	return []vector{list, create, untag, sts, trail, odd, admin}
}

// TestSignerMatchesSDK signs fixed requests with the console's signer
// (run in node, the same module the browser loads) and with
// aws-sdk-go-v2's signer, which podid's SigV4 check uses, and wants the
// same headers. The browser test (ci/console) checks that podid serve
// accepts the console's signatures.
func TestSignerMatchesSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the console's signer (static/js/sigv4.js) runs in node for this test")
	}
	vs := vectors()
	in, err := json.Marshal(vs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "testdata/sign.mjs")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node testdata/sign.mjs: %v\n%s", err, stderr.Bytes())
	}
	var got []signed
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decoding the node signer's output: %v\n%s", err, out)
	}
	if len(got) != len(vs) {
		t.Fatalf("node signed %d requests, want %d", len(got), len(vs))
	}
	for i, v := range vs {
		t.Run(v.Method+" "+v.Path, func(t *testing.T) {
			want := sdkSign(t, v, got[i].RawQuery)
			for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
				if g, w := got[i].Headers[h], want.Get(h); g != w {
					t.Errorf("%s:\n got %q\nwant %q", h, g, w)
				}
			}
		})
	}
}

// sdkSign signs v with the AWS SDK as podid's check re-signs it: the
// request as sent, with only the headers the console signs (x-amz-*; the
// signer adds host), no Content-Length.
func sdkSign(t *testing.T, v vector, rawQuery string) http.Header {
	t.Helper()
	url := "http://" + v.Host + v.Path
	if rawQuery != "" {
		url += "?" + rawQuery
	}
	req, err := http.NewRequest(v.Method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, val := range v.Headers {
		if len(k) > 6 && (k[:6] == "X-Amz-" || k[:6] == "x-amz-") {
			req.Header.Set(k, val)
		}
	}
	when, err := time.Parse(time.RFC3339, v.Date)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(v.Body))
	creds := aws.Credentials{AccessKeyID: v.Credentials.AccessKeyID, SecretAccessKey: v.Credentials.SecretAccessKey,
		SessionToken: v.Credentials.SessionToken}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), v.Service, v.Region, when); err != nil {
		t.Fatal(err)
	}
	return req.Header
}
