// Package sts is podid's Security Token Service's rules and sessions:
// temporary credentials for assumed roles (with session tags, transitive
// tags carried across role chaining, external IDs and session policies),
// sealed into session tokens any replica holding the shared key opens.
// Its errors (*Error) carry STS's codes and messages. The awsQuery endpoint
// is package stshttp; the client of a real STS, package upstream.
package sts

import (
	"context"
	"time"
)

// Tag is a session tag.
type Tag struct {
	Key   string
	Value string
}

// Credentials are temporary (or, for the admin identity, long-term) AWS
// credentials.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// AssumeRoleInput is one role assumption.
type AssumeRoleInput struct {
	RoleARN         string
	RoleSessionName string
	DurationSeconds int32 // 0: STS's default (3600)
	ExternalID      string
	Policy          string
	// PolicyARNs are managed session policies: recorded in the session
	// and, with --iam enforce, evaluated as session policies beside Policy.
	PolicyARNs []string
	Tags       []Tag
	// TransitiveTagKeys lists the keys of Tags that pass on to sessions
	// assumed from this one.
	TransitiveTagKeys []string
	// Caller is whose credentials make the call. Nil means the EKS service
	// principal pods.eks.amazonaws.com (the first assumption of EKS Auth);
	// set it to the first session's credentials to chain.
	Caller *Credentials
	// Principal names a long-term caller when Caller is nil (the admin
	// identity calling the STS endpoint, e.g. arn:aws:iam::ACCOUNT:root).
	// Empty means the EKS service principal. It is recorded in the session.
	Principal string
	// SourceContext is free-form context recorded in the session (for
	// EKS Auth: the node name, instance ID and zone the agent sent).
	SourceContext map[string]string
	// SourceARN is, for an assumption made by a service principal, the
	// resource it acts for (aws:SourceArn in the trust policy's context):
	// the cluster's ARN for EKS Auth's first assumption.
	SourceARN string
	// CallerLogs says the caller logs the vended session itself (EKS
	// Auth's one line per credential request names the role, the access
	// key ID and the expiration): STS's own line goes at debug level.
	CallerLogs bool
}

// Assumption is a role assumption as the RoleAuthorizer sees it: STS's
// member and tag rules have accepted it, nothing is vended yet.
type Assumption struct {
	RoleARN         string
	RoleSessionName string
	ExternalID      string
	// Caller is the calling session when a session's credentials make the
	// call (role chaining); nil otherwise.
	Caller *Session
	// Principal is the long-term caller's ARN (a user, the account root)
	// when Caller is nil; "" means the service principal
	// EKSServicePrincipal.
	Principal string
	// SourceARN is AssumeRoleInput.SourceARN.
	SourceARN string
	// Tags are the new session's tags: inherited transitive tags first,
	// then the requested ones. Any tag needs sts:TagSession.
	Tags []Tag
}

// RoleAuthorizer decides role assumptions with the role's trust policy
// and the caller's identity policies (podid's IAM, package enforce). It
// returns nil to allow, an *authz.DeniedError to refuse, another error
// when it could not decide.
type RoleAuthorizer interface {
	AuthorizeAssumeRole(ctx context.Context, a Assumption) error
}

// AssumeRoleOutput is the result of a role assumption.
type AssumeRoleOutput struct {
	Credentials Credentials
	// AssumedRoleARN is arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION.
	AssumedRoleARN string
	// AssumedRoleID is ROLEID:SESSION.
	AssumedRoleID    string
	PackedPolicySize int
}

// Error is an STS error: its code (AccessDenied, ValidationError,
// ExpiredToken, MalformedPolicyDocument, PackedPolicyTooLarge, ...), HTTP
// status, and message as AWS words it.
type Error struct {
	Code    string
	Status  int
	Message string

	// Err is what the error stands for, if anything: a sentinel
	// (ErrInvalidToken, ErrExpiredToken) or an upstream STS's error.
	Err error
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }
