package sigv4

import (
	"context"
	"fmt"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/sts"
)

// SessionActions are the actions a vended session (an assumed role) may
// perform; the admin identity may perform every action. podid has no IAM
// and cannot evaluate a role's policies, so a session gets what a pod
// with typical permissions has: STS (role chaining, GetCallerIdentity)
// and the EKS API's reads, which change nothing and reveal nothing a pod
// could abuse. Writes to the EKS API would let a pod point its own
// association at another role (privilege escalation with an upstream
// STS); eks-auth:AssumeRoleForPodIdentity is the node agent's, made with
// the admin identity. podid's admin API under /podid/v1/ refuses sessions
// itself, except its reads (GET /podid/v1/wait, GET .../issuer).
var SessionActions = map[string]bool{
	"sts:AssumeRole":                     true,
	"sts:GetCallerIdentity":              true,
	"eks:DescribeCluster":                true,
	"eks:ListClusters":                   true,
	"eks:DescribePodIdentityAssociation": true,
	"eks:ListPodIdentityAssociations":    true,
	"eks:ListTagsForResource":            true,
}

// Authorize is podid's authorization policy (a server.Authorizer and an
// eksauth.Authorizer): nil when the identity the Middleware put in ctx may
// perform action on resourceARN, else a 403 AccessDeniedException worded
// as AWS words it: "User: ARN is not authorized to perform: ACTION on
// resource: RESOURCE". A context without an identity (no Middleware in
// front) is refused. The rules are the same with ModeNone: a request made
// with vended credentials is its session's.
func Authorize(ctx context.Context, action, resourceARN string) error {
	id, ok := sts.IdentityFrom(ctx)
	if !ok {
		return eksapi.NewError(eksapi.CodeAccessDenied, fmt.Sprintf(
			"The request is not authenticated: it is not authorized to perform: %s on resource: %s", action, resourceARN))
	}
	if id.IsAdmin() || SessionActions[action] {
		return nil
	}
	return eksapi.NewError(eksapi.CodeAccessDenied, fmt.Sprintf(
		"User: %s is not authorized to perform: %s on resource: %s", id.ARN, action, resourceARN))
}
