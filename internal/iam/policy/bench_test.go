package policy_test

import (
	"testing"

	"github.com/podid/podid/internal/iam/policy"
)

// BenchmarkAuthorizeAssumeRole: the first hop of a credential request
// (the pod identity trust policy with confused-deputy conditions, for
// sts:AssumeRole and sts:TagSession), as the credential path runs it.
func BenchmarkAuthorizeAssumeRole(b *testing.B) {
	trust := mustParse(b, "trust", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},
		"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"aws:SourceAccount":"111122223333",
		"aws:RequestTag/kubernetes-namespace":"default"},"ArnLike":{"aws:SourceArn":"arn:aws:eks:*:111122223333:cluster/*"}}}]}`, policy.Trust)
	ctx := policy.Context{
		"aws:SourceAccount": {"111122223333"}, "aws:SourceArn": {"arn:aws:eks:us-east-1:111122223333:cluster/dev"},
		"aws:RequestTag/eks-cluster-arn": {"arn:aws:eks:us-east-1:111122223333:cluster/dev"}, "aws:RequestTag/eks-cluster-name": {"dev"},
		"aws:RequestTag/kubernetes-namespace": {"default"}, "aws:RequestTag/kubernetes-service-account": {"app"},
		"aws:RequestTag/kubernetes-pod-name": {"app-1"}, "aws:RequestTag/kubernetes-pod-uid": {"6b7d"},
		"aws:TagKeys": {"eks-cluster-arn", "eks-cluster-name", "kubernetes-namespace", "kubernetes-service-account", "kubernetes-pod-name", "kubernetes-pod-uid"},
	}
	reqs := []policy.Request{
		{Principal: policy.Principal{Service: "pods.eks.amazonaws.com"}, Action: "sts:AssumeRole", Resource: roleARN, Context: ctx},
		{Principal: policy.Principal{Service: "pods.eks.amazonaws.com"}, Action: "sts:TagSession", Resource: roleARN, Context: ctx},
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range reqs {
			if !policy.AuthorizeAssumeRole(&reqs[i], trust, nil).Allowed() {
				b.Fatal("denied")
			}
		}
	}
}

// BenchmarkEvaluateIdentity: a role session's call checked against five
// identity policies (one with a variable) and a session policy.
func BenchmarkEvaluateIdentity(b *testing.B) {
	var ids []*policy.Policy
	for _, d := range []string{
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::data/${aws:PrincipalTag/kubernetes-namespace}/*"}}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sqs:*","Resource":"arn:aws:sqs:*:111122223333:q-*"}}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"eks:Describe*","Resource":"*"},{"Effect":"Allow","Action":"eks:List*","Resource":"*"}]}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}`,
	} {
		ids = append(ids, mustParse(b, "p", d, policy.Identity))
	}
	sess := []*policy.Policy{mustParse(b, "session", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`, policy.Session)}
	req := &policy.Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::data/prod/k",
		Principal: policy.Principal{ARN: sessARN, RoleARN: callerRl},
		Context:   policy.Context{"aws:PrincipalTag/kubernetes-namespace": {"prod"}, "aws:SecureTransport": {"true"}}}
	b.ReportAllocs()
	for b.Loop() {
		if !(policy.Caller{Identity: ids, Session: sess}).Evaluate(req).Allowed() {
			b.Fatal("denied")
		}
	}
}

// BenchmarkParse: compiling a trust policy (done once per write or cache fill).
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := policy.Parse("trust", podsTrust, policy.Trust); err != nil {
			b.Fatal(err)
		}
	}
}
