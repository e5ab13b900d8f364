package policy

import (
	"fmt"
	"strings"
)

// Context holds a request's condition keys (aws:SourceArn,
// aws:PrincipalTag/team, sts:ExternalId, ...) and their values, each a list
// (one value for a single-valued key, any number for aws:TagKeys). Keys are
// matched case-insensitively, as AWS does; values keep their case. Numbers,
// dates (RFC 3339 or epoch seconds) and booleans ("true"/"false") are
// written as strings.
type Context map[string][]string

// Keys gives a request's condition keys: a Context, or a type that
// derives each key when a policy asks for it (so that a request whose
// policies name few keys does not build them all). Get compares keys
// case-insensitively, as Context.Get does.
type Keys interface {
	Get(key string) ([]string, bool)
}

// get looks key up in ks; a nil Keys has none.
func get(ks Keys, key string) ([]string, bool) {
	if ks == nil {
		return nil, false
	}
	return ks.Get(key)
}

// Get returns the values of key, compared case-insensitively.
func (c Context) Get(key string) ([]string, bool) {
	if v, ok := c[key]; ok {
		return v, true
	}
	for k, v := range c {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// Principal is who makes a request, as a resource-based (trust) policy
// sees it.
type Principal struct {
	// ARN is the caller's ARN as GetCallerIdentity reports it: a user
	// (arn:aws:iam::ACCOUNT:user/PATH/NAME), the account root
	// (arn:aws:iam::ACCOUNT:root), or a role session
	// (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION). Empty for a service.
	ARN string
	// RoleARN is, for a role session, the role's ARN with its path
	// (arn:aws:iam::ACCOUNT:role/PATH/ROLE): a trust policy naming the role
	// matches its sessions.
	RoleARN string
	// Service is the service principal for a call made by an AWS service
	// (pods.eks.amazonaws.com); ARN is then empty.
	Service string
}

// Account returns the principal's account ID (empty for a service).
func (p Principal) Account() string {
	return arnAccount(p.ARN)
}

// IsAnonymous reports whether the principal is unset.
func (p Principal) IsAnonymous() bool { return p.ARN == "" && p.Service == "" }

func (p Principal) String() string {
	if p.Service != "" {
		return p.Service
	}
	return p.ARN
}

// arnAccount returns the account field of an ARN
// (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE), or "".
func arnAccount(arn string) string {
	rest := arn
	for range 4 {
		i := strings.IndexByte(rest, ':')
		if i < 0 {
			return ""
		}
		rest = rest[i+1:]
	}
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		return rest[:i]
	}
	return ""
}

// Request is one authorization question: may Principal perform Action on
// Resource, in Context. Identity policies ignore Principal.
type Request struct {
	Principal Principal
	// Action is "service:Operation" (sts:AssumeRole); compared
	// case-insensitively.
	Action string
	// Resource is the ARN acted on; "*" for actions without a resource.
	Resource string
	// Context is the request's condition keys (nil: none).
	Context Keys
}

// Decision is the outcome of an evaluation.
type Decision uint8

const (
	// ImplicitDeny: no statement allowed the request (the default).
	ImplicitDeny Decision = iota
	// Allow: a statement allowed it and none denied it.
	Allow
	// ExplicitDeny: a Deny statement matched; it wins over any Allow.
	ExplicitDeny
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	default:
		return "ImplicitDeny"
	}
}

// PrincipalMatch says how a resource-based policy's Allow statement named
// the caller; the assume-role rule (AuthorizeAssumeRole) depends on it.
type PrincipalMatch uint8

const (
	// NoPrincipal: the statement has no Principal (identity policies).
	NoPrincipal PrincipalMatch = iota
	// MatchedARN: the caller's own ARN (a user's, a role session's).
	MatchedARN
	// MatchedAccount: the caller's account ("AWS": "ACCOUNT" or
	// arn:aws:iam::ACCOUNT:root), delegating to its identity policies.
	MatchedAccount
	// MatchedService: a service principal.
	MatchedService
	// MatchedWildcard: "*" or {"AWS": "*"}, or a NotPrincipal not naming
	// the caller.
	MatchedWildcard
	// MatchedRole: the role of the caller's session (its role ARN), which
	// AWS matches to the role's sessions.
	MatchedRole
)

// Result is an evaluation's decision and what decided it.
type Result struct {
	Decision Decision
	// Action is the request's action.
	Action string
	// Policy names the deciding policy (Allow or ExplicitDeny); Statement
	// is the 0-based index of the deciding statement in it and Sid its Sid.
	Policy    string
	Statement int
	Sid       string
	// Scope names the policy set that decided (ScopeIdentity, ScopeSession,
	// ScopeTrust), so an implicit deny can say where no statement allowed.
	Scope string
	// Principal is how the deciding Allow statement of a resource-based
	// policy matched the caller.
	Principal PrincipalMatch
}

// The Scope of a Result.
const (
	ScopeIdentity = "identity"
	ScopeSession  = "session"
	ScopeBoundary = "boundary"
	ScopeTrust    = "trust"
)

// Allowed reports whether the decision is Allow.
func (r Result) Allowed() bool { return r.Decision == Allow }

// String describes the result for logs, the audit trail and explain:
//
//	allowed by Statement[0] (Sid "AllowPods") of policy "app-trust"
//	denied by Statement[1] of policy "deny-prod"
//	no statement allowed sts:TagSession
//	no statement of the session policy allowed s3:GetObject
//	no statement of the permissions boundary allowed s3:GetObject
func (r Result) String() string {
	switch r.Decision {
	case Allow:
		return "allowed by " + r.where()
	case ExplicitDeny:
		return "denied by " + r.where()
	}
	switch r.Scope {
	case ScopeSession:
		return "no statement of the session policy allowed " + r.Action
	case ScopeBoundary:
		return "no statement of the permissions boundary allowed " + r.Action
	case ScopeTrust:
		return "no statement of the trust policy allowed " + r.Action
	}
	return "no statement allowed " + r.Action
}

func (r Result) where() string {
	s := fmt.Sprintf("Statement[%d]", r.Statement)
	if r.Sid != "" {
		s += fmt.Sprintf(" (Sid %q)", r.Sid)
	}
	return s + fmt.Sprintf(" of policy %q", r.Policy)
}
