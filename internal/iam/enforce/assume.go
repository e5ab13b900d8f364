package enforce

import (
	"context"
	"strings"

	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/iam/policy"
	"github.com/podid/podid/internal/sts"
)

// Decision is the answer to a role assumption: what decided it, for the
// refusal's log line, the audit trail and explain.
type Decision struct {
	Allowed bool
	// Principal is who assumes the role: an ARN, or the service principal.
	Principal string
	// Action is the action that decided: sts:AssumeRole, or sts:TagSession
	// when the session has tags.
	Action string
	// RoleMissing: the role does not exist (in podid's account).
	RoleMissing bool
	// Root: the caller is the account root, which may not assume roles.
	Root bool
	// Result is the policy engine's; zero when RoleMissing.
	Result policy.Result
	// Document is the deciding policy's text (the trust policy, an
	// identity policy), when a statement decided.
	Document string
	// Reason is Result.String() or the missing role, in words.
	Reason string
}

// AuthorizeAssumeRole implements sts.RoleAuthorizer: a refusal is an
// *authz.DeniedError naming the caller, the action that was refused and
// the role, with the decision as its Reason.
func (e *Enforcer) AuthorizeAssumeRole(ctx context.Context, a sts.Assumption) error {
	d, err := e.decideAssumeRole(ctx, a, false)
	if err != nil || d.Allowed {
		return err
	}
	var res *policy.Result
	if !d.RoleMissing && !d.Root {
		res = &d.Result
	}
	denied := e.denied(ctx, d.Principal, d.Action, a.RoleARN, res, d.Reason)
	if d.Root {
		denied.Message = rootMayNotAssume
	}
	return denied
}

// rootMayNotAssume is STS's refusal of AssumeRole with the account root's
// credentials (AccessDenied, 403) [OBS: AWS's answer as clients quote it;
// IAM UG, "Switch to an IAM role (AWS CLI)": "You cannot assume a role
// when you are signed in as the AWS account root user." DOC].
const rootMayNotAssume = "Roles may not be assumed by root accounts."

// DecideAssumeRole decides a role assumption as STS would: the account
// root may not assume roles; the role must exist in podid's account; policy.AuthorizeAssumeRole must allow
// sts:AssumeRole on it (the trust policy, and the caller's identity
// policies unless the caller is a service or the trust policy names it),
// and sts:TagSession too when the new session has tags. The trust
// policy's context has the caller's aws:Principal* keys (none for a
// service), aws:SourceArn and aws:SourceAccount (a service acting for a
// resource), sts:RoleSessionName, sts:ExternalId, aws:RequestTag/KEY and
// aws:TagKeys.
func (e *Enforcer) DecideAssumeRole(ctx context.Context, a sts.Assumption) (Decision, error) {
	return e.decideAssumeRole(ctx, a, true)
}

// decideAssumeRole is DecideAssumeRole; an allowed Decision has its Reason
// and Document only when explain is set: an allowed assumption's caller
// (AuthorizeAssumeRole) never reads them, and Reason is formatted with fmt.
func (e *Enforcer) decideAssumeRole(ctx context.Context, a sts.Assumption, explain bool) (Decision, error) {
	var d Decision
	c, principal := e.assumer(a)
	d.Principal = principal.String()
	d.Action = "sts:AssumeRole"
	if c.root {
		// Whatever the trust policy says: AWS refuses before it.
		d.Root, d.Reason = true, "roles may not be assumed by root accounts"
		return d, nil
	}
	var role *entity
	var err error
	res, err := e.decide(ctx, func() (policy.Result, error) {
		d.RoleMissing = false
		name, ok := e.roleName(a.RoleARN)
		if ok {
			role, err = e.role(ctx, name)
			if err != nil {
				return policy.Result{}, err
			}
		}
		if !ok || role.missing {
			d.RoleMissing = true
			return policy.Result{Action: "sts:AssumeRole", Scope: policy.ScopeTrust}, nil
		}
		keys := e.assumeKeys(ctx, a, c)
		req := &policy.Request{Principal: principal, Action: "sts:AssumeRole", Resource: a.RoleARN, Context: keys}
		if role.resourceTags || e.callerNeedsResourceTags(ctx, c) {
			keys.resourceTags = role.tags
		}
		identity := func(limitsOnly bool) policy.Result {
			r, ierr := e.identityResult(ctx, c, req, limitsOnly)
			if ierr != nil {
				err = ierr
			}
			return r
		}
		r := policy.AuthorizeAssumeRole(req, role.trust, identity)
		if r.Allowed() && len(a.Tags) > 0 {
			req.Action = "sts:TagSession"
			r = policy.AuthorizeAssumeRole(req, role.trust, identity)
		}
		return r, err
	})
	if err != nil {
		return d, err
	}
	d.Allowed, d.Result, d.Action = res.Allowed(), res, res.Action
	switch {
	case d.Allowed && !explain:
	case d.RoleMissing:
		d.Reason = "role " + a.RoleARN + " does not exist"
	default:
		d.Reason = res.String()
		d.Document = e.document(ctx, role, c, res)
	}
	return d, nil
}

// assumer returns the caller of an assumption and its principal.
func (e *Enforcer) assumer(a sts.Assumption) (caller, policy.Principal) {
	switch {
	case a.Caller != nil:
		c := e.callerOfSession(a.Caller)
		return c, policy.Principal{ARN: c.arn, RoleARN: c.roleARN}
	case a.Principal != "":
		c := e.callerOf(&authz.Identity{ARN: a.Principal})
		return c, policy.Principal{ARN: a.Principal}
	}
	return caller{}, policy.Principal{Service: sts.EKSServicePrincipal}
}

// roleName returns the name of a role ARN of podid's account.
func (e *Enforcer) roleName(arn string) (string, bool) {
	prefix := "arn:" + e.cfg.Partition + ":iam::" + e.cfg.AccountID + ":role/"
	if !strings.HasPrefix(arn, prefix) {
		return "", false
	}
	return lastSegment(arn), true
}

// assumeKeys are the trust policy's condition keys of an assumption.
func (e *Enforcer) assumeKeys(ctx context.Context, a sts.Assumption, c caller) *requestKeys {
	k := e.keys(ctx, c)
	k.assume, k.sourceARN, k.sessionName, k.externalID, k.tags = true, a.SourceARN, a.RoleSessionName, a.ExternalID, a.Tags
	return k
}

// document returns the text of the policy that decided res: the role's
// trust policy, or one of the caller's identity, boundary or session
// policies.
func (e *Enforcer) document(ctx context.Context, role *entity, c caller, res policy.Result) string {
	if res.Policy == "" {
		return ""
	}
	if res.Scope == policy.ScopeTrust && role != nil && role.trust != nil {
		return role.trust.Document
	}
	if res.Scope == policy.ScopeSession {
		ps, _ := e.sessionPolicies(ctx, c)
		for _, p := range ps {
			if p.Name == res.Policy {
				return p.Document
			}
		}
	}
	if c.kind != "" {
		if ent, err := e.entity(ctx, c.kind, c.name); err == nil {
			if res.Scope == policy.ScopeBoundary && ent.boundary != nil {
				return ent.boundary.Document
			}
			for _, p := range ent.identity {
				if p.Name == res.Policy {
					return p.Document
				}
			}
		}
	}
	if role != nil && role.trust != nil && role.trust.Name == res.Policy {
		return role.trust.Document
	}
	return ""
}
