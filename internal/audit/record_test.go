package audit

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/httpx"
)

func TestScrub(t *testing.T) {
	in := map[string]any{
		"token": "eyJ.a.b", "clientRequestToken": "idem-1", "nextToken": "p2", "name": "dev",
		"nested":    map[string]any{"SecretAccessKey": "s", "SessionToken": "t", "Password": "p", "keep": "k"},
		"list":      []any{map[string]any{"signature": "x", "ok": 1}},
		"TokenCode": "123456",
	}
	want := map[string]any{
		"token": Hidden, "clientRequestToken": "idem-1", "nextToken": "p2", "name": "dev",
		"nested":    map[string]any{"SecretAccessKey": Hidden, "SessionToken": Hidden, "Password": Hidden, "keep": "k"},
		"list":      []any{map[string]any{"signature": Hidden, "ok": 1}},
		"TokenCode": Hidden,
	}
	if diff := cmp.Diff(Scrub(in), any(want)); diff != "" {
		t.Errorf("Scrub (-got +want):\n%s", diff)
	}
}

func TestFormLeavesOutPresignedParameters(t *testing.T) {
	r := httptest.NewRequest("POST", "/?X-Amz-Signature=abc&X-Amz-Security-Token=tok&X-Amz-Credential=AKID%2F20261205", strings.NewReader(""))
	form := formOf(r, httpx.Completed{Family: httpx.STS, Body: []byte("Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&RoleSessionName=s")})
	if got := form.Encode(); got != "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&RoleSessionName=s" {
		t.Errorf("form = %s", got)
	}
	if got := signingKey(r); got != "AKID" {
		t.Errorf("signingKey = %q, want AKID", got)
	}
}

func TestRecorded(t *testing.T) {
	cases := []struct {
		method, op string
		fam        *httpx.Family
		rec, ro    bool
	}{
		{"POST", "AssumeRoleForPodIdentity", httpx.EKSAuth, true, false},
		{"POST", "GetCallerIdentity", httpx.STS, true, true},
		{"POST", "CreatePodIdentityAssociation", httpx.EKS, true, false},
		{"GET", "DescribePodIdentityAssociation", httpx.EKS, false, false},
		{"POST", "ListRoles", &httpx.Family{Name: "iam"}, false, false},
		{"POST", "CreateAccessKey", &httpx.Family{Name: "iam"}, true, false},
		{"GET", "GetIssuer", httpx.Admin, true, true},
		{"GET", "", httpx.OIDC, false, false},
		{"POST", "", httpx.EKS, false, false}, // the host's 404
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, "/", nil)
		rec, ro := recorded(r, httpx.Completed{Family: c.fam, Routed: true}, c.op)
		if rec != c.rec || ro != c.ro {
			t.Errorf("recorded(%s %s, %s) = %v, %v; want %v, %v", c.method, c.op, c.fam.Name, rec, ro, c.rec, c.ro)
		}
	}
}

func TestIdentityOf(t *testing.T) {
	r := httptest.NewRequest("POST", "/", nil)
	id := &authz.Identity{ARN: "arn:aws:sts::1:assumed-role/app/eks-dev-pod", Account: "1", AccessKeyID: "ASIA1",
		Session: &authz.Session{RoleARN: "arn:aws:iam::1:role/app", Token: "SECRET-SESSION-TOKEN"}}
	u := identityOf(r.WithContext(authz.WithIdentity(r.Context(), id)))
	if u.Type != "AssumedRole" || u.SessionContext == nil || u.SessionContext.SessionIssuer.UserName != "app" || username(u) != "eks-dev-pod" {
		t.Errorf("identity = %+v", u)
	}
	if b, _ := json.Marshal(u); strings.Contains(string(b), "SECRET-SESSION-TOKEN") {
		t.Errorf("the identity holds the session token: %+v", u)
	}
}
