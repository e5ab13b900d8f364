package policy_test

import (
	"fmt"

	"github.com/podid/podid/internal/iam/policy"
)

// The first hop of EKS Pod Identity: the association role's trust policy
// must let the EKS service assume the role and tag the session.
func Example() {
	trust, err := policy.Parse("app-trust", `{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Sid": "AllowEksAuthToAssumeRoleForPodIdentity",
	    "Effect": "Allow",
	    "Principal": {"Service": "pods.eks.amazonaws.com"},
	    "Action": ["sts:AssumeRole"],
	    "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}}
	  }]
	}`, policy.Trust)
	if err != nil {
		panic(err)
	}
	req := &policy.Request{
		Principal: policy.Principal{Service: "pods.eks.amazonaws.com"},
		Action:    "sts:AssumeRole",
		Resource:  "arn:aws:iam::111122223333:role/app",
		Context: policy.Context{
			"aws:SourceAccount": {"111122223333"},
			"aws:SourceArn":     {"arn:aws:eks:us-east-1:111122223333:cluster/dev"},
		},
	}
	fmt.Println(policy.AuthorizeAssumeRole(req, trust, nil))
	req.Action = "sts:TagSession"
	fmt.Println(policy.AuthorizeAssumeRole(req, trust, nil))

	_, err = policy.Parse("bad", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`, policy.Trust)
	fmt.Println(err)
	// Output:
	// allowed by Statement[0] (Sid "AllowEksAuthToAssumeRoleForPodIdentity") of policy "app-trust"
	// no statement of the trust policy allowed sts:TagSession
	// malformed policy document: Missing required field Principal
}
