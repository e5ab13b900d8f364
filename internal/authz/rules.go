package authz

import "context"

// SessionActions are the actions a vended session (an assumed role) may
// perform under Rules; the admin identity may perform every action. podid
// has no IAM and cannot evaluate a role's policies, so a session gets what
// a pod with typical permissions has: STS (role chaining,
// GetCallerIdentity) and the reads of the EKS API and of podid's admin API,
// which change nothing and reveal nothing a pod could abuse. Writes to the
// EKS API would let a pod point its own association at another role
// (privilege escalation with an upstream STS);
// eks-auth:AssumeRoleForPodIdentity is the node agent's, made with the
// admin identity; minting tokens, setting issuers and inspecting sessions
// are the admin's.
var SessionActions = map[string]bool{
	"sts:AssumeRole":                     true,
	"sts:GetCallerIdentity":              true,
	"eks:DescribeCluster":                true,
	"eks:ListClusters":                   true,
	"eks:DescribePodIdentityAssociation": true,
	"eks:ListPodIdentityAssociations":    true,
	"eks:ListTagsForResource":            true,
	"eks:DescribeClusterVersions":        true,
	"eks:DescribeAddon":                  true,
	"eks:ListAddons":                     true,
	"eks:DescribeAddonVersions":          true,
	ActionGetIssuer:                      true,
	ActionWait:                           true,
}

// podid's own actions (its admin API under /podid/v1/).
const (
	ActionMintToken      = "podid:MintToken"      // on the cluster's ARN
	ActionGetIssuer      = "podid:GetIssuer"      // on the cluster's ARN
	ActionSetIssuer      = "podid:SetIssuer"      // on the cluster's ARN
	ActionWait           = "podid:Wait"           // on the association's or cluster's ARN, or "*"
	ActionInspectSession = "podid:InspectSession" // on "*"
	ActionExplain        = "podid:Explain"        // on the association's or cluster's ARN
)

// Rules is podid's policy without IAM (--iam off): the admin identity may
// do everything, a vended session or an IAM user only SessionActions. The rules are the
// same with --auth none: a request made with vended credentials is its
// session's. A request without identity is refused.
type Rules struct{}

// Authorize implements Authorizer.
func (Rules) Authorize(_ context.Context, id *Identity, action, resource string, _ map[string][]string) error {
	if id == nil {
		return &DeniedError{Action: action, Resource: resource}
	}
	if id.IsAdmin() || SessionActions[action] {
		return nil
	}
	return &DeniedError{Principal: id.ARN, Action: action, Resource: resource}
}
