package sts

import "context"

// Identity is the authenticated caller of a request: podid's admin
// identity (Session nil) or a session this STS vended.
type Identity struct {
	// ARN: arn:aws:iam::ACCOUNT:root for the admin identity,
	// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION for a session.
	ARN     string
	Account string
	// UserID is what GetCallerIdentity reports as UserId: the account ID
	// for the root, ROLEID:SESSION for a session.
	UserID      string
	AccessKeyID string
	// Session is the vended session the request was made with; nil for
	// the admin identity.
	Session *Session
}

// IsAdmin reports whether the identity is podid's admin identity.
func (i *Identity) IsAdmin() bool { return i.Session == nil }

// SessionIdentity returns the identity of a request made with sess.
func SessionIdentity(sess *Session) *Identity {
	return &Identity{
		ARN:         sess.AssumedRoleARN(),
		Account:     sess.Account,
		UserID:      sess.AssumedRoleID(),
		AccessKeyID: sess.AccessKeyID,
		Session:     sess,
	}
}

type identityKey struct{}

// WithIdentity returns ctx carrying id (the authentication middleware
// calls it).
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity the authentication middleware put in
// ctx.
func IdentityFrom(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(*Identity)
	return id, ok && id != nil
}
