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
			caller: session, action: "sts:AssumeRole", want: policy.Allow, match: policy.MatchedARN},
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
			caller: session, action: "sts:AssumeRole", ctx: policy.Context{"sts:ExternalId": {"assoc-1"}}, want: policy.Allow, match: policy.MatchedARN},
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
			got := policy.AuthorizeAssumeRole(req, trust, func() policy.Result { return policy.EvaluateIdentity(req, ids, nil) })
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
		got := policy.EvaluateIdentity(&policy.Request{Action: c.action, Resource: c.resource}, []*policy.Policy{role}, []*policy.Policy{sess})
		if got.Decision != c.want || got.Scope != c.scope || got.String() != c.str {
			t.Errorf("%s on %s: got %v in %s %q, want %v in %s %q (per %s)", c.action, c.resource, got.Decision, got.Scope, got, c.want, c.scope, c.str, docSession)
		}
	}
	// Without a session policy the role's policies alone decide.
	if got := policy.EvaluateIdentity(&policy.Request{Action: "s3:PutObject", Resource: "*"}, []*policy.Policy{role}, nil); !got.Allowed() {
		t.Errorf("no session policy: %s", got)
	}
}
