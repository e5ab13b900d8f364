package policy_test

import (
	"testing"

	"github.com/podid/podid/internal/iam/policy"
)

var fuzzSeeds = []string{
	podsTrust,
	`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::b/${aws:username}/*"}}`,
	`{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Deny","NotAction":["iam:*","sts:?ag*"],"NotResource":"arn:aws:iam::*:role/${aws:PrincipalTag/x, 'd'}${*}"}]}`,
	`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::111122223333:role/r"],"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole",
		"Condition":{"ForAllValues:StringLike":{"aws:TagKeys":["eks-*"]},"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:eks:*:*:cluster/*"},"NumericLessThan":{"n":3},
		"DateGreaterThan":{"aws:CurrentTime":"2020-01-01"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Null":{"sts:ExternalId":"false"},"Bool":{"b":true}}}}`,
	`{"Statement":{"Effect":"Allow","NotPrincipal":"*","Action":"*"}}`,
	`{"Version":"2012-10-17","Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}`,
	`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLike":{"k":"${a}${b, 'c'}${${}}*?*"}}}}`,
}

// FuzzParse: any document, any kind, never panics; an accepted document
// evaluates without panicking for a spread of requests.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		for k := range 3 {
			f.Add(s, uint8(k))
		}
	}
	f.Fuzz(func(t *testing.T, doc string, kind uint8) {
		p, err := policy.Parse("fuzz", doc, policy.Kind(kind%3))
		if err != nil {
			return
		}
		for _, req := range fuzzRequests {
			policy.Evaluate(&req, p)
			c := policy.Caller{Identity: []*policy.Policy{p}, Boundary: p, Session: []*policy.Policy{p}}
			policy.AuthorizeAssumeRole(&req, p, func(limitsOnly bool) policy.Result {
				if limitsOnly {
					return c.EvaluateLimits(&req)
				}
				return c.Evaluate(&req)
			})
		}
	})
}

var fuzzRequests = []policy.Request{
	{Action: "sts:AssumeRole", Resource: roleARN, Principal: policy.Principal{Service: "pods.eks.amazonaws.com"},
		Context: policy.Context{"aws:TagKeys": {"eks-a", "b"}, "aws:SourceArn": {"arn:aws:eks:us-east-1:111122223333:cluster/c"}, "n": {"2"},
			"aws:CurrentTime": {"2026-01-01T00:00:00Z"}, "aws:SourceIp": {"10.1.1.1"}, "b": {"true"}, "aws:username": {"u*?"}, "aws:PrincipalTag/x": {"${x}"}}},
	{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/u/k", Principal: policy.Principal{ARN: sessARN, RoleARN: callerRl},
		Context: policy.Context{"k": {"", "\xff"}, "aws:CurrentTime": {"garbage"}, "aws:SourceIp": {"::1"}, "n": {"NaN"}}},
	{Action: "", Resource: "", Principal: policy.Principal{ARN: "arn:aws:iam::1:user/"}},
}

// FuzzEvaluate: a fixed set of policies against arbitrary requests.
func FuzzEvaluate(f *testing.F) {
	var ps []*policy.Policy
	for _, s := range fuzzSeeds {
		for _, k := range []policy.Kind{policy.Identity, policy.Trust} {
			if p, err := policy.Parse("seed", s, k); err == nil {
				ps = append(ps, p)
			}
		}
	}
	if len(ps) < 4 {
		f.Fatalf("only %d seeds parse", len(ps))
	}
	f.Add("sts:AssumeRole", roleARN, sessARN, "", "aws:TagKeys", "eks-x")
	f.Add("s3:GetObject", "arn:aws:s3:::b/u/k", "", "pods.eks.amazonaws.com", "aws:username", "u")
	f.Fuzz(func(t *testing.T, action, resource, arn, service, key, value string) {
		req := policy.Request{Action: action, Resource: resource, Principal: policy.Principal{ARN: arn, Service: service},
			Context: policy.Context{key: {value, value + "*"}, "aws:CurrentTime": {value}, "aws:SourceIp": {value}, "n": {value}}}
		for _, p := range ps {
			r := policy.Evaluate(&req, p)
			_ = r.String()
			policy.EvaluateTrust(&req, p)
		}
	})
}
