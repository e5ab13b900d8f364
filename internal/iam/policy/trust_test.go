package policy_test

import (
	"testing"

	"github.com/podid/podid/internal/iam/policy"
)

const podsTrust = `{"Version":"2012-10-17","Statement":[{"Sid":"AllowEksAuthToAssumeRoleForPodIdentity","Effect":"Allow",
	"Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`

func TestEvaluateTrust(t *testing.T) {
	pods := policy.Principal{Service: "pods.eks.amazonaws.com"}
	session := policy.Principal{ARN: sessARN, RoleARN: callerRl}
	user := policy.Principal{ARN: userARN}
	foreign := policy.Principal{ARN: "arn:aws:iam::" + other + ":user/mallory"}
	cases := []struct {
		name   string
		doc    string
		trust  string
		caller policy.Principal
		action string
		ctx    policy.Context
		want   policy.Decision
		match  policy.PrincipalMatch
	}{
		{name: "pod identity service", doc: "EKS UG, Create IAM role with trust policy required by EKS Pod Identity", trust: podsTrust,
			caller: pods, action: "sts:AssumeRole", want: policy.Allow, match: policy.MatchedService},
		{name: "pod identity TagSession", doc: "EKS UG, pod identity trust policy; iam.md §1", trust: podsTrust,
			caller: pods, action: "sts:TagSession", want: policy.Allow, match: policy.MatchedService},
		{name: "wrong service", doc: docPrincipal, trust: podsTrust,
			caller: policy.Principal{Service: "ec2.amazonaws.com"}, action: "sts:AssumeRole", want: policy.ImplicitDeny},
		{name: "TagSession missing", doc: "EKS UG; iam.md §1 (sts:TagSession needed for session tags)",
			trust:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}}`,
			caller: pods, action: "sts:TagSession", want: policy.ImplicitDeny},
		{name: "a user is not the service", doc: docPrincipal, trust: podsTrust, caller: user, action: "sts:AssumeRole", want: policy.ImplicitDeny},
		{name: "role ARN matches its session", doc: docPrincipal + " (role sessions)",
			trust:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"` + callerRl + `"},"Action":"sts:AssumeRole"}}`,
			caller: session, action: "sts:AssumeRole", want: policy.Allow, match: policy.MatchedRole},
		{name: "assumed-role session ARN", doc: docPrincipal + " (assumed-role session principals)",
			trust:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"` + sessARN + `"},"Action":"sts:AssumeRole"}}`,
			caller: session, action: "sts:AssumeRole", want: policy.Allow, match: policy.MatchedARN},
		{name: "user ARN", doc: docPrincipal,
			trust:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["` + userARN + `"]},"Action":"sts:AssumeRole"}}`,
			caller: user, action: "sts:AssumeRole", want: policy.Allow, match: policy.MatchedARN},
		{name: "account ID", doc: docPrincipal + " (AWS account principals)",
			trust:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"sts:AssumeRole"}}`,
			caller: user, action: "sts:AssumeRole", want: policy.Allow, match: policy.MatchedAccount},
		{name: "account root ARN", doc: docPrincipal + " (AWS account principals)",
			trust:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"sts:AssumeRole"}}`,
			caller: session, action: "sts:AssumeRole", want: policy.Allow, match: policy.MatchedAccount},
		{name: "another account", doc: docPrincipal,
			trust:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"sts:AssumeRole"}}`,
			caller: foreign, action: "sts:AssumeRole", want: policy.ImplicitDeny},
		{name: "Principal *", doc: docPrincipal + " (all principals)",
			trust:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}`,
			caller: foreign, action: "sts:AssumeRole", want: policy.Allow, match: policy.MatchedWildcard},
		{name: "AWS *", doc: docPrincipal + " (all principals)",
			trust:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}}`,
			caller: user, action: "sts:AssumeRole", want: policy.Allow, match: policy.MatchedWildcard},
		{name: "NotPrincipal with Deny", doc: docNotPrinc,
			trust: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"},
				{"Effect":"Deny","NotPrincipal":{"AWS":"` + userARN + `"},"Action":"sts:AssumeRole"}]}`,
			caller: foreign, action: "sts:AssumeRole", want: policy.ExplicitDeny},
		{name: "NotPrincipal spares who it names", doc: docNotPrinc,
			trust: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"},
				{"Effect":"Deny","NotPrincipal":{"AWS":"` + userARN + `"},"Action":"sts:AssumeRole"}]}`,
			caller: user, action: "sts:AssumeRole", want: policy.Allow, match: policy.MatchedWildcard},
		{name: "external ID matches", doc: "EKS API reference, CreatePodIdentityAssociation externalId; iam.md §2",
			trust:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"` + callerRl + `"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"assoc-1"}}}}`,
			caller: session, action: "sts:AssumeRole", ctx: policy.Context{"sts:ExternalId": {"assoc-1"}}, want: policy.Allow, match: policy.MatchedRole},
		{name: "external ID mismatch", doc: "iam.md §2",
			trust:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"` + callerRl + `"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"assoc-1"}}}}`,
			caller: session, action: "sts:AssumeRole", ctx: policy.Context{"sts:ExternalId": {"assoc-2"}}, want: policy.ImplicitDeny},
		{name: "confused deputy: SourceArn of another cluster", doc: "iam.md §1 (aws:SourceArn is the cluster ARN)",
			trust: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"],
				"Condition":{"StringEquals":{"aws:SourceAccount":"` + acct + `"},"ArnEquals":{"aws:SourceArn":"arn:aws:eks:us-east-1:` + acct + `:cluster/prod"}}}}`,
			caller: pods, action: "sts:AssumeRole", ctx: policy.Context{"aws:SourceAccount": {acct}, "aws:SourceArn": {"arn:aws:eks:us-east-1:" + acct + ":cluster/dev"}},
			want: policy.ImplicitDeny},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustParse(t, "trust", c.trust, policy.Trust)
			got := policy.EvaluateTrust(&policy.Request{Principal: c.caller, Action: c.action, Resource: roleARN, Context: c.ctx}, p)
			if got.Decision != c.want || got.Principal != c.match {
				t.Errorf("got %v/%v (%s), want %v/%v\nper %s", got.Decision, got.Principal, got, c.want, c.match, c.doc)
			}
			if got.Scope != policy.ScopeTrust {
				t.Errorf("scope %q", got.Scope)
			}
		})
	}
}

func TestAuthorizeAssumeRole(t *testing.T) {
	allowAssume := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"` + roleARN + `"}}`
	denyAssume := `{"Version":"2012-10-17","Statement":{"Sid":"No","Effect":"Deny","Action":"sts:*","Resource":"*"}}`
	trustAccount := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"%s"},"Action":"sts:AssumeRole"}}`
	cases := []struct {
		name     string
		trust    string
		caller   policy.Principal
		identity []string // nil: no identity policies
		want     policy.Decision
		scope    string
	}{
		{name: "same account, trust names the account, identity allows", trust: sprintf(trustAccount, acct),
			caller: policy.Principal{ARN: userARN}, identity: []string{allowAssume}, want: policy.Allow, scope: policy.ScopeTrust},
		{name: "same account, trust names the account, no identity allow", trust: sprintf(trustAccount, acct),
			caller: policy.Principal{ARN: userARN}, want: policy.ImplicitDeny, scope: policy.ScopeIdentity},
		{name: "same account, trust names the user itself: trust suffices", trust: sprintf(trustAccount, userARN),
			caller: policy.Principal{ARN: userARN}, want: policy.Allow, scope: policy.ScopeTrust},
		{name: "same account, trust names the caller's role: trust suffices", trust: sprintf(trustAccount, callerRl),
			caller: policy.Principal{ARN: sessARN, RoleARN: callerRl}, want: policy.Allow, scope: policy.ScopeTrust},
		{name: "same account, identity explicit deny wins", trust: sprintf(trustAccount, userARN),
			caller: policy.Principal{ARN: userARN}, identity: []string{allowAssume, denyAssume}, want: policy.ExplicitDeny, scope: policy.ScopeIdentity},
		{name: "same account, identity allows but trust does not", trust: podsTrust,
			caller: policy.Principal{ARN: userARN}, identity: []string{allowAssume}, want: policy.ImplicitDeny, scope: policy.ScopeTrust},
		{name: "cross account, trust names the user, no identity allow", trust: sprintf(trustAccount, "arn:aws:iam::"+other+":user/mallory"),
			caller: policy.Principal{ARN: "arn:aws:iam::" + other + ":user/mallory"}, want: policy.ImplicitDeny, scope: policy.ScopeIdentity},
		{name: "cross account, both allow", trust: sprintf(trustAccount, other),
			caller: policy.Principal{ARN: "arn:aws:iam::" + other + ":user/mallory"}, identity: []string{allowAssume}, want: policy.Allow, scope: policy.ScopeTrust},
		{name: "service principal: trust alone", trust: podsTrust,
			caller: policy.Principal{Service: "pods.eks.amazonaws.com"}, want: policy.Allow, scope: policy.ScopeTrust},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			trust := mustParse(t, "trust", c.trust, policy.Trust)
			var ids []*policy.Policy
			for _, d := range c.identity {
				ids = append(ids, mustParse(t, "id", d, policy.Identity))
			}
			req := &policy.Request{Principal: c.caller, Action: "sts:AssumeRole", Resource: roleARN}
			got := policy.AuthorizeAssumeRole(req, trust, func(limitsOnly bool) policy.Result {
				if limitsOnly {
					return policy.Caller{Identity: ids}.EvaluateLimits(req)
				}
				return policy.Caller{Identity: ids}.Evaluate(req)
			})
			if got.Decision != c.want || got.Scope != c.scope {
				t.Errorf("got %v in %s (%s), want %v in %s (per %s)", got.Decision, got.Scope, got, c.want, c.scope, docCrossAcct)
			}
		})
	}
}

func TestEvaluateIdentitySession(t *testing.T) {
	role := mustParse(t, "role-policy", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:*","eks:*"],"Resource":"*"}}`, policy.Identity)
	sess := mustParse(t, "session", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","sqs:*"],"Resource":"*"},
		{"Sid":"NoProd","Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::prod/*"}]}`, policy.Session)
	cases := []struct {
		action, resource string
		want             policy.Decision
		scope            string
		str              string
	}{
		{"s3:GetObject", "arn:aws:s3:::dev/k", policy.Allow, policy.ScopeIdentity, `allowed by Statement[0] of policy "role-policy"`},
		{"s3:PutObject", "arn:aws:s3:::dev/k", policy.ImplicitDeny, policy.ScopeSession, "no statement of the session policy allowed s3:PutObject"},
		{"sqs:SendMessage", "*", policy.ImplicitDeny, policy.ScopeIdentity, "no statement allowed sqs:SendMessage"},
		{"s3:GetObject", "arn:aws:s3:::prod/k", policy.ExplicitDeny, policy.ScopeSession, `denied by Statement[1] (Sid "NoProd") of policy "session"`},
	}
	for _, c := range cases {
		got := policy.Caller{Identity: []*policy.Policy{role}, Session: []*policy.Policy{sess}}.Evaluate(&policy.Request{Action: c.action, Resource: c.resource})
		if got.Decision != c.want || got.Scope != c.scope || got.String() != c.str {
			t.Errorf("%s on %s: got %v in %s %q, want %v in %s %q (per %s)", c.action, c.resource, got.Decision, got.Scope, got, c.want, c.scope, c.str, docSession)
		}
	}
	// Without a session policy the role's policies alone decide.
	if got := (policy.Caller{Identity: []*policy.Policy{role}}).Evaluate(&policy.Request{Action: "s3:PutObject", Resource: "*"}); !got.Allowed() {
		t.Errorf("no session policy: %s", got)
	}
}

const (
	docBoundary = "IAM UG, Permissions boundaries for IAM entities (effective permissions: identity ∩ boundary; a boundary grants nothing)"
	docGrantTo  = "IAM UG, How AWS enforcement code logic evaluates requests (resource-based policies: grants to a user or role session ARN vs to a role ARN)"
)

func TestCallerBoundary(t *testing.T) {
	allowAll := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`
	onlyS3 := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","sqs:SendMessage"],"Resource":"*"},
		{"Sid":"NoDelete","Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}`
	sessSQS := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sqs:*","Resource":"*"}}`
	cases := []struct {
		name                     string
		identity, boundary, sess string
		action                   string
		want                     policy.Decision
		scope, str               string
	}{
		{name: "both allow", identity: allowAll, boundary: onlyS3, action: "s3:GetObject",
			want: policy.Allow, scope: policy.ScopeIdentity, str: `allowed by Statement[0] of policy "identity"`},
		{name: "identity allows, boundary does not", identity: allowAll, boundary: onlyS3, action: "eks:DeleteCluster",
			want: policy.ImplicitDeny, scope: policy.ScopeBoundary, str: "no statement of the permissions boundary allowed eks:DeleteCluster"},
		{name: "boundary allows, identity does not: a boundary grants nothing", identity: sessSQS, boundary: onlyS3, action: "s3:GetObject",
			want: policy.ImplicitDeny, scope: policy.ScopeIdentity, str: "no statement allowed s3:GetObject"},
		{name: "explicit deny in the boundary", identity: allowAll, boundary: onlyS3, action: "s3:DeleteBucket",
			want: policy.ExplicitDeny, scope: policy.ScopeBoundary, str: `denied by Statement[1] (Sid "NoDelete") of policy "boundary"`},
		{name: "session policy caps what boundary and identity allow", identity: allowAll, boundary: onlyS3, sess: sessSQS, action: "s3:GetObject",
			want: policy.ImplicitDeny, scope: policy.ScopeSession, str: "no statement of the session policy allowed s3:GetObject"},
		{name: "all three allow", identity: allowAll, boundary: onlyS3, sess: sessSQS, action: "sqs:SendMessage",
			want: policy.Allow, scope: policy.ScopeIdentity, str: `allowed by Statement[0] of policy "identity"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			caller := policy.Caller{Identity: []*policy.Policy{mustParse(t, "identity", c.identity, policy.Identity)},
				Boundary: mustParse(t, "boundary", c.boundary, policy.Identity)}
			if c.sess != "" {
				caller.Session = []*policy.Policy{mustParse(t, "session", c.sess, policy.Session)}
			}
			got := caller.Evaluate(&policy.Request{Action: c.action, Resource: "*"})
			if got.Decision != c.want || got.Scope != c.scope || got.String() != c.str {
				t.Errorf("got %v in %s %q, want %v in %s %q (per %s)", got.Decision, got.Scope, got, c.want, c.scope, c.str, docBoundary)
			}
		})
	}
}

// TestAuthorizeAssumeRoleLimits: how a trust policy's grant meets the
// caller's permissions boundary and session policy, by whom it names.
func TestAuthorizeAssumeRoleLimits(t *testing.T) {
	trustOf := func(p string) string {
		return `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"` + p + `"},"Action":"sts:AssumeRole"}}`
	}
	allowAssume := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}`
	onlyS3 := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`
	denyAssume := `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"*"}}`
	user := policy.Principal{ARN: userARN}
	session := policy.Principal{ARN: sessARN, RoleARN: callerRl}
	cases := []struct {
		name                     string
		trust                    string
		caller                   policy.Principal
		identity, boundary, sess string
		want                     policy.Decision
		scope                    string
	}{
		{name: "trust names the user: its boundary's implicit deny does not limit", trust: trustOf(userARN), caller: user,
			boundary: onlyS3, want: policy.Allow, scope: policy.ScopeTrust},
		{name: "trust names the user: an explicit deny in its boundary does", trust: trustOf(userARN), caller: user,
			identity: allowAssume, boundary: denyAssume, want: policy.ExplicitDeny, scope: policy.ScopeBoundary},
		{name: "trust names the session: boundary and session policy do not limit", trust: trustOf(sessARN), caller: session,
			boundary: onlyS3, sess: onlyS3, want: policy.Allow, scope: policy.ScopeTrust},
		{name: "trust names the role: no identity allow needed", trust: trustOf(callerRl), caller: session,
			boundary: allowAssume, want: policy.Allow, scope: policy.ScopeTrust},
		{name: "trust names the role: the boundary limits", trust: trustOf(callerRl), caller: session,
			identity: allowAssume, boundary: onlyS3, want: policy.ImplicitDeny, scope: policy.ScopeBoundary},
		{name: "trust names the role: the session policy limits", trust: trustOf(callerRl), caller: session,
			identity: allowAssume, sess: onlyS3, want: policy.ImplicitDeny, scope: policy.ScopeSession},
		{name: "trust names the account: identity and boundary must both allow", trust: trustOf(acct), caller: user,
			identity: allowAssume, boundary: onlyS3, want: policy.ImplicitDeny, scope: policy.ScopeBoundary},
		{name: "trust names the account: all allow", trust: trustOf(acct), caller: user,
			identity: allowAssume, boundary: allowAssume, want: policy.Allow, scope: policy.ScopeTrust},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var caller policy.Caller
			if c.identity != "" {
				caller.Identity = []*policy.Policy{mustParse(t, "identity", c.identity, policy.Identity)}
			}
			if c.boundary != "" {
				caller.Boundary = mustParse(t, "boundary", c.boundary, policy.Identity)
			}
			if c.sess != "" {
				caller.Session = []*policy.Policy{mustParse(t, "session", c.sess, policy.Session)}
			}
			req := &policy.Request{Principal: c.caller, Action: "sts:AssumeRole", Resource: roleARN}
			got := policy.AuthorizeAssumeRole(req, mustParse(t, "trust", c.trust, policy.Trust), func(limitsOnly bool) policy.Result {
				if limitsOnly {
					return caller.EvaluateLimits(req)
				}
				return caller.Evaluate(req)
			})
			if got.Decision != c.want || got.Scope != c.scope {
				t.Errorf("got %v in %s (%s), want %v in %s (per %s)", got.Decision, got.Scope, got, c.want, c.scope, docGrantTo)
			}
		})
	}
}
