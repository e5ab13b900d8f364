package policy

// matches reports whether the statement applies to req and, for a
// statement with a Principal, how the principal matched.
func (st *statement) matches(req *Request) (bool, PrincipalMatch) {
	if !st.matchAction(req.Action) {
		return false, NoPrincipal
	}
	if st.resources != nil && !st.matchResource(req.Resource, req.Context) {
		return false, NoPrincipal
	}
	pm := NoPrincipal
	if st.principal != nil {
		pm = st.principal.match(req.Principal)
		if st.notPrincipal {
			if pm != NoPrincipal {
				return false, NoPrincipal
			}
			pm = MatchedWildcard
		} else if pm == NoPrincipal {
			return false, NoPrincipal
		}
	}
	for i := range st.conditions {
		if !st.conditions[i].eval(req.Context) {
			return false, NoPrincipal
		}
	}
	return true, pm
}

func (st *statement) matchAction(action string) bool {
	for _, a := range st.actions {
		if a.match(action) {
			return !st.notAction
		}
	}
	return st.notAction
}

func (st *statement) matchResource(resource string, ctx Keys) bool {
	for _, r := range st.resources {
		if r.match(resource, ctx) {
			return !st.notResource
		}
	}
	return st.notResource
}

// Evaluate evaluates req against a set of policies as one: an explicit
// Deny in any statement of any policy decides, otherwise the first Allow
// (for resource-based policies, preferring the grant that leaves the
// least to the caller's own policies: one naming the caller itself or
// "*", then its role, then its account; see AuthorizeAssumeRole),
// otherwise ImplicitDeny. Nil policies are skipped. The Result's
// Scope is ScopeIdentity; the other entry points set theirs.
func Evaluate(req *Request, policies ...*Policy) Result {
	res := Result{Decision: ImplicitDeny, Action: req.Action, Scope: ScopeIdentity}
	for _, p := range policies {
		if p == nil {
			continue
		}
		for i := range p.statements {
			st := &p.statements[i]
			ok, pm := st.matches(req)
			if !ok {
				continue
			}
			if st.deny {
				return Result{Decision: ExplicitDeny, Action: req.Action, Policy: p.Name, Statement: i, Sid: st.sid,
					Scope: res.Scope}
			}
			if res.Decision == ImplicitDeny || grantRank(pm) > grantRank(res.Principal) {
				res = Result{Decision: Allow, Action: req.Action, Policy: p.Name, Statement: i, Sid: st.sid,
					Scope: res.Scope, Principal: pm}
			}
		}
	}
	return res
}

// grantRank orders how a resource-based policy's Allow names the caller:
// the higher, the less the caller's identity side must add to it.
func grantRank(pm PrincipalMatch) int {
	switch pm {
	case MatchedARN, MatchedWildcard, MatchedService:
		return 3
	case MatchedRole:
		return 2
	case MatchedAccount:
		return 1
	}
	return 0
}

// Caller is a caller's identity side: the policies that grant and limit
// what its requests may do (IAM user guide, "Policy evaluation logic").
type Caller struct {
	// Identity are the identity-based policies: a user's or role's inline
	// and attached policies.
	Identity []*Policy
	// Boundary is the user's or role's permissions boundary; nil: none.
	// It grants nothing: it caps what Identity grants ("Permissions
	// boundaries for IAM entities").
	Boundary *Policy
	// Session are a role session's session policies (inline and managed);
	// none: no session policy. They cap the role's permissions ("Session
	// policies").
	Session []*Policy
}

// Evaluate evaluates req against the caller's identity side: an explicit
// Deny in any of its policies denies; otherwise the identity policies must
// allow, and so must the boundary (when set) and the session policies
// (when any): the permissions are the intersection. SCPs are not
// modelled.
func (c Caller) Evaluate(req *Request) Result {
	return c.evaluate(req, true)
}

// EvaluateLimits is Evaluate without the identity policies' grant: an
// explicit Deny anywhere still denies, and the boundary and session
// policies must allow, but an implicit deny of the identity policies does
// not count. It decides what a resource-based policy granting to the
// caller's role (not its session) leaves to the caller ("How AWS
// enforcement code logic evaluates requests": such grants "are limited by
// an implicit deny in a permissions boundary or session policy").
func (c Caller) EvaluateLimits(req *Request) Result {
	return c.evaluate(req, false)
}

func (c Caller) evaluate(req *Request, grant bool) Result {
	id := Evaluate(req, c.Identity...)
	if id.Decision == ExplicitDeny {
		return id
	}
	var b, s Result
	if c.Boundary != nil {
		b = Evaluate(req, c.Boundary)
		b.Scope = ScopeBoundary
		if b.Decision == ExplicitDeny {
			return b
		}
	}
	if len(c.Session) > 0 {
		s = Evaluate(req, c.Session...)
		s.Scope = ScopeSession
		if s.Decision == ExplicitDeny {
			return s
		}
	}
	switch {
	case grant && !id.Allowed():
		return id
	case c.Boundary != nil && !b.Allowed():
		return b
	case len(c.Session) > 0 && !s.Allowed():
		return s
	case !grant && !id.Allowed():
		// Only the limits were asked, and they allow.
		return Result{Decision: Allow, Action: req.Action, Scope: ScopeIdentity, Policy: "limits"}
	}
	return id
}

// EvaluateTrust evaluates a role's trust policy (a resource-based policy)
// for req: req.Principal must be named by an Allow statement's Principal
// (or left out of its NotPrincipal). A nil trust policy allows nothing.
func EvaluateTrust(req *Request, trust *Policy) Result {
	r := Evaluate(req, trust)
	r.Scope = ScopeTrust
	return r
}

// AuthorizeAssumeRole decides an sts:AssumeRole request (or its
// sts:TagSession companion) on the role req.Resource by req.Principal,
// combining the role's trust policy with the caller's identity policies as
// the IAM user guide's "Cross-account policy evaluation logic" and iam.md §3
// say:
//   - an explicit Deny in the trust policy or in the caller's identity
//     policies denies;
//   - a service principal (pods.eks.amazonaws.com) has no identity
//     policies: the trust policy alone decides;
//   - same account: the trust policy must allow the caller; when it does so
//     by naming the caller's own ARN (a user's, a session's) or by "*",
//     that suffices (a grant to the principal itself is not limited by an
//     implicit deny of its identity policies, boundary or session
//     policies); when it names the caller's role, the role's boundary and
//     the session policies must allow too, not its identity policies (a
//     grant to the role "is limited by an implicit deny in a permissions
//     boundary or session policy"); when it names only the account, the
//     caller's identity side must allow in full;
//   - cross account: both must allow.
//
// identity evaluates the caller's identity side for req: in full
// (Caller.Evaluate) when limitsOnly is false, else only its limits
// (Caller.EvaluateLimits). It is called only for principals that are not
// services. A nil identity allows nothing.
func AuthorizeAssumeRole(req *Request, trust *Policy, identity func(limitsOnly bool) Result) Result {
	t := EvaluateTrust(req, trust)
	if t.Decision == ExplicitDeny || req.Principal.Service != "" {
		return t
	}
	sameAccount := req.Principal.Account() != "" && req.Principal.Account() == arnAccount(req.Resource)
	limitsOnly := sameAccount && t.Allowed() && t.Principal == MatchedRole
	id := Result{Decision: ImplicitDeny, Action: req.Action, Scope: ScopeIdentity}
	if identity != nil {
		id = identity(limitsOnly)
	}
	if id.Decision == ExplicitDeny {
		return id
	}
	if !t.Allowed() {
		return t
	}
	if sameAccount && t.Principal != MatchedAccount && !limitsOnly {
		return t
	}
	if !id.Allowed() {
		return id
	}
	return t
}
