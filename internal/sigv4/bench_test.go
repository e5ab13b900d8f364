package sigv4_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/sts"
)

// benchVerify measures authentication on one signed EKS Auth-sized request
// (signature recomputed with the SDK signer, body hashed and restored).
func benchVerify(b *testing.B, c sts.Credentials, svc *sts.Service, admin sts.Credentials) {
	auth := sigv4.New(sigv4.Config{Admin: admin, AccountID: account, Sessions: svc, Logger: quiet})
	h := authenticated(auth, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	body := `{"token":"` + strings.Repeat("x", 900) + `"}`
	tb := &testing.T{}
	req := signed(tb, c, "POST", "http://podid.test/clusters/c1/assume-role-for-pod-identity", body, "eks-auth", time.Now(), map[string]string{"Content-Type": "application/json"})
	hdr := req.Header.Clone()
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "http://podid.test/clusters/c1/assume-role-for-pod-identity", strings.NewReader(body))
		r.Header = hdr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != 204 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func benchSetup(b *testing.B) (*sts.Service, sts.Credentials) {
	svc, err := sts.New(sts.Config{AccountID: account, Keys: [][]byte{make([]byte, sts.KeySize)}, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	admin, err := sigv4.NewAdminCredentials()
	if err != nil {
		b.Fatal(err)
	}
	return svc, admin
}

// BenchmarkVerifyAdmin: a request signed with the admin's long-term keys.
func BenchmarkVerifyAdmin(b *testing.B) {
	svc, admin := benchSetup(b)
	benchVerify(b, admin, svc, admin)
}

// BenchmarkVerifySession: a request signed with vended session credentials
// (the token is opened on every request).
func BenchmarkVerifySession(b *testing.B) {
	svc, admin := benchSetup(b)
	out, err := svc.AssumeRole(context.Background(), sts.AssumeRoleInput{RoleARN: "arn:aws:iam::111122223333:role/r1", RoleSessionName: "s1"})
	if err != nil {
		b.Fatal(err)
	}
	benchVerify(b, out.Credentials, svc, admin)
}

var _ = io.Discard

// BenchmarkParseAuthorization: the Authorization header of an SDK's
// request, parsed on every request (with --auth none too, for its region
// and key ID).
func BenchmarkParseAuthorization(b *testing.B) {
	h := "AWS4-HMAC-SHA256 Credential=AKIDPODIDBENCH/20261205/us-west-2/eks/aws4_request, " +
		"SignedHeaders=accept-encoding;amz-sdk-invocation-id;amz-sdk-request;host;x-amz-date, " +
		"Signature=" + strings.Repeat("0123456789abcdef", 4)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sigv4.ParseAuthorization(h); err != nil {
			b.Fatal(err)
		}
	}
}
