// Package authz is who is calling podid and whether they may: the caller's
// Identity (established by authentication, carried in the request
// context) and the one Authorizer every handler asks before it acts.
//
// Every check is an action on a resource, as IAM names them:
// "eks:UpdatePodIdentityAssociation" on an association ARN,
// "eks-auth:AssumeRoleForPodIdentity" on a cluster ARN, "podid:MintToken"
// on a cluster ARN. A handler passes the request's condition keys
// (aws:RequestTag/KEY, aws:TagKeys, ...) along, so a policy engine that
// evaluates identity policies can replace Rules without touching any
// handler.
package authz

import "context"

// Identity is the authenticated caller of a request: podid's admin
// identity (Session and User nil), an IAM user (User set) or a session
// podid's STS vended (Session set).
type Identity struct {
	// ARN: arn:aws:iam::ACCOUNT:root for the admin identity,
	// arn:aws:iam::ACCOUNT:user/PATH/NAME for a user,
	// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION for a session.
	ARN     string
	Account string
	// UserID is what GetCallerIdentity reports as UserId: the account ID
	// for the root, the user's ID (AIDA...) for a user, ROLEID:SESSION for
	// a session.
	UserID      string
	AccessKeyID string
	// Session is the vended session the request was made with; nil for
	// the admin identity and IAM users.
	Session *Session
	// User is the IAM user whose long-term access key (AKIA...) made the
	// request; nil for the admin identity and sessions.
	User *User
}

// User is what an Identity knows of the IAM user behind it.
type User struct {
	Name string
	Path string // "/" or "/a/b/"
	ID   string // "AIDA..."
}

// Session is what an Identity knows of the vended session behind it.
type Session struct {
	// RoleARN is the assumed role (arn:aws:iam::ACCOUNT:role/NAME).
	RoleARN string
	// Tags are the session tags (the principal's tags to IAM).
	Tags map[string]string
	// Token is the session token the request carried; STS opens it again
	// to chain a role assumption from the session.
	Token string
	// Policy is the session policy passed to AssumeRole ("" for none): the
	// session may do only what both it and the role's policies allow.
	Policy string
	// PolicyARNs are the managed session policies passed to AssumeRole
	// (PolicyArns): session policies as Policy is.
	PolicyARNs []string
}

// IsAdmin reports whether the identity is podid's admin identity.
func (i *Identity) IsAdmin() bool { return i.Session == nil && i.User == nil }

type identityKey struct{}

// WithIdentity returns ctx carrying id (the authentication middleware
// calls it).
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the identity the authentication middleware put in
// ctx; ok is false when there is none.
func FromContext(ctx context.Context) (id *Identity, ok bool) {
	id, ok = ctx.Value(identityKey{}).(*Identity)
	return id, ok && id != nil
}

type regionKey struct{}

// WithRegion returns ctx carrying the region of the request's SigV4
// signing scope (the authentication middleware calls it). Regional
// resources (clusters, associations) belong to it, as on AWS, where each
// region's endpoint serves its own.
func WithRegion(ctx context.Context, region string) context.Context {
	return context.WithValue(ctx, regionKey{}, region)
}

// Region returns the region of the request's signing scope, or fallback
// (the server's --region) when the request named none (unsigned, or a
// public path).
func Region(ctx context.Context, fallback string) string {
	if r, ok := ctx.Value(regionKey{}).(string); ok && r != "" {
		return r
	}
	return fallback
}

type secureKey struct{}

// WithSecureTransport returns ctx marking its request as received over TLS
// (the authentication middleware calls it): aws:SecureTransport is then
// "true". A request without the mark was received in plain HTTP.
func WithSecureTransport(ctx context.Context) context.Context {
	return context.WithValue(ctx, secureKey{}, true)
}

// SecureTransport reports whether the request ctx belongs to was received
// over TLS (aws:SecureTransport).
func SecureTransport(ctx context.Context) bool {
	v, _ := ctx.Value(secureKey{}).(bool)
	return v
}

// WithCaller returns ctx carrying what authentication found (the
// authentication middleware calls it): WithIdentity(ctx, id), then
// WithRegion(ctx, region) unless region is "", then WithSecureTransport
// if secure, as one context value where those would be three, each
// another allocation and another step for every lookup after them.
func WithCaller(ctx context.Context, id *Identity, region string, secure bool) context.Context {
	c := &callerContext{Context: ctx, id: id, secure: secure}
	if region != "" {
		c.region = region // boxed once, not at each lookup
	}
	return c
}

type callerContext struct {
	context.Context
	id     *Identity
	region any // a string, or nil: the parent's
	secure bool
}

func (c *callerContext) Value(key any) any {
	switch key.(type) {
	case identityKey:
		return c.id
	case regionKey:
		if c.region != nil {
			return c.region
		}
	case secureKey:
		if c.secure {
			return true
		}
	}
	return c.Context.Value(key)
}
