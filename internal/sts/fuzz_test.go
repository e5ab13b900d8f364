package sts_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/sts"
	"github.com/podid/podid/internal/sts/stshttp"
)

// fuzzService has a random key: fuzzing workers are separate processes,
// so a token sealed by one never opens in another.
func fuzzService(f *testing.F) *sts.Service {
	key := make([]byte, sts.KeySize)
	rand.Read(key)
	svc, err := sts.New(sts.Config{AccountID: account, Keys: [][]byte{key}, Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	return svc
}

// FuzzQueryHandler feeds arbitrary form bodies to the STS endpoint (as the
// admin and as a session): it must answer with XML and never panic.
func FuzzQueryHandler(f *testing.F) {
	svc := fuzzService(f)
	out, err := svc.AssumeRole(context.Background(), sts.AssumeRoleInput{RoleARN: roleA, RoleSessionName: "fz",
		Tags: []sts.Tag{{Key: "t", Value: "v"}}, TransitiveTagKeys: []string{"t"}})
	if err != nil {
		f.Fatal(err)
	}
	sess, err := svc.Session(out.Credentials.SessionToken)
	if err != nil {
		f.Fatal(err)
	}
	ids := []*authz.Identity{{ARN: svc.RootARN(), Account: account, UserID: account}, sts.SessionIdentity(sess, out.Credentials.SessionToken)}
	for _, s := range []string{
		"Action=GetCallerIdentity&Version=2011-06-15",
		"Action=AssumeRole&Version=2011-06-15&RoleArn=" + url.QueryEscape(roleA) + "&RoleSessionName=s1&Tags.member.1.Key=a&Tags.member.1.Value=b&TransitiveTagKeys.member.1=a",
		"Action=AssumeRole&Version=2011-06-15&RoleArn=" + url.QueryEscape(roleA) + "&RoleSessionName=s1&Tags=&TransitiveTagKeys=&DurationSeconds=900&Policy=%7B%7D",
		"Action=AssumeRole&Version=2011-06-15&Tags.member.99999999999999999999.Key=x&Tags.member.-1.Value=y",
		"%zz&&==",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	// The caller is the admin, or the session when the request says so.
	h := httpx.New(httpx.Config{Logger: quiet, Authenticate: func(r *http.Request) (*http.Request, error) {
		id := ids[0]
		if r.Header.Get("X-Fuzz-Session") != "" {
			id = ids[1]
		}
		return r.WithContext(authz.WithIdentity(r.Context(), id)), nil
	}})
	if err := stshttp.Mount(h, svc, nil); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string, asSession bool) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		if asSession {
			req.Header.Set("X-Fuzz-Session", "1")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Header().Get("Content-Type") != "text/xml" || !strings.HasPrefix(rec.Body.String(), "<?xml") {
			t.Fatalf("status %d, non-XML answer %q", rec.Code, rec.Body.String())
		}
	})
}

// FuzzSessionToken: no input but a sealed token opens, nothing panics.
func FuzzSessionToken(f *testing.F) {
	svc := fuzzService(f)
	out, err := svc.AssumeRole(context.Background(), sts.AssumeRoleInput{RoleARN: roleA, RoleSessionName: "fz"})
	if err != nil {
		f.Fatal(err)
	}
	tok := out.Credentials.SessionToken
	for _, s := range []string{tok, tok[:len(tok)/2], "AQ", "", "!!!", strings.Repeat("A", 40), tok[:len(tok)-1] + "B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		sess, err := svc.Inspect(token)
		if err == nil && token != tok {
			t.Fatalf("forged token %q opened: %+v", token, sess)
		}
		_, _ = svc.Session(token)
		_, _ = svc.VerifyCredentials(sts.Credentials{AccessKeyID: "ASIAXXXXXXXXXXXXXXXX", SecretAccessKey: "x", SessionToken: token})
	})
}
