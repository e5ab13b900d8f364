package enforce_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/iam/enforce"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
	"github.com/podid/podid/internal/sts"
)

const (
	account    = "111122223333"
	clusterARN = "arn:aws:eks:us-east-1:111122223333:cluster/dev"
)

func roleARN(name string) string { return "arn:aws:iam::" + account + ":role/" + name }

// The documented minimal trust policy of an association role, limited to
// the cluster's account and ARN (the confused-deputy conditions).
const podsTrust = `{"Version":"2012-10-17","Statement":[{"Sid":"Pods","Effect":"Allow",
 "Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"],
 "Condition":{"StringEquals":{"aws:SourceAccount":"111122223333","aws:SourceArn":"` + clusterARN + `"}}}]}`

const podsTrustNoTags = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

const targetTrust = `{"Version":"2012-10-17","Statement":[{"Sid":"FromApp","Effect":"Allow",
 "Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":["sts:AssumeRole","sts:TagSession"],
 "Condition":{"StringEquals":{"sts:ExternalId":"ext-1"}}}]}`

func newEnforcer(t *testing.T) (*enforce.Enforcer, *sqlite.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "podid.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := enforce.New(enforce.Config{Store: st, AccountID: account, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	if err := e.Start(cctx); err != nil {
		t.Fatal(err)
	}
	return e, st
}

func createRole(t *testing.T, st store.IAM, name, trust string, inline map[string]string) {
	t.Helper()
	_, err := st.CreateRole(context.Background(), store.Role{Name: name, Path: "/", ID: "AROA" + strings.ToUpper(name),
		ARN: roleARN(name), AssumeRolePolicy: trust, Policies: inline, CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
}

func sixTags(cluster string) []sts.Tag {
	return []sts.Tag{{Key: "eks-cluster-arn", Value: "arn:aws:eks:us-east-1:111122223333:cluster/" + cluster},
		{Key: "eks-cluster-name", Value: cluster}, {Key: "kubernetes-namespace", Value: "default"},
		{Key: "kubernetes-service-account", Value: "app"}, {Key: "kubernetes-pod-name", Value: "p"},
		{Key: "kubernetes-pod-uid", Value: "u"}}
}

func TestAssumeRoleHops(t *testing.T) {
	e, st := newEnforcer(t)
	createRole(t, st, "app", podsTrust, nil)
	createRole(t, st, "notags", podsTrustNoTags, nil)
	createRole(t, st, "target", targetTrust, nil)
	createRole(t, st, "other", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`, nil)
	appSession := &sts.Session{RoleARN: roleARN("app"), RoleSessionName: "s", Partition: "aws", Account: account,
		Tags: sixTags("dev"), TransitiveTagKeys: []string{"eks-cluster-arn"}}
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		a       sts.Assumption
		allowed bool
		reason  string
	}{
		{"first hop with tags", sts.Assumption{RoleARN: roleARN("app"), RoleSessionName: "s", SourceARN: clusterARN, Tags: sixTags("dev")}, true, `allowed by Statement[0] (Sid "Pods")`},
		{"first hop from another cluster", sts.Assumption{RoleARN: roleARN("app"), RoleSessionName: "s", SourceARN: "arn:aws:eks:us-east-1:111122223333:cluster/prod", Tags: sixTags("prod")}, false, "no statement of the trust policy allowed sts:AssumeRole"},
		{"missing sts:TagSession", sts.Assumption{RoleARN: roleARN("notags"), RoleSessionName: "s", SourceARN: clusterARN, Tags: sixTags("dev")}, false, "no statement of the trust policy allowed sts:TagSession"},
		{"no tags, no sts:TagSession needed", sts.Assumption{RoleARN: roleARN("notags"), RoleSessionName: "s", SourceARN: clusterARN}, true, "allowed"},
		{"wrong service principal", sts.Assumption{RoleARN: roleARN("other"), RoleSessionName: "s", SourceARN: clusterARN}, false, "no statement of the trust policy allowed sts:AssumeRole"},
		{"missing role", sts.Assumption{RoleARN: roleARN("nope"), RoleSessionName: "s", SourceARN: clusterARN}, false, "does not exist"},
		{"another account's role", sts.Assumption{RoleARN: "arn:aws:iam::999988887777:role/app", RoleSessionName: "s", SourceARN: clusterARN}, false, "does not exist"},
		{"target hop", sts.Assumption{RoleARN: roleARN("target"), RoleSessionName: "s", ExternalID: "ext-1", Caller: appSession, Tags: sixTags("dev")}, true, `Sid "FromApp"`},
		{"target hop, external ID mismatch", sts.Assumption{RoleARN: roleARN("target"), RoleSessionName: "s", ExternalID: "ext-2", Caller: appSession, Tags: sixTags("dev")}, false, "no statement of the trust policy allowed sts:AssumeRole"},
		{"target not trusting", sts.Assumption{RoleARN: roleARN("app"), RoleSessionName: "s", Caller: appSession}, false, "no statement of the trust policy allowed sts:AssumeRole"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, err := e.DecideAssumeRole(ctx, tt.a)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != tt.allowed || !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("got allowed=%v %q, want allowed=%v with %q", d.Allowed, d.Reason, tt.allowed, tt.reason)
			}
			err = e.AuthorizeAssumeRole(ctx, tt.a)
			var denied *authz.DeniedError
			if got := errors.As(err, &denied); got == tt.allowed {
				t.Errorf("AuthorizeAssumeRole: %v", err)
			}
			if denied != nil && denied.Reason != d.Reason {
				t.Errorf("DeniedError.Reason %q, want %q", denied.Reason, d.Reason)
			}
		})
	}
}

func TestIdentityPolicies(t *testing.T) {
	e, st := newEnforcer(t)
	readOnly := map[string]string{"read": `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["eks:Describe*","eks:List*"],"Resource":"*"},
		{"Sid":"NoProd","Effect":"Deny","Action":"eks:*","Resource":"arn:aws:eks:*:*:cluster/prod"}]}`}
	createRole(t, st, "reader", podsTrust, readOnly)
	ctx := context.Background()
	session := &authz.Identity{ARN: "arn:aws:sts::111122223333:assumed-role/reader/s", Account: account,
		Session: &authz.Session{RoleARN: roleARN("reader")}}
	root := &authz.Identity{ARN: "arn:aws:iam::111122223333:root", Account: account}
	withPolicy := &authz.Identity{ARN: session.ARN, Session: &authz.Session{RoleARN: roleARN("reader"),
		Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"eks:ListClusters","Resource":"*"}]}`}}
	for _, tt := range []struct {
		name     string
		id       *authz.Identity
		action   string
		resource string
		reason   string // "" allowed
	}{
		{"root", root, "eks:DeletePodIdentityAssociation", "*", ""},
		{"session reads", session, "eks:DescribeCluster", clusterARN, ""},
		{"session writes", session, "eks:CreatePodIdentityAssociation", clusterARN, "no statement allowed eks:CreatePodIdentityAssociation"},
		{"explicit deny", session, "eks:DescribeCluster", "arn:aws:eks:us-east-1:111122223333:cluster/prod", `denied by Statement[1] (Sid "NoProd") of policy "read"`},
		{"session policy narrows", withPolicy, "eks:DescribeCluster", clusterARN, "no statement of the session policy allowed eks:DescribeCluster"},
		{"session policy and role allow", withPolicy, "eks:ListClusters", "*", ""},
		{"the node's keys cannot mint tokens", session, authz.ActionMintToken, clusterARN, "no statement allowed podid:MintToken"},
		{"no identity", nil, "eks:ListClusters", "*", "unauthenticated"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := e.Authorize(ctx, tt.id, tt.action, tt.resource, nil)
			var denied *authz.DeniedError
			switch {
			case tt.reason == "" && err != nil:
				t.Errorf("got %v, want allowed", err)
			case tt.reason == "":
			case !errors.As(err, &denied):
				t.Errorf("got %v, want a *DeniedError", err)
			case tt.id == nil:
			case !strings.Contains(denied.Reason, tt.reason):
				t.Errorf("reason %q, want %q", denied.Reason, tt.reason)
			case denied.Error() != "User: "+tt.id.ARN+" is not authorized to perform: "+tt.action+" on resource: "+tt.resource:
				t.Errorf("message %q", denied.Error())
			}
		})
	}
}

// A trust policy fixed a moment ago decides the next request: a refusal
// re-reads the IAM revision before it stands.
func TestFixIsInEffectAtOnce(t *testing.T) {
	e, st := newEnforcer(t)
	ctx := context.Background()
	a := sts.Assumption{RoleARN: roleARN("app"), RoleSessionName: "s", SourceARN: clusterARN, Tags: sixTags("dev")}
	if d, _ := e.DecideAssumeRole(ctx, a); d.Allowed || !d.RoleMissing {
		t.Fatalf("before the role exists: %+v", d)
	}
	createRole(t, st, "app", podsTrustNoTags, nil)
	if d, _ := e.DecideAssumeRole(ctx, a); d.Allowed || d.Action != "sts:TagSession" {
		t.Fatalf("trust without sts:TagSession: %+v", d)
	}
	if _, err := st.UpdateRole(ctx, "app", func(r *store.Role) error { r.AssumeRolePolicy = podsTrust; return nil }); err != nil {
		t.Fatal(err)
	}
	if d, err := e.DecideAssumeRole(ctx, a); err != nil || !d.Allowed {
		t.Fatalf("after the fix: %+v, %v", d, err)
	}
}

func TestExplainPodIdentity(t *testing.T) {
	e, st := newEnforcer(t)
	createRole(t, st, "app", podsTrust, nil)
	createRole(t, st, "target", targetTrust, nil)
	ctx := context.Background()
	req := enforce.PodRequest{ClusterARN: clusterARN, RoleARN: roleARN("app"), TargetRoleARN: roleARN("target"),
		ExternalID: "ext-2", SessionName: "eks-dev-p-1", Tags: sixTags("dev")}
	x, err := e.ExplainPodIdentity(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if x.Allowed || x.Hop != enforce.HopTarget || x.Decision != "ImplicitDeny" || len(x.Hops) != 2 || !x.Hops[0].Allowed {
		t.Errorf("external ID mismatch: %+v", x)
	}
	req.ExternalID = "ext-1"
	x, err = e.ExplainPodIdentity(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !x.Allowed || x.Policy != enforce.TrustPolicyName("target") || x.Sid != "FromApp" || x.StatementIndex == nil ||
		!strings.Contains(string(x.Statement), "sts:ExternalId") {
		t.Errorf("allowed: %+v", x)
	}
}
