package authz_test

import (
	"context"
	"errors"
	"testing"

	"github.com/podid/podid/internal/authz"
)

func TestRules(t *testing.T) {
	ctx := context.Background()
	admin := &authz.Identity{ARN: "arn:aws:iam::111122223333:root"}
	session := &authz.Identity{ARN: "arn:aws:sts::111122223333:assumed-role/r/s", Session: &authz.Session{}}
	const cluster = "arn:aws:eks:us-east-1:111122223333:cluster/c1"
	for _, tt := range []struct {
		id      *authz.Identity
		action  string
		allowed bool
	}{
		{admin, "eks:UpdatePodIdentityAssociation", true},
		{admin, authz.ActionMintToken, true},
		{admin, "eks-auth:AssumeRoleForPodIdentity", true},
		{session, "sts:AssumeRole", true},
		{session, "sts:GetCallerIdentity", true},
		{session, "eks:DescribeCluster", true},
		{session, "eks:ListPodIdentityAssociations", true},
		{session, authz.ActionGetIssuer, true},
		{session, authz.ActionWait, true},
		{session, "eks:CreatePodIdentityAssociation", false},
		{session, "iam:PassRole", false},
		{session, "eks-auth:AssumeRoleForPodIdentity", false},
		{session, authz.ActionMintToken, false},
		{session, authz.ActionSetIssuer, false},
		{session, authz.ActionInspectSession, false},
		{nil, "eks:DescribeCluster", false},
	} {
		err := authz.Rules{}.Authorize(ctx, tt.id, tt.action, cluster, nil)
		if got := err == nil; got != tt.allowed {
			t.Errorf("%v %s: %v, want allowed=%v", tt.id, tt.action, err, tt.allowed)
		}
		if err != nil && !errors.Is(err, authz.ErrDenied) {
			t.Errorf("%v %s: %v is not ErrDenied", tt.id, tt.action, err)
		}
	}
	err := authz.Rules{}.Authorize(ctx, nil, "eks:DescribeCluster", cluster, nil)
	if want := "The request is not authenticated: it is not authorized to perform: eks:DescribeCluster on resource: " + cluster; err == nil || err.Error() != want {
		t.Errorf("no identity: %v, want %q", err, want)
	}
}

func TestCheckWithoutAuthorizer(t *testing.T) {
	if err := authz.Check(context.Background(), nil, "eks:DeleteCluster", "*", nil); err != nil {
		t.Errorf("nil Authorizer: %v, want every caller allowed", err)
	}
}

func TestRequestTags(t *testing.T) {
	if got := authz.RequestTags(nil); got != nil {
		t.Errorf("no tags: %v", got)
	}
	got := authz.RequestTags(map[string]string{"team": "a"})
	if v := got["aws:RequestTag/team"]; len(v) != 1 || v[0] != "a" {
		t.Errorf("aws:RequestTag/team = %v", v)
	}
	if v := got["aws:TagKeys"]; len(v) != 1 || v[0] != "team" {
		t.Errorf("aws:TagKeys = %v", v)
	}
}

// TestWithCaller: WithCaller's context answers as WithIdentity,
// WithRegion (unless "") and WithSecureTransport (if secure) would, over
// a parent that carries a region and TLS of its own or none.
func TestWithCaller(t *testing.T) {
	id := &authz.Identity{ARN: "arn:aws:iam::111122223333:root"}
	parents := map[string]context.Context{
		"bare":   context.Background(),
		"marked": authz.WithSecureTransport(authz.WithRegion(authz.WithIdentity(context.Background(), &authz.Identity{}), "eu-west-1")),
	}
	for name, parent := range parents {
		for _, caller := range []*authz.Identity{nil, id} {
			for _, region := range []string{"", "us-west-2"} {
				for _, secure := range []bool{false, true} {
					want := authz.WithIdentity(parent, caller)
					if region != "" {
						want = authz.WithRegion(want, region)
					}
					if secure {
						want = authz.WithSecureTransport(want)
					}
					got := authz.WithCaller(parent, caller, region, secure)
					gotID, gotOK := authz.FromContext(got)
					wantID, wantOK := authz.FromContext(want)
					if gotID != wantID || gotOK != wantOK {
						t.Errorf("%s, %v, %q, %v: identity %v %v, want %v %v", name, caller, region, secure, gotID, gotOK, wantID, wantOK)
					}
					if g, w := authz.Region(got, "fallback"), authz.Region(want, "fallback"); g != w {
						t.Errorf("%s, %v, %q, %v: region %q, want %q", name, caller, region, secure, g, w)
					}
					if g, w := authz.SecureTransport(got), authz.SecureTransport(want); g != w {
						t.Errorf("%s, %v, %q, %v: secure transport %v, want %v", name, caller, region, secure, g, w)
					}
				}
			}
		}
	}
}
