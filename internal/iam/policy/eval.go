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

func (st *statement) matchResource(resource string, ctx Context) bool {
	for _, r := range st.resources {
		if r.match(resource, ctx) {
			return !st.notResource
		}
	}
	return st.notResource
}

// Evaluate evaluates req against a set of policies as one: an explicit
// Deny in any statement of any policy decides, otherwise the first Allow
// (for resource-based policies, preferring one that names the caller
// itself), otherwise ImplicitDeny. Nil policies are skipped. The Result's
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
			if res.Decision == ImplicitDeny || (pm == MatchedARN && res.Principal != MatchedARN) {
				res = Result{Decision: Allow, Action: req.Action, Policy: p.Name, Statement: i, Sid: st.sid,
					Scope: res.Scope, Principal: pm}
			}
		}
	}
	return res
}

// EvaluateIdentity evaluates the identity-based policies of the caller
// (IAM user guide, "Policy evaluation logic"). For a role session with a
// session policy, pass it (or them) as session: the request is then
// allowed only when both sets allow it and neither denies it ("Session
// policies": the session's permissions are the intersection). With no
// session policies the identity policies alone decide. Permissions
// boundaries and SCPs are not modelled.
func EvaluateIdentity(req *Request, identity, session []*Policy) Result {
	id := Evaluate(req, identity...)
	if id.Decision == ExplicitDeny || len(session) == 0 {
		return id
	}
	s := Evaluate(req, session...)
	s.Scope = ScopeSession
	switch {
	case s.Decision == ExplicitDeny:
		return s
	case !id.Allowed():
		return id
	case !s.Allowed():
		return s
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
//     by naming the caller's ARN (or its role's) or by "*", that suffices;
//     when it names only the account, the identity policies must allow too;
//   - cross account: both must allow.
//
// identity evaluates the caller's identity policies for req (typically
// EvaluateIdentity); it is called only for principals that are not
// services. A nil identity allows nothing.
func AuthorizeAssumeRole(req *Request, trust *Policy, identity func() Result) Result {
	t := EvaluateTrust(req, trust)
	if t.Decision == ExplicitDeny || req.Principal.Service != "" {
		return t
	}
	id := Result{Decision: ImplicitDeny, Action: req.Action, Scope: ScopeIdentity}
	if identity != nil {
		id = identity()
	}
	if id.Decision == ExplicitDeny {
		return id
	}
	if !t.Allowed() {
		return t
	}
	sameAccount := req.Principal.Account() != "" && req.Principal.Account() == arnAccount(req.Resource)
	if sameAccount && t.Principal != MatchedAccount {
		return t
	}
	if !id.Allowed() {
		return id
	}
	return t
}
