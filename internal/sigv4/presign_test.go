package sigv4_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/podid/podid/internal/sts"
)

// presigned builds a request presigned with the SDK's signer
// (Signer.PresignHTTP), as the AWS CLI's presign and EKS tokens are: the
// signature and the other X-Amz-* parameters in the query, expires (""
// for none) as X-Amz-Expires, hdr signed and sent as headers (X-Amz-*
// ones hoisted into the query, unless opts say otherwise).
func presigned(t *testing.T, c sts.Credentials, method, rawURL, body, service, payloadHash, expires string, at time.Time, hdr map[string]string, opts ...func(*v4.SignerOptions)) *http.Request {
	t.Helper()
	if expires != "" {
		sep := "?"
		if strings.Contains(rawURL, "?") {
			sep = "&"
		}
		rawURL += sep + "X-Amz-Expires=" + expires
	}
	req, err := http.NewRequest(method, rawURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	uri, signedHdr, err := v4.NewSigner().PresignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken},
		req, payloadHash, service, "us-west-2", at, opts...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := http.NewRequest(method, uri, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range signedHdr {
		if k != "Host" {
			out.Header[k] = v
		}
	}
	return out
}

// withQuery returns r with its query changed by edit (the signature kept).
func withQuery(r *http.Request, edit func(url.Values)) *http.Request {
	q := r.URL.Query()
	edit(q)
	r.URL.RawQuery = q.Encode()
	return r
}

// TestPresigned: requests signed in their query string, as `aws eks
// get-token`'s presigned STS GetCallerIdentity URL and the AWS CLI's
// presign are, are verified like header-signed ones; tampered, expired and
// malformed ones are refused in AWS's shapes.
func TestPresigned(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	vended, err := e.svc.AssumeRole(ctx, sts.AssumeRoleInput{RoleARN: "arn:aws:iam::111122223333:role/r1", RoleSessionName: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	gci := e.srv.URL + "/?Action=GetCallerIdentity&Version=2011-06-15"
	k8s := map[string]string{"x-k8s-aws-id": "dev"}
	empty := sha256hex("")
	now := time.Now()
	token := func(c sts.Credentials, at time.Time, expires string) *http.Request {
		return presigned(t, c, "GET", gci, "", "sts", empty, expires, at, k8s)
	}
	tests := []answerCase{
		{"EKS token as admin", func() *http.Request { return token(e.admin, now, "60") },
			200, "<Arn>arn:aws:iam::111122223333:root</Arn>"},
		{"EKS token of a session", func() *http.Request { return token(vended.Credentials, now, "60") },
			200, "<Arn>" + vended.AssumedRoleARN + "</Arn>"},
		{"no X-Amz-Expires, within the clock skew", func() *http.Request { return token(e.admin, now.Add(-time.Minute), "") },
			200, "<GetCallerIdentityResult>"},
		{"signed an hour ago, valid for a day", func() *http.Request { return token(e.admin, now.Add(-time.Hour), "86400") },
			200, "<GetCallerIdentityResult>"},
		{"UNSIGNED-PAYLOAD", func() *http.Request {
			return presigned(t, e.admin, "GET", gci, "", "sts", "UNSIGNED-PAYLOAD", "60", now, k8s)
		}, 200, "<GetCallerIdentityResult>"},
		{"session token as a signed header", func() *http.Request {
			c := vended.Credentials
			c.SessionToken = ""
			r := presigned(t, c, "GET", gci, "", "sts", empty, "60", now, map[string]string{"X-Amz-Security-Token": vended.Credentials.SessionToken},
				func(o *v4.SignerOptions) { o.DisableHeaderHoisting = true })
			if r.URL.Query().Has("X-Amz-Security-Token") || r.Header.Get("X-Amz-Security-Token") == "" {
				t.Fatalf("token not in a header alone: %s %v", r.URL, r.Header)
			}
			return r
		}, 200, "<Arn>" + vended.AssumedRoleARN + "</Arn>"},
		{"presigned EKS API call", func() *http.Request {
			return presigned(t, e.admin, "GET", e.srv.URL+"/clusters/c1", "", "eks", empty, "300", now, nil)
		}, 200, `"name":"c1"`},
		{"presigned POST with its body", func() *http.Request {
			return presigned(t, e.admin, "POST", e.srv.URL+"/", "Action=GetCallerIdentity&Version=2011-06-15", "sts",
				sha256hex("Action=GetCallerIdentity&Version=2011-06-15"), "60", now, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		}, 200, "<GetCallerIdentityResult>"},

		{"expired", func() *http.Request { return token(e.admin, now.Add(-2*time.Minute), "60") },
			403, "<Code>AccessDenied</Code><Message>Request has expired</Message>"},
		{"expired EKS API call", func() *http.Request {
			return presigned(t, e.admin, "GET", e.srv.URL+"/clusters/c1", "", "eks", empty, "60", now.Add(-2*time.Minute), nil)
		}, 403, `"__type":"AccessDeniedException"`},
		{"no X-Amz-Expires, older than the clock skew", func() *http.Request { return token(e.admin, now.Add(-10*time.Minute), "") },
			403, "<Code>SignatureDoesNotMatch</Code><Message>Signature expired: "},
		{"signed in the future", func() *http.Request { return token(e.admin, now.Add(10*time.Minute), "60") },
			403, "<Message>Signature not yet current: "},
		{"expires longer than a week", func() *http.Request { return token(e.admin, now, "604801") },
			400, "<Code>IncompleteSignature</Code><Message>X-Amz-Expires must be less than a week (in seconds) that is 604800</Message>"},
		{"expires not a number", func() *http.Request { return token(e.admin, now, "soon") },
			400, "<Message>X-Amz-Expires should be a number</Message>"},
		{"expires negative", func() *http.Request { return token(e.admin, now, "-1") },
			400, "<Message>X-Amz-Expires must be non-negative</Message>"},
		{"cluster header changed", func() *http.Request {
			r := token(e.admin, now, "60")
			r.Header.Set("x-k8s-aws-id", "prod")
			return r
		}, 403, "<Code>SignatureDoesNotMatch</Code><Message>" + sts.MsgSignatureMismatch},
		{"signed header missing", func() *http.Request {
			r := token(e.admin, now, "60")
			r.Header.Del("x-k8s-aws-id")
			return r
		}, 403, "<Code>SignatureDoesNotMatch</Code>"},
		{"action changed", func() *http.Request {
			return withQuery(token(e.admin, now, "60"), func(q url.Values) { q.Set("Action", "AssumeRole") })
		}, 403, "<Code>SignatureDoesNotMatch</Code>"},
		{"parameter added", func() *http.Request {
			return withQuery(token(e.admin, now, "60"), func(q url.Values) { q.Set("RoleArn", "arn:aws:iam::111122223333:role/admin") })
		}, 403, "<Code>SignatureDoesNotMatch</Code>"},
		{"expiry lengthened", func() *http.Request {
			return withQuery(token(e.admin, now.Add(-2*time.Minute), "60"), func(q url.Values) { q.Set("X-Amz-Expires", "3600") })
		}, 403, "<Code>SignatureDoesNotMatch</Code>"},
		{"session token dropped", func() *http.Request {
			return withQuery(token(vended.Credentials, now, "60"), func(q url.Values) { q.Del("X-Amz-Security-Token") })
		}, 403, "<Code>InvalidClientTokenId</Code>"},
		{"another session's token", func() *http.Request {
			other, err := e.svc.AssumeRole(ctx, sts.AssumeRoleInput{RoleARN: "arn:aws:iam::111122223333:role/r2", RoleSessionName: "s2"})
			if err != nil {
				t.Fatal(err)
			}
			return withQuery(token(vended.Credentials, now, "60"), func(q url.Values) { q.Set("X-Amz-Security-Token", other.Credentials.SessionToken) })
		}, 403, "<Code>InvalidClientTokenId</Code>"},
		{"wrong secret", func() *http.Request {
			bad := e.admin
			bad.SecretAccessKey = strings.Repeat("A", 40)
			return token(bad, now, "60")
		}, 403, "<Code>SignatureDoesNotMatch</Code>"},
		{"signed for another service", func() *http.Request {
			return presigned(t, e.admin, "GET", gci, "", "eks", empty, "60", now, k8s)
		}, 403, "<Message>Credential should be scoped to correct service: &#39;sts&#39;. </Message>"},
		{"POST body changed (UNSIGNED-PAYLOAD does not cover a body)", func() *http.Request {
			r := presigned(t, e.admin, "POST", e.srv.URL+"/", "", "sts", "UNSIGNED-PAYLOAD", "60", now,
				map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
			body := "Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::111122223333:role/r1&RoleSessionName=x"
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
			return r
		}, 403, "<Code>SignatureDoesNotMatch</Code>"},
		{"signature missing", func() *http.Request {
			return withQuery(token(e.admin, now, "60"), func(q url.Values) { q.Del("X-Amz-Signature") })
		}, 400, "<Code>IncompleteSignature</Code><Message>AWS query-string parameters must include"},
		{"signature twice", func() *http.Request {
			return withQuery(token(e.admin, now, "60"), func(q url.Values) { q.Add("X-Amz-Signature", strings.Repeat("0", 64)) })
		}, 400, "<Code>IncompleteSignature</Code>"},
		{"date malformed", func() *http.Request {
			return withQuery(token(e.admin, now, "60"), func(q url.Values) { q.Set("X-Amz-Date", "yesterday") })
		}, 400, "<Message>Invalid X-Amz-Date &#39;yesterday&#39;"},
	}
	e.expectAnswers(t, tests)
}
