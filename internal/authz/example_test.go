package authz_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/podid/podid/internal/authz"
)

// Authorize with the identities authentication puts in a request's
// context: the admin identity may write the EKS API, a vended session may
// only read it.
func ExampleRules_Authorize() {
	admin := &authz.Identity{ARN: "arn:aws:iam::111122223333:root", Account: "111122223333"}
	pod := &authz.Identity{
		ARN: "arn:aws:sts::111122223333:assumed-role/app/eks-c1-web-1", Account: "111122223333",
		Session: &authz.Session{RoleARN: "arn:aws:iam::111122223333:role/app"},
	}
	const assoc = "arn:aws:eks:us-east-1:111122223333:podidentityassociation/c1/a-0123456789abcdefg"
	ctx := context.Background()
	var rules authz.Rules

	fmt.Println(rules.Authorize(ctx, admin, "eks:UpdatePodIdentityAssociation", assoc, nil))
	fmt.Println(rules.Authorize(ctx, pod, "eks:DescribePodIdentityAssociation", assoc, nil))
	fmt.Println(rules.Authorize(ctx, pod, "eks:UpdatePodIdentityAssociation", assoc, nil))
	// Output:
	// <nil>
	// <nil>
	// User: arn:aws:sts::111122223333:assumed-role/app/eks-c1-web-1 is not authorized to perform: eks:UpdatePodIdentityAssociation on resource: arn:aws:eks:us-east-1:111122223333:podidentityassociation/c1/a-0123456789abcdefg
}

// Check reads the caller from the request context; a handler maps the
// *DeniedError to its protocol's AccessDenied.
func ExampleCheck() {
	ctx := authz.WithIdentity(context.Background(), &authz.Identity{
		ARN: "arn:aws:sts::111122223333:assumed-role/app/s1", Session: &authz.Session{},
	})
	err := authz.Check(ctx, authz.Rules{}, authz.ActionMintToken, "arn:aws:eks:us-east-1:111122223333:cluster/c1", nil)
	var denied *authz.DeniedError
	fmt.Println(errors.As(err, &denied), errors.Is(err, authz.ErrDenied), denied.Action)
	// Output:
	// true true podid:MintToken
}
