package iamhttp_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/podid/podid/internal/servertest"
)

// assumeAs assumes role with cfg's credentials and the managed session
// policies arns, and returns the session's configuration and ARN.
func assumeAs(t *testing.T, s *servertest.Server, cfg aws.Config, role string, arns ...string) (aws.Config, string) {
	t.Helper()
	in := &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + account + ":role/" + role), RoleSessionName: aws.String("sess")}
	for _, a := range arns {
		in.PolicyArns = append(in.PolicyArns, ststypes.PolicyDescriptorType{Arn: aws.String(a)})
	}
	out := must[*sts.AssumeRoleOutput](t, "AssumeRole "+role)(sts.NewFromConfig(cfg).AssumeRole(t.Context(), in))
	sc := awsConfig(s, "", "")
	sc.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(out.Credentials.AccessKeyId),
		aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken))
	return sc, aws.ToString(out.AssumedRoleUser.Arn)
}

// TestManagedSessionPolicies: AssumeRole's PolicyArns are session
// policies: the session may do what both the role's policies and every
// session policy allow (IAM UG, "Session policies"; STS API reference,
// AssumeRole PolicyArns: "The resulting session's permissions are the
// intersection of the role's identity-based policy and the session
// policies").
func TestManagedSessionPolicies(t *testing.T) {
	s := newEnforcedServer(t)
	ctx := t.Context()
	c := adminIAM(s)
	roleARN := func(n string) string { return "arn:aws:iam::" + account + ":role/" + n }
	for _, n := range []string{"app", "next"} {
		must[*iam.CreateRoleOutput](t, "CreateRole")(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(n), AssumeRolePolicyDocument: aws.String(trustOf(account))}))
		must[*iam.PutRolePolicyOutput](t, "PutRolePolicy")(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
			RoleName: aws.String(n), PolicyName: aws.String("all"), PolicyDocument: aws.String(allowAll)}))
	}
	ro := must[*iam.CreatePolicyOutput](t, "CreatePolicy")(c.CreatePolicy(ctx, &iam.CreatePolicyInput{
		PolicyName: aws.String("read-only"), PolicyDocument: aws.String(readIAMAndEKS)}))
	roARN := aws.ToString(ro.Policy.Arn)
	userCfg := newUser(t, s, "dev", allowAll, "")

	sess, sessARN := assumeAs(t, s, userCfg, "app", roARN)
	si := iam.NewFromConfig(sess)
	must[*iam.GetRoleOutput](t, "GetRole within the session policy")(si.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("next")}))
	_, err := si.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("next"), PolicyName: aws.String("all")})
	wantError(t, "DeleteRolePolicy outside the session policy", err, "AccessDenied", denied(sessARN, "iam:DeleteRolePolicy", roleARN("next")))
	// Chaining from the session needs sts:AssumeRole of its session policies too.
	_, err = sts.NewFromConfig(sess).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN("next")), RoleSessionName: aws.String("chained")})
	wantError(t, "AssumeRole outside the session policy", err, "AccessDenied", denied(sessARN, "sts:AssumeRole", roleARN("next")))

	// A new default version of the managed policy is in effect at once.
	must[*iam.CreatePolicyVersionOutput](t, "CreatePolicyVersion")(c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{
		PolicyArn: aws.String(roARN), SetAsDefault: true,
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","sts:AssumeRole"],"Resource":"*"}]}`)}))
	must[*sts.AssumeRoleOutput](t, "AssumeRole with the widened session policy")(sts.NewFromConfig(sess).AssumeRole(ctx,
		&sts.AssumeRoleInput{RoleArn: aws.String(roleARN("next")), RoleSessionName: aws.String("chained")}))

	// An AWS managed session policy: PowerUserAccess leaves out iam:*.
	pu, puARN := assumeAs(t, s, userCfg, "app", "arn:aws:iam::aws:policy/PowerUserAccess")
	_, err = iam.NewFromConfig(pu).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("next")})
	wantError(t, "GetRole under a PowerUserAccess session policy", err, "AccessDenied", denied(puARN, "iam:GetRole", roleARN("next")))
	must[*eks.ListClustersOutput](t, "ListClusters under a PowerUserAccess session policy")(eks.NewFromConfig(pu).ListClusters(ctx, &eks.ListClustersInput{}))
	// Without session policies, the role's policies alone decide.
	full, _ := assumeAs(t, s, userCfg, "app")
	must[*iam.GetRoleOutput](t, "GetRole without session policies")(iam.NewFromConfig(full).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("next")}))
}

// TestRootMayNotAssumeRoles: STS refuses AssumeRole with the account
// root's credentials, whatever the trust policy says (AccessDenied, "Roles
// may not be assumed by root accounts."; IAM UG, "Switch to an IAM role
// (AWS CLI)": the root user cannot assume a role). --iam off keeps
// letting podid's admin identity assume roles.
func TestRootMayNotAssumeRoles(t *testing.T) {
	rootARN := "arn:aws:iam::" + account + ":root"
	for _, enforced := range []bool{true, false} {
		s := newServerWith(t, enforced)
		ctx := t.Context()
		c := adminIAM(s)
		for _, p := range []string{account, rootARN} {
			name := "by-account"
			if p == rootARN {
				name = "by-root"
			}
			must[*iam.CreateRoleOutput](t, "CreateRole")(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trustOf(p))}))
			admin := sts.NewFromConfig(awsConfig(s, servertest.AccessKeyID, servertest.SecretAccessKey))
			_, err := admin.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + account + ":role/" + name), RoleSessionName: aws.String("root")})
			switch {
			case enforced:
				wantError(t, "AssumeRole by the root of a role trusting "+p, err, "AccessDenied", "Roles may not be assumed by root accounts.")
			case err != nil:
				t.Errorf("--iam off: AssumeRole by the admin identity: %v", err)
			}
		}
	}
}
