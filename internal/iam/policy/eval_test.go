package policy_test

import (
	"testing"

	"github.com/podid/podid/internal/iam/policy"
)

// The IAM user guide sections the expected answers come from.
const (
	docEval        = "IAM UG, Policy evaluation logic: Determining whether a request is allowed or denied within an account"
	docAction      = "IAM UG, IAM JSON policy elements: Action (case-insensitive; * and ? wildcards)"
	docNotAction   = "IAM UG, IAM JSON policy elements: NotAction"
	docResource    = "IAM UG, IAM JSON policy elements: Resource (wildcards in ARNs)"
	docNotResource = "IAM UG, IAM JSON policy elements: NotResource"
	docCondBlock   = "IAM UG, IAM JSON policy elements: Condition (evaluation logic: AND across operators and keys, OR across values)"
	docCondOps     = "IAM UG, IAM JSON policy elements: Condition operators"
	docMissingKey  = "IAM UG, Condition operators: a key absent from the request context does not match; negated operators (StringNotEquals, ...) then match"
	docIfExists    = "IAM UG, Condition operators: ...IfExists condition operators"
	docNull        = "IAM UG, Condition operators: Condition operator to check existence of condition keys (Null)"
	docSets        = "IAM UG, Set operators for multivalued context keys (ForAnyValue, ForAllValues)"
	docVars        = "IAM UG, IAM policy elements: Variables and tags"
	docPrincipal   = "IAM UG, IAM JSON policy elements: Principal"
	docNotPrinc    = "IAM UG, IAM JSON policy elements: NotPrincipal"
	docSession     = "IAM UG, Policies and permissions: Session policies (intersection of identity and session policies)"
	docCrossAcct   = "IAM UG, Cross-account policy evaluation logic; iam.md §3"
	docKeysCase    = "IAM UG, Condition element: condition key names are not case-sensitive; StringEquals values are"
)

const (
	acct     = "111122223333"
	other    = "444455556666"
	roleARN  = "arn:aws:iam::" + acct + ":role/app"
	userARN  = "arn:aws:iam::" + acct + ":user/alice"
	sessARN  = "arn:aws:sts::" + acct + ":assumed-role/caller/s1"
	callerRl = "arn:aws:iam::" + acct + ":role/team/caller"
)

func mustParse(t testing.TB, name, doc string, kind policy.Kind) *policy.Policy {
	t.Helper()
	p, err := policy.Parse(name, doc, kind)
	if err != nil {
		t.Fatalf("Parse(%s): %v\n%s", name, err, doc)
	}
	return p
}

// TestEvaluate runs identity policies against requests; each expectation
// is what the cited section of the IAM user guide says.
func TestEvaluate(t *testing.T) {
	type tc struct {
		name     string
		doc      string // the documentation that decides the answer
		policies []string
		action   string
		resource string
		ctx      policy.Context
		want     policy.Decision
		stmt     int // deciding statement's index, for Allow and ExplicitDeny
	}
	s3get := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}`
	cases := []tc{
		{name: "no policies: default deny", doc: docEval, action: "s3:GetObject", resource: "*", want: policy.ImplicitDeny},
		{name: "allow", doc: docEval, policies: []string{s3get}, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: policy.Allow},
		{name: "other action: default deny", doc: docEval, policies: []string{s3get}, action: "s3:PutObject", resource: "*", want: policy.ImplicitDeny},
		{name: "explicit deny wins over allow in another policy", doc: docEval, policies: []string{s3get,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"NoGet","Effect":"Deny","Action":"s3:Get*","Resource":"*"}]}`},
			action: "s3:GetObject", resource: "*", want: policy.ExplicitDeny, stmt: 1},
		{name: "action case-insensitive", doc: docAction, policies: []string{s3get}, action: "S3:getobject", resource: "*", want: policy.Allow},
		{name: "action wildcard *", doc: docAction, policies: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"eks:Describe*","Resource":"*"}}`},
			action: "eks:DescribeCluster", resource: "*", want: policy.Allow},
		{name: "action wildcard ?", doc: docAction, policies: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:?etRole","Resource":"*"}}`},
			action: "iam:GetRole", resource: "*", want: policy.Allow},
		{name: "action wildcard ? needs one character", doc: docAction, policies: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:?GetRole","Resource":"*"}}`},
			action: "iam:GetRole", resource: "*", want: policy.ImplicitDeny},
		{name: "action list", doc: docAction, policies: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession"],"Resource":"*"}}`},
			action: "sts:TagSession", resource: "*", want: policy.Allow},
		{name: "NotAction allows what it does not list", doc: docNotAction, policies: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}`},
			action: "eks:ListClusters", resource: "*", want: policy.Allow},
		{name: "NotAction does not allow what it lists", doc: docNotAction, policies: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}`},
			action: "iam:CreateUser", resource: "*", want: policy.ImplicitDeny},
		{name: "Deny with NotAction denies everything else", doc: docNotAction, policies: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","NotAction":"sts:*","Resource":"*"}]}`},
			action: "eks:CreateCluster", resource: "*", want: policy.ExplicitDeny, stmt: 1},
		{name: "resource wildcard", doc: docResource, policies: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/app-*"}}`},
			action: "sts:AssumeRole", resource: "arn:aws:iam::" + acct + ":role/app-one", want: policy.Allow},
		{name: "resource case-sensitive", doc: docResource, policies: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/App"}}`},
			action: "sts:AssumeRole", resource: "arn:aws:iam::" + acct + ":role/app", want: policy.ImplicitDeny},
		{name: "NotResource", doc: docNotResource, policies: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","NotResource":"arn:aws:iam::*:role/admin"}}`},
			action: "sts:AssumeRole", resource: roleARN, want: policy.Allow},
		{name: "NotResource excludes", doc: docNotResource, policies: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","NotResource":"arn:aws:iam::*:role/admin"}}`},
			action: "sts:AssumeRole", resource: "arn:aws:iam::" + acct + ":role/admin", want: policy.ImplicitDeny},
		{name: "condition StringEquals", doc: docCondOps, policies: []string{cond(`"StringEquals":{"aws:RequestTag/kubernetes-namespace":"prod"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:RequestTag/kubernetes-namespace": {"prod"}}, want: policy.Allow},
		{name: "condition StringEquals values case-sensitive", doc: docKeysCase, policies: []string{cond(`"StringEquals":{"aws:RequestTag/kubernetes-namespace":"prod"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:RequestTag/kubernetes-namespace": {"Prod"}}, want: policy.ImplicitDeny},
		{name: "condition keys case-insensitive", doc: docKeysCase, policies: []string{cond(`"StringEquals":{"AWS:SOURCEACCOUNT":"` + acct + `"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:SourceAccount": {acct}}, want: policy.Allow},
		{name: "StringEqualsIgnoreCase", doc: docCondOps, policies: []string{cond(`"StringEqualsIgnoreCase":{"aws:RequestTag/team":"Blue"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:RequestTag/team": {"BLUE"}}, want: policy.Allow},
		{name: "StringNotEqualsIgnoreCase", doc: docCondOps, policies: []string{cond(`"StringNotEqualsIgnoreCase":{"aws:RequestTag/team":"Blue"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:RequestTag/team": {"BLUE"}}, want: policy.ImplicitDeny},
		{name: "values OR", doc: docCondBlock, policies: []string{cond(`"StringEquals":{"aws:RequestTag/kubernetes-namespace":["dev","prod"]}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:RequestTag/kubernetes-namespace": {"prod"}}, want: policy.Allow},
		{name: "keys AND", doc: docCondBlock, policies: []string{cond(`"StringEquals":{"aws:RequestTag/kubernetes-namespace":"prod","aws:RequestTag/kubernetes-service-account":"app"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:RequestTag/kubernetes-namespace": {"prod"}, "aws:RequestTag/kubernetes-service-account": {"other"}}, want: policy.ImplicitDeny},
		{name: "operators AND", doc: docCondBlock, policies: []string{cond(`"StringEquals":{"aws:SourceAccount":"` + acct + `"},"ArnLike":{"aws:SourceArn":"arn:aws:eks:*:` + acct + `:cluster/prod"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:SourceAccount": {acct}, "aws:SourceArn": {"arn:aws:eks:us-east-1:" + acct + ":cluster/dev"}}, want: policy.ImplicitDeny},
		{name: "missing key: StringEquals false", doc: docMissingKey, policies: []string{cond(`"StringEquals":{"sts:ExternalId":"x"}`)},
			action: "sts:AssumeRole", resource: "*", want: policy.ImplicitDeny},
		{name: "missing key: StringNotEquals true", doc: docMissingKey, policies: []string{cond(`"StringNotEquals":{"sts:ExternalId":"x"}`)},
			action: "sts:AssumeRole", resource: "*", want: policy.Allow},
		{name: "StringNotEquals present and equal", doc: docCondOps, policies: []string{cond(`"StringNotEquals":{"sts:ExternalId":"x"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"sts:ExternalId": {"x"}}, want: policy.ImplicitDeny},
		{name: "StringNotEquals with several values: none may equal", doc: docCondOps, policies: []string{cond(`"StringNotEquals":{"aws:RequestTag/ns":["a","b"]}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:RequestTag/ns": {"b"}}, want: policy.ImplicitDeny},
		{name: "IfExists: missing key true", doc: docIfExists, policies: []string{cond(`"StringEqualsIfExists":{"sts:ExternalId":"x"}`)},
			action: "sts:AssumeRole", resource: "*", want: policy.Allow},
		{name: "IfExists: present key compared", doc: docIfExists, policies: []string{cond(`"StringEqualsIfExists":{"sts:ExternalId":"x"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"sts:ExternalId": {"y"}}, want: policy.ImplicitDeny},
		{name: "StringLike", doc: docCondOps, policies: []string{cond(`"StringLike":{"aws:RequestTag/kubernetes-service-account":"app-*"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:RequestTag/kubernetes-service-account": {"app-web"}}, want: policy.Allow},
		{name: "StringNotLike", doc: docCondOps, policies: []string{cond(`"StringNotLike":{"aws:RequestTag/kubernetes-namespace":"kube-*"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:RequestTag/kubernetes-namespace": {"kube-system"}}, want: policy.ImplicitDeny},
		{name: "ArnEquals per component", doc: docCondOps, policies: []string{cond(`"ArnEquals":{"aws:SourceArn":"arn:aws:eks:us-east-1:` + acct + `:cluster/prod"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:SourceArn": {"arn:aws:eks:us-east-1:" + acct + ":cluster/prod"}}, want: policy.Allow},
		{name: "ArnLike wildcard region", doc: docCondOps, policies: []string{cond(`"ArnLike":{"aws:SourceArn":"arn:aws:eks:*:` + acct + `:cluster/*"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:SourceArn": {"arn:aws:eks:eu-west-1:" + acct + ":cluster/x"}}, want: policy.Allow},
		{name: "ArnLike: a * does not cross components", doc: docCondOps, policies: []string{cond(`"ArnLike":{"aws:SourceArn":"arn:aws:eks:*:cluster/x"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:SourceArn": {"arn:aws:eks:eu-west-1:" + acct + ":cluster/x"}}, want: policy.ImplicitDeny},
		{name: "ArnNotLike other cluster", doc: docCondOps, policies: []string{cond(`"ArnNotLike":{"aws:SourceArn":"arn:aws:eks:*:*:cluster/prod"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:SourceArn": {"arn:aws:eks:us-east-1:" + acct + ":cluster/dev"}}, want: policy.Allow},
		{name: "NumericLessThan", doc: docCondOps, policies: []string{cond(`"NumericLessThan":{"s3:max-keys":"10"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"s3:max-keys": {"9"}}, want: policy.Allow},
		{name: "NumericLessThan (JSON number)", doc: docCondOps, policies: []string{cond(`"NumericLessThan":{"s3:max-keys":10}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"s3:max-keys": {"10"}}, want: policy.ImplicitDeny},
		{name: "NumericGreaterThanEquals", doc: docCondOps, policies: []string{cond(`"NumericGreaterThanEquals":{"sts:DurationSeconds":"3600"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"sts:DurationSeconds": {"3600"}}, want: policy.Allow},
		{name: "NumericNotEquals", doc: docCondOps, policies: []string{cond(`"NumericNotEquals":{"n":"1"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"n": {"1.0"}}, want: policy.ImplicitDeny},
		{name: "DateLessThan", doc: docCondOps, policies: []string{cond(`"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:CurrentTime": {"2026-12-05T06:00:00Z"}}, want: policy.Allow},
		{name: "DateGreaterThan epoch", doc: docCondOps, policies: []string{cond(`"DateGreaterThan":{"aws:EpochTime":"1700000000"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:EpochTime": {"1600000000"}}, want: policy.ImplicitDeny},
		{name: "DateEquals day", doc: docCondOps, policies: []string{cond(`"DateEquals":{"aws:CurrentTime":"2026-12-05"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:CurrentTime": {"2026-12-05T00:00:00Z"}}, want: policy.Allow},
		{name: "Bool", doc: docCondOps, policies: []string{cond(`"Bool":{"aws:SecureTransport":"true"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:SecureTransport": {"true"}}, want: policy.Allow},
		{name: "Bool (JSON false) against true", doc: docCondOps, policies: []string{cond(`"Bool":{"aws:SecureTransport":false}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:SecureTransport": {"true"}}, want: policy.ImplicitDeny},
		{name: "Null true: key absent", doc: docNull, policies: []string{cond(`"Null":{"sts:ExternalId":"true"}`)},
			action: "sts:AssumeRole", resource: "*", want: policy.Allow},
		{name: "Null false: key absent", doc: docNull, policies: []string{cond(`"Null":{"sts:ExternalId":"false"}`)},
			action: "sts:AssumeRole", resource: "*", want: policy.ImplicitDeny},
		{name: "IpAddress", doc: docCondOps, policies: []string{cond(`"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:SourceIp": {"10.1.2.3"}}, want: policy.Allow},
		{name: "NotIpAddress", doc: docCondOps, policies: []string{cond(`"NotIpAddress":{"aws:SourceIp":"127.0.0.0/8"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:SourceIp": {"127.0.0.1"}}, want: policy.ImplicitDeny},
		{name: "BinaryEquals", doc: docCondOps, policies: []string{cond(`"BinaryEquals":{"k":"QmluYXJ5VmFsdWU="}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"k": {"QmluYXJ5VmFsdWU="}}, want: policy.Allow},
		{name: "ForAnyValue: one tag key allowed", doc: docSets, policies: []string{cond(`"ForAnyValue:StringEquals":{"aws:TagKeys":["team","env"]}`)},
			action: "sts:TagSession", resource: "*", ctx: policy.Context{"aws:TagKeys": {"owner", "env"}}, want: policy.Allow},
		{name: "ForAnyValue: empty key false", doc: docSets, policies: []string{cond(`"ForAnyValue:StringEquals":{"aws:TagKeys":["team"]}`)},
			action: "sts:TagSession", resource: "*", want: policy.ImplicitDeny},
		{name: "ForAllValues: every tag key listed", doc: docSets, policies: []string{cond(`"ForAllValues:StringEquals":{"aws:TagKeys":["team","env"]}`)},
			action: "sts:TagSession", resource: "*", ctx: policy.Context{"aws:TagKeys": {"team", "owner"}}, want: policy.ImplicitDeny},
		{name: "ForAllValues: missing key true", doc: docSets, policies: []string{cond(`"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}`)},
			action: "sts:TagSession", resource: "*", want: policy.Allow},
		{name: "ForAllValues:StringNotLike", doc: docSets, policies: []string{cond(`"ForAllValues:StringNotLike":{"aws:TagKeys":"eks-*"}`)},
			action: "sts:TagSession", resource: "*", ctx: policy.Context{"aws:TagKeys": {"team", "eks-cluster-name"}}, want: policy.ImplicitDeny},
		{name: "ForAnyValue:StringNotEquals", doc: docSets, policies: []string{cond(`"ForAnyValue:StringNotEquals":{"aws:TagKeys":"team"}`)},
			action: "sts:TagSession", resource: "*", ctx: policy.Context{"aws:TagKeys": {"team", "env"}}, want: policy.Allow},
		{name: "variable in Resource", doc: docVars, policies: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/${aws:username}"}}`},
			action: "iam:GetUser", resource: userARN, ctx: policy.Context{"aws:username": {"alice"}}, want: policy.Allow},
		{name: "variable in Resource: other user", doc: docVars, policies: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/${aws:username}"}}`},
			action: "iam:GetUser", resource: userARN, ctx: policy.Context{"aws:username": {"bob"}}, want: policy.ImplicitDeny},
		{name: "variable unresolved: no match", doc: docVars, policies: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/${aws:username}"}}`},
			action: "iam:GetUser", resource: userARN, want: policy.ImplicitDeny},
		{name: "variable value is literal, not a wildcard", doc: docVars, policies: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/${aws:PrincipalTag/u}"}}`},
			action: "iam:GetUser", resource: userARN, ctx: policy.Context{"aws:PrincipalTag/u": {"*"}}, want: policy.ImplicitDeny},
		{name: "variable default value", doc: docVars, policies: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/${aws:PrincipalTag/u, 'alice'}"}}`},
			action: "iam:GetUser", resource: userARN, want: policy.Allow},
		{name: "variable in condition: PrincipalTag", doc: docVars, policies: []string{cond(`"StringEquals":{"aws:RequestTag/kubernetes-namespace":"${aws:PrincipalTag/kubernetes-namespace}"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:RequestTag/kubernetes-namespace": {"prod"}, "aws:PrincipalTag/kubernetes-namespace": {"prod"}}, want: policy.Allow},
		{name: "variable in condition: mismatch", doc: docVars, policies: []string{cond(`"StringEquals":{"aws:RequestTag/kubernetes-namespace":"${aws:PrincipalTag/kubernetes-namespace}"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"aws:RequestTag/kubernetes-namespace": {"kube-system"}, "aws:PrincipalTag/kubernetes-namespace": {"prod"}}, want: policy.ImplicitDeny},
		{name: "escape ${*} is a literal star", doc: docVars, policies: []string{cond(`"StringLike":{"k":"a${*}b"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"k": {"axxb"}}, want: policy.ImplicitDeny},
		{name: "escape ${*} matches a star", doc: docVars, policies: []string{cond(`"StringLike":{"k":"a${*}b${$}"}`)},
			action: "sts:AssumeRole", resource: "*", ctx: policy.Context{"k": {"a*b$"}}, want: policy.Allow},
		{name: "2008-10-17: no variables", doc: docVars, policies: []string{`{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/${aws:username}"}}`},
			action: "iam:GetUser", resource: "arn:aws:iam::" + acct + ":user/${aws:username}", ctx: policy.Context{"aws:username": {"alice"}}, want: policy.Allow},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ps []*policy.Policy
			for i, d := range c.policies {
				ps = append(ps, mustParse(t, "p"+string(rune('0'+i)), d, policy.Identity))
			}
			got := policy.Evaluate(&policy.Request{Action: c.action, Resource: c.resource, Context: c.ctx}, ps...)
			if got.Decision != c.want {
				t.Fatalf("decision %v (%s), want %v\nper %s", got.Decision, got, c.want, c.doc)
			}
			if c.want != policy.ImplicitDeny && got.Statement != c.stmt {
				t.Errorf("deciding statement %d (%s), want %d", got.Statement, got, c.stmt)
			}
		})
	}
}

// cond wraps a Condition body in an Allow-everything identity policy.
func cond(body string) string {
	return `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{` + body + `}}}`
}
