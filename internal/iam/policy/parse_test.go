package policy_test

import (
	"errors"
	"testing"

	"github.com/podid/podid/internal/iam/policy"
)

// TestParseErrors: documents IAM refuses, with the MalformedPolicyDocument
// message AWS gives for each.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		kind policy.Kind
		doc  string
		want string
	}{
		{"not JSON", policy.Identity, `{"Version":`, policy.MsgSyntax},
		{"trailing data", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}} x`, policy.MsgSyntax},
		{"array", policy.Identity, `[]`, policy.MsgSyntax},
		{"no Statement", policy.Identity, `{"Version":"2012-10-17"}`, policy.MsgSyntax},
		{"empty Statement list", policy.Identity, `{"Version":"2012-10-17","Statement":[]}`, policy.MsgSyntax},
		{"unknown version", policy.Identity, `{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, policy.MsgSyntax},
		{"unknown top element", policy.Identity, `{"Version":"2012-10-17","Foo":1,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, policy.MsgSyntax},
		{"unknown statement element", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Foo":"x"}}`, policy.MsgSyntax},
		{"no Effect", policy.Identity, `{"Version":"2012-10-17","Statement":{"Action":"*","Resource":"*"}}`, policy.MsgSyntax},
		{"bad Effect", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Permit","Action":"*","Resource":"*"}}`, policy.MsgSyntax},
		{"Effect case", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"*","Resource":"*"}}`, policy.MsgLegacyParsing},
		{"Action and NotAction", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}}`, policy.MsgSyntax},
		{"Action not a string", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":1,"Resource":"*"}}`, policy.MsgSyntax},
		{"no Action", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}}`, policy.MsgNoActions},
		{"empty Action list", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}`, policy.MsgNoActions},
		{"no Resource", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*"}}`, policy.MsgNoResources},
		{"Principal in identity policy", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`, policy.MsgNoPrincipalAllowed},
		{"Principal in session policy", policy.Session, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`, policy.MsgNoPrincipalAllowed},
		{"duplicate Sid", policy.Identity, `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}]}`, policy.MsgSidUnique},
		{"Sid not alphanumeric", policy.Identity, `{"Version":"2012-10-17","Statement":{"Sid":"a-b","Effect":"Allow","Action":"*","Resource":"*"}}`, policy.MsgSidAlphanumeric},
		{"action without vendor", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"GetObject","Resource":"*"}}`, policy.MsgActionVendor},
		{"action with two colons", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:a:b","Resource":"*"}}`, policy.MsgActionColons},
		{"bad vendor", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s 3:Get","Resource":"*"}}`, "Vendor s 3 is not valid"},
		{"resource not an ARN", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"bucket"}}`, `Resource bucket must be in ARN format or "*".`},
		{"resource partition", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws-foo:s3:::b"}}`, `Partition "aws-foo" is not valid for resource "arn:aws-foo:s3:::b".`},
		{"IAM resource with region", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:iam:us-east-1:111122223333:role/x"}}`, "IAM resource arn:aws:iam:us-east-1:111122223333:role/x cannot contain region information."},
		{"unknown condition operator", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"a:b":"c"}}}}`, policy.MsgSyntax},
		{"condition value an object", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"a:b":{"c":1}}}}}`, policy.MsgSyntax},
		{"bad date", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}}`, policy.MsgLegacyParsing},
		{"trust without Principal", policy.Trust, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`, policy.MsgMissingPrincipal},
		{"trust with Resource", policy.Trust, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}}`, "Has prohibited field Resource"},
		{"trust with NotResource", policy.Trust, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","NotResource":"*"}}`, "Has prohibited field NotResource"},
		{"trust with a non-STS action", policy.Trust, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}}`, policy.MsgTrustActions},
		{"trust with a bad AWS principal", policy.Trust, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"sts:AssumeRole"}}`, `Invalid principal in policy: "AWS":"bob"`},
		{"trust with a wildcard in an ARN principal", policy.Trust, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/*"},"Action":"sts:AssumeRole"}}`, `Invalid principal in policy: "AWS":"arn:aws:iam::111122223333:role/*"`},
		{"trust with an unknown principal type", policy.Trust, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Robot":"x"},"Action":"sts:AssumeRole"}}`, `Invalid principal in policy: "Robot":"x"`},
		{"trust Principal string", policy.Trust, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"arn:aws:iam::111122223333:root","Action":"sts:AssumeRole"}}`, `Invalid principal in policy: "arn:aws:iam::111122223333:root"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := policy.Parse("p", c.doc, c.kind)
			var me *policy.MalformedError
			if !errors.As(err, &me) || !errors.Is(err, policy.ErrMalformed) {
				t.Fatalf("err = %v, want a MalformedError %q", err, c.want)
			}
			if me.Message != c.want {
				t.Errorf("message %q, want %q", me.Message, c.want)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	cases := []struct {
		name string
		kind policy.Kind
		doc  string
	}{
		{"no Version (2008-10-17)", policy.Identity, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`},
		{"2008-10-17", policy.Trust, `{"Version":"2008-10-17","Statement":[{"Sid":"","Effect":"Allow","Principal":{"Service":"ecs.amazonaws.com"},"Action":"sts:AssumeRole"}]}`},
		{"Id and Sids", policy.Identity, `{"Version":"2012-10-17","Id":"x-1","Statement":[{"Sid":"A1","Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"},{"Sid":"B2","Effect":"Deny","NotAction":"s3:*","NotResource":["arn:aws:s3:::b"]}]}`},
		{"empty block of an unknown operator", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Whatever":{}}}}`},
		{"all operators", policy.Identity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
			"StringEqualsIfExists":{"a:a":"x"},"ForAnyValue:StringLike":{"a:b":["x*"]},"ForAllValues:StringNotEqualsIgnoreCase":{"a:c":"y"},
			"NumericLessThanEqualsIfExists":{"a:d":1.5},"DateGreaterThanEquals":{"a:e":"2020-01-01T00:00:00Z"},"Bool":{"a:f":true},
			"BinaryEquals":{"a:g":"AAE="},"IpAddress":{"a:h":"10.0.0.0/8"},"NotIpAddressIfExists":{"a:i":"::1"},"ArnNotLike":{"a:j":"arn:aws:iam::*:role/*"},
			"Null":{"a:k":"true"}}}}`},
		{"trust: pods", policy.Trust, podsTrust},
		// As Terraform's aws_iam_policy_document renders it: indented, an empty Sid, lists everywhere.
		{"trust: Terraform's rendering", policy.Trust, `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "",
      "Effect": "Allow",
      "Action": [
        "sts:TagSession",
        "sts:AssumeRole"
      ],
      "Principal": {
        "Service": "pods.eks.amazonaws.com"
      },
      "Condition": {
        "StringEquals": {
          "aws:SourceAccount": "111122223333"
        },
        "ArnEquals": {
          "aws:SourceArn": [
            "arn:aws:eks:us-east-1:111122223333:cluster/dev"
          ]
        }
      }
    }
  ]
}`},
		{"trust: account, federated, NotPrincipal", policy.Trust, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::111122223333:root","arn:aws:sts::111122223333:assumed-role/r/s"]},"Action":"sts:AssumeRole"},
			{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/x"},"Action":"sts:AssumeRoleWithWebIdentity"},{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"sts:*"}]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := policy.Parse("p", c.doc, c.kind); err != nil {
				t.Errorf("Parse: %v", err)
			}
		})
	}
}

func TestPrincipalARNs(t *testing.T) {
	p := mustParse(t, "trust", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::111122223333:role/a","*"]},"Action":"sts:AssumeRole"},
		{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com","AWS":"arn:aws:iam::111122223333:user/u"},"Action":"sts:AssumeRole"}]}`, policy.Trust)
	got := p.PrincipalARNs()
	want := []string{"arn:aws:iam::111122223333:role/a", "arn:aws:iam::111122223333:user/u"}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("PrincipalARNs = %q, want %q", got, want)
	}
	if err := policy.InvalidPrincipal(want[0]); !errors.Is(err, policy.ErrMalformed) || err.(*policy.MalformedError).Message != `Invalid principal in policy: "AWS":"arn:aws:iam::111122223333:role/a"` {
		t.Errorf("InvalidPrincipal = %v", err)
	}
}
