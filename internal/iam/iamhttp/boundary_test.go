package iamhttp_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/podid/podid/internal/servertest"
)

const (
	allowAll      = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	readIAMAndEKS = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*","eks:List*"],"Resource":"*"}]}`
)

// userClients creates user name (inline policy doc, boundary when set) with
// an access key, and returns its configuration.
func newUser(t *testing.T, s *servertest.Server, name, doc, boundary string) aws.Config {
	t.Helper()
	ctx := t.Context()
	c := adminIAM(s)
	in := &iam.CreateUserInput{UserName: aws.String(name)}
	if boundary != "" {
		in.PermissionsBoundary = aws.String(boundary)
	}
	must[*iam.CreateUserOutput](t, "CreateUser")(c.CreateUser(ctx, in))
	must[*iam.PutUserPolicyOutput](t, "PutUserPolicy")(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String(name), PolicyName: aws.String("p"), PolicyDocument: aws.String(doc)}))
	k := must[*iam.CreateAccessKeyOutput](t, "CreateAccessKey")(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)}))
	return awsConfig(s, aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey))
}

// untilError calls fn until it fails or 10 s pass, and returns its last
// error.
func untilError(fn func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := fn()
		if err != nil || time.Now().After(deadline) {
			return err
		}
		runtime.Gosched()
	}
}

func trustOf(principal string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":"sts:AssumeRole"}]}`
}

func denied(who, action, resource string) string {
	return "User: " + who + " is not authorized to perform: " + action + " on resource: " + resource
}

// TestPermissionsBoundary: a user's or role's permissions boundary caps
// what its identity policies allow, through the IAM, STS and EKS APIs with
// --iam enforce (IAM UG, "Permissions boundaries for IAM entities"); a
// trust policy naming the user itself is not capped ("How AWS enforcement
// code logic evaluates requests", resource-based policies).
func TestPermissionsBoundary(t *testing.T) {
	s := newEnforcedServer(t)
	ctx := t.Context()
	c := adminIAM(s)
	bp := must[*iam.CreatePolicyOutput](t, "CreatePolicy")(c.CreatePolicy(ctx, &iam.CreatePolicyInput{
		PolicyName: aws.String("read-only"), PolicyDocument: aws.String(readIAMAndEKS)}))
	boundaryARN := aws.ToString(bp.Policy.Arn)
	roleARN := func(n string) string { return "arn:aws:iam::" + account + ":role/" + n }
	userARN := "arn:aws:iam::" + account + ":user/dev"

	userCfg := newUser(t, s, "dev", allowAll, boundaryARN)
	u := must[*iam.GetUserOutput](t, "GetUser")(c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("dev")}))
	if b := u.User.PermissionsBoundary; b == nil || aws.ToString(b.PermissionsBoundaryArn) != boundaryARN ||
		b.PermissionsBoundaryType != types.PermissionsBoundaryAttachmentTypePolicy {
		t.Errorf("GetUser PermissionsBoundary = %+v, want %s", b, boundaryARN)
	}
	for _, n := range []string{"by-account", "by-user"} {
		trust := trustOf(account)
		if n == "by-user" {
			trust = trustOf(userARN)
		}
		must[*iam.CreateRoleOutput](t, "CreateRole")(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(n), AssumeRolePolicyDocument: aws.String(trust)}))
	}
	ui, us := iam.NewFromConfig(userCfg), sts.NewFromConfig(userCfg)

	// The boundary allows reads: the identity policy's "*" applies there.
	must[*iam.GetRoleOutput](t, "GetRole within the boundary")(ui.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("by-account")}))
	must[*eks.ListClustersOutput](t, "ListClusters within the boundary")(eks.NewFromConfig(userCfg).ListClusters(ctx, &eks.ListClustersInput{}))
	// Outside it, the identity policy's Allow does not count.
	_, err := ui.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("x"), AssumeRolePolicyDocument: aws.String(trust)})
	wantError(t, "CreateRole outside the boundary", err, "AccessDenied", denied(userARN, "iam:CreateRole", roleARN("x")))
	// Assuming a role whose trust names the account needs the identity
	// side, boundary included; one whose trust names the user does not.
	_, err = us.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN("by-account")), RoleSessionName: aws.String("s1")})
	wantError(t, "AssumeRole outside the boundary", err, "AccessDenied", denied(userARN, "sts:AssumeRole", roleARN("by-account")))
	must[*sts.AssumeRoleOutput](t, "AssumeRole of a role trusting the user itself")(us.AssumeRole(ctx,
		&sts.AssumeRoleInput{RoleArn: aws.String(roleARN("by-user")), RoleSessionName: aws.String("s1")}))

	// Removed, the boundary caps nothing: at once.
	must[*iam.DeleteUserPermissionsBoundaryOutput](t, "DeleteUserPermissionsBoundary")(c.DeleteUserPermissionsBoundary(ctx,
		&iam.DeleteUserPermissionsBoundaryInput{UserName: aws.String("dev")}))
	must[*iam.CreateRoleOutput](t, "CreateRole without the boundary")(ui.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String("x"), AssumeRolePolicyDocument: aws.String(trust)}))
	must[*sts.AssumeRoleOutput](t, "AssumeRole without the boundary")(us.AssumeRole(ctx,
		&sts.AssumeRoleInput{RoleArn: aws.String(roleARN("by-account")), RoleSessionName: aws.String("s1")}))

	// An AWS managed boundary: PowerUserAccess leaves out iam:* but not eks:*.
	must[*iam.PutUserPermissionsBoundaryOutput](t, "PutUserPermissionsBoundary")(c.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{
		UserName: aws.String("dev"), PermissionsBoundary: aws.String("arn:aws:iam::aws:policy/PowerUserAccess")}))
	// Taking permissions away is eventually consistent, as in IAM: the
	// Enforcer drops its cache on the store's change signal.
	err = untilError(func() error {
		_, err := ui.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("x")})
		return err
	})
	wantError(t, "GetRole under PowerUserAccess", err, "AccessDenied", denied(userARN, "iam:GetRole", roleARN("x")))
	must[*iam.ListRolesOutput](t, "ListRoles under PowerUserAccess (its exception)")(ui.ListRoles(ctx, &iam.ListRolesInput{}))
	must[*eks.ListClustersOutput](t, "ListClusters under PowerUserAccess")(eks.NewFromConfig(userCfg).ListClusters(ctx, &eks.ListClustersInput{}))

	// A role's boundary, set at CreateRole, caps its sessions; a trust
	// policy naming that role is capped by it too.
	must[*iam.CreateRoleOutput](t, "CreateRole with a boundary")(c.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String("bounded"), AssumeRolePolicyDocument: aws.String(trustOf(account)), PermissionsBoundary: aws.String(boundaryARN)}))
	must[*iam.PutRolePolicyOutput](t, "PutRolePolicy")(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String("bounded"), PolicyName: aws.String("all"), PolicyDocument: aws.String(allowAll)}))
	r := must[*iam.GetRoleOutput](t, "GetRole")(c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("bounded")}))
	if b := r.Role.PermissionsBoundary; b == nil || aws.ToString(b.PermissionsBoundaryArn) != boundaryARN {
		t.Errorf("GetRole PermissionsBoundary = %+v, want %s", b, boundaryARN)
	}
	must[*iam.CreateRoleOutput](t, "CreateRole")(c.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String("next"), AssumeRolePolicyDocument: aws.String(trustOf(roleARN("bounded")))}))
	must[*iam.DeleteUserPermissionsBoundaryOutput](t, "DeleteUserPermissionsBoundary")(c.DeleteUserPermissionsBoundary(ctx,
		&iam.DeleteUserPermissionsBoundaryInput{UserName: aws.String("dev")}))
	out := must[*sts.AssumeRoleOutput](t, "AssumeRole bounded")(us.AssumeRole(ctx,
		&sts.AssumeRoleInput{RoleArn: aws.String(roleARN("bounded")), RoleSessionName: aws.String("b1")}))
	sessCfg := awsConfig(s, "", "")
	sessCfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(out.Credentials.AccessKeyId),
		aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken))
	sessARN := aws.ToString(out.AssumedRoleUser.Arn)
	must[*iam.GetRoleOutput](t, "GetRole by the bounded session")(iam.NewFromConfig(sessCfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("x")}))
	_, err = iam.NewFromConfig(sessCfg).DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("x")})
	wantError(t, "DeleteRole by the bounded session", err, "AccessDenied", denied(sessARN, "iam:DeleteRole", roleARN("x")))
	_, err = sts.NewFromConfig(sessCfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN("next")), RoleSessionName: aws.String("n1")})
	wantError(t, "AssumeRole of a role trusting the bounded role", err, "AccessDenied", denied(sessARN, "sts:AssumeRole", roleARN("next")))
	// The role's boundary changed to allow it: the same session may.
	must[*iam.PutRolePermissionsBoundaryOutput](t, "PutRolePermissionsBoundary")(c.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{
		RoleName: aws.String("bounded"), PermissionsBoundary: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}))
	must[*sts.AssumeRoleOutput](t, "AssumeRole with the boundary widened")(sts.NewFromConfig(sessCfg).AssumeRole(ctx,
		&sts.AssumeRoleInput{RoleArn: aws.String(roleARN("next")), RoleSessionName: aws.String("n1")}))
	must[*iam.DeleteRolePermissionsBoundaryOutput](t, "DeleteRolePermissionsBoundary")(c.DeleteRolePermissionsBoundary(ctx,
		&iam.DeleteRolePermissionsBoundaryInput{RoleName: aws.String("bounded")}))
	if r := must[*iam.GetRoleOutput](t, "GetRole")(c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("bounded")})); r.Role.PermissionsBoundary != nil {
		t.Errorf("after DeleteRolePermissionsBoundary, GetRole PermissionsBoundary = %+v", r.Role.PermissionsBoundary)
	}
}
