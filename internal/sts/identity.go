package sts

import "github.com/podid/podid/internal/authz"

// SessionIdentity returns the identity of a request made with sess, whose
// session token is token.
func SessionIdentity(sess *Session, token string) *authz.Identity {
	return &authz.Identity{
		ARN:         sess.AssumedRoleARN(),
		Account:     sess.Account,
		UserID:      sess.AssumedRoleID(),
		AccessKeyID: sess.AccessKeyID,
		Session: &authz.Session{RoleARN: sess.RoleARN, Tags: TagMap(sess.Tags), Token: token, Policy: sess.Policy,
			PolicyARNs: sess.PolicyARNs},
	}
}

// TagMap is tags as a map (the last value of a repeated key wins).
func TagMap(tags []Tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}
