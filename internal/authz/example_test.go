package sigv4_test

import (
	"context"
	"fmt"

	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/sts"
)

// Authorize with the identities the middleware puts in a request's
// context: the admin identity may write the EKS API, a vended session
// may only read it.
func ExampleAuthorize() {
	admin := sts.WithIdentity(context.Background(), &sts.Identity{ARN: "arn:aws:iam::111122223333:root", Account: "111122223333"})
	pod := sts.WithIdentity(context.Background(), sts.SessionIdentity(&sts.Session{
		RoleARN: "arn:aws:iam::111122223333:role/app", RoleSessionName: "eks-c1-web-1", Partition: "aws", Account: "111122223333",
	}))
	const assoc = "arn:aws:eks:us-east-1:111122223333:podidentityassociation/c1/a-0123456789abcdefg"

	fmt.Println(sigv4.Authorize(admin, "eks:UpdatePodIdentityAssociation", assoc))
	fmt.Println(sigv4.Authorize(pod, "eks:DescribePodIdentityAssociation", assoc))
	fmt.Println(sigv4.Authorize(pod, "eks:UpdatePodIdentityAssociation", assoc))
	// Output:
	// <nil>
	// <nil>
	// AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/app/eks-c1-web-1 is not authorized to perform: eks:UpdatePodIdentityAssociation on resource: arn:aws:eks:us-east-1:111122223333:podidentityassociation/c1/a-0123456789abcdefg
}
