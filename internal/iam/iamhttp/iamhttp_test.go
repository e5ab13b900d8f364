package iamhttp_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/iam/accesskey"
	"github.com/podid/podid/internal/iam/enforce"
	"github.com/podid/podid/internal/iam/iamhttp"
	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/servertest"
	"github.com/podid/podid/internal/sigv4"
	podsts "github.com/podid/podid/internal/sts"
	"github.com/podid/podid/internal/sts/stshttp"
)

const (
	account = "000000000000"
	trust   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`
	perms   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`
)

// newServer is podid's server with IAM and STS at POST / and SigV4
// authentication (the admin key, sessions, IAM users' keys), as
// cmd/podid wires it.
func newServer(t *testing.T) *servertest.Server {
	t.Helper()
	return newServerWith(t, false)
}

// newEnforcedServer is newServer with --iam enforce: the IAM engine
// (enforce.Enforcer) authorizes every call and every role assumption.
func newEnforcedServer(t *testing.T, opts ...servertest.Option) *servertest.Server {
	t.Helper()
	return newServerWith(t, true, opts...)
}

func newServerWith(t *testing.T, enforced bool, opts ...servertest.Option) *servertest.Server {
	t.Helper()
	return servertest.New(t, append(opts, servertest.WithConfig(func(cfg *server.Config) {
		ctx := context.Background()
		key, err := podsts.KeyFromStore(ctx, cfg.Store)
		if err != nil {
			t.Fatal(err)
		}
		var az authz.Authorizer = authz.Rules{}
		var roles podsts.RoleAuthorizer
		if enforced {
			e := enforce.New(enforce.Config{Store: cfg.Store, AccountID: account, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err := e.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			az, roles = e, e
		}
		svc, err := podsts.New(podsts.Config{AccountID: account, Keys: [][]byte{key}, Roles: roles})
		if err != nil {
			t.Fatal(err)
		}
		secrets, err := accesskey.FromStore(ctx, cfg.Store)
		if err != nil {
			t.Fatal(err)
		}
		authn := sigv4.New(sigv4.Config{
			Admin:     podsts.Credentials{AccessKeyID: servertest.AccessKeyID, SecretAccessKey: servertest.SecretAccessKey},
			AccountID: account, Sessions: svc,
			Users: &accesskey.Lookup{Store: cfg.Store, Secrets: secrets, AccountID: account},
		})
		h := iamhttp.New(iamhttp.Config{Store: cfg.Store, Secrets: secrets, AccountID: account, Authorizer: az})
		cfg.AccountID = account
		cfg.Authenticate = authn.Authenticate
		cfg.Authorizer = az
		cfg.Mounts = append(cfg.Mounts, func(host *httpx.Host) error { return h.Mount(host, stshttp.Handler(svc, az)) })
	}))...)
}

func awsConfig(s *servertest.Server, akid, secret string) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(akid, secret, ""),
		HTTPClient:   s.HTTP.Client(),
		BaseEndpoint: aws.String(s.URL),
	}
}

func adminIAM(s *servertest.Server) *iam.Client {
	return iam.NewFromConfig(awsConfig(s, servertest.AccessKeyID, servertest.SecretAccessKey))
}

// wantCode fails unless err is an API error with code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Errorf("%s: error = %v, want %s", what, err, code)
	}
}

func doc(t *testing.T, s *string) string {
	t.Helper()
	if s == nil {
		t.Fatal("document missing")
	}
	d, err := url.QueryUnescape(*s)
	if err != nil {
		t.Fatalf("document not URL-encoded: %v", err)
	}
	return d
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func TestRoles(t *testing.T) {
	s := newServer(t)
	c := adminIAM(s)
	ctx := t.Context()

	cr := must[*iam.CreateRoleOutput](t, "CreateRole")(c.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String("App"), Path: aws.String("/eng/"), AssumeRolePolicyDocument: aws.String(trust),
		Description: aws.String("the app"), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}},
	}))
	r := cr.Role
	if aws.ToString(r.Arn) != "arn:aws:iam::"+account+":role/eng/App" || !strings.HasPrefix(aws.ToString(r.RoleId), "AROA") ||
		len(aws.ToString(r.RoleId)) != 21 || aws.ToInt32(r.MaxSessionDuration) != 3600 || doc(t, r.AssumeRolePolicyDocument) != trust {
		t.Errorf("CreateRole = %+v", r)
	}
	_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(trust)})
	wantCode(t, "CreateRole of a taken name in another case", err, "EntityAlreadyExists")
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("bad"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`)})
	wantCode(t, "CreateRole with a trust policy without principal", err, "MalformedPolicyDocument")
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("bad name"), AssumeRolePolicyDocument: aws.String(trust)})
	wantCode(t, "CreateRole with an invalid name", err, "ValidationError")

	g := must[*iam.GetRoleOutput](t, "GetRole")(c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")}))
	if aws.ToString(g.Role.RoleName) != "App" || aws.ToString(g.Role.Description) != "the app" || len(g.Role.Tags) != 1 {
		t.Errorf("GetRole = %+v", g.Role)
	}
	_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("nope")})
	wantCode(t, "GetRole of a missing role", err, "NoSuchEntity")
	var nse *types.NoSuchEntityException
	if !errors.As(err, &nse) || aws.ToString(nse.Message) != "The role with name nope cannot be found." {
		t.Errorf("GetRole of a missing role: %v", err)
	}

	must[*iam.UpdateRoleOutput](t, "UpdateRole")(c.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: aws.String("App"), MaxSessionDuration: aws.Int32(7200)}))
	ud := must[*iam.UpdateRoleDescriptionOutput](t, "UpdateRoleDescription")(c.UpdateRoleDescription(ctx, &iam.UpdateRoleDescriptionInput{RoleName: aws.String("App"), Description: aws.String("new")}))
	if aws.ToString(ud.Role.Description) != "new" || aws.ToInt32(ud.Role.MaxSessionDuration) != 7200 {
		t.Errorf("UpdateRoleDescription = %+v", ud.Role)
	}
	trust2 := strings.Replace(trust, "pods.eks.amazonaws.com", "ec2.amazonaws.com", 1)
	must[*iam.UpdateAssumeRolePolicyOutput](t, "UpdateAssumeRolePolicy")(c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("App"), PolicyDocument: aws.String(trust2)}))
	if g, _ := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("App")}); doc(t, g.Role.AssumeRolePolicyDocument) != trust2 {
		t.Error("UpdateAssumeRolePolicy did not change the trust policy")
	}
	_, err = c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("App"), PolicyDocument: aws.String("{")})
	wantCode(t, "UpdateAssumeRolePolicy with a broken document", err, "MalformedPolicyDocument")

	must[*iam.TagRoleOutput](t, "TagRole")(c.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String("App"), Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}}}))
	must[*iam.UntagRoleOutput](t, "UntagRole")(c.UntagRole(ctx, &iam.UntagRoleInput{RoleName: aws.String("App"), TagKeys: []string{"team"}}))
	tags := must[*iam.ListRoleTagsOutput](t, "ListRoleTags")(c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: aws.String("App")}))
	if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "env" {
		t.Errorf("ListRoleTags = %+v", tags.Tags)
	}
	ip := must[*iam.ListInstanceProfilesForRoleOutput](t, "ListInstanceProfilesForRole")(c.ListInstanceProfilesForRole(ctx, &iam.ListInstanceProfilesForRoleInput{RoleName: aws.String("App")}))
	if len(ip.InstanceProfiles) != 0 {
		t.Errorf("instance profiles: %v", ip.InstanceProfiles)
	}

	must[*iam.PutRolePolicyOutput](t, "PutRolePolicy")(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("App"), PolicyName: aws.String("read"), PolicyDocument: aws.String(perms)}))
	rp := must[*iam.GetRolePolicyOutput](t, "GetRolePolicy")(c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("App"), PolicyName: aws.String("read")}))
	if doc(t, rp.PolicyDocument) != perms || aws.ToString(rp.RoleName) != "App" {
		t.Errorf("GetRolePolicy = %+v", rp)
	}
	_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("App"), PolicyName: aws.String("bad"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}`)})
	wantCode(t, "PutRolePolicy without Resource", err, "MalformedPolicyDocument")
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + strings.Repeat("x", 10300) + `"}]}`
	_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("App"), PolicyName: aws.String("big"), PolicyDocument: aws.String(big)})
	wantCode(t, "PutRolePolicy over the role's 10240 characters", err, "LimitExceeded")
	names := must[*iam.ListRolePoliciesOutput](t, "ListRolePolicies")(c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("App")}))
	if !slices.Equal(names.PolicyNames, []string{"read"}) {
		t.Errorf("ListRolePolicies = %v", names.PolicyNames)
	}
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("App")})
	wantCode(t, "DeleteRole with an inline policy", err, "DeleteConflict")
	must[*iam.DeleteRolePolicyOutput](t, "DeleteRolePolicy")(c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("App"), PolicyName: aws.String("read")}))
	_, err = c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("App"), PolicyName: aws.String("read")})
	wantCode(t, "DeleteRolePolicy again", err, "NoSuchEntity")

	// ListRoles: paths and paging through the SDK's paginator.
	for _, n := range []string{"b", "c", "d"} {
		must[*iam.CreateRoleOutput](t, "CreateRole")(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(n), AssumeRolePolicyDocument: aws.String(trust)}))
	}
	var listed []string
	pg := iam.NewListRolesPaginator(c, &iam.ListRolesInput{MaxItems: aws.Int32(1)})
	for i := 0; pg.HasMorePages() && i < 10; i++ {
		out := must[*iam.ListRolesOutput](t, "ListRoles")(pg.NextPage(ctx))
		for _, r := range out.Roles {
			listed = append(listed, aws.ToString(r.RoleName))
		}
	}
	if !slices.Equal(listed, []string{"App", "b", "c", "d"}) {
		t.Errorf("ListRoles pages = %v", listed)
	}
	eng := must[*iam.ListRolesOutput](t, "ListRoles /eng/")(c.ListRoles(ctx, &iam.ListRolesInput{PathPrefix: aws.String("/eng/")}))
	if len(eng.Roles) != 1 || aws.ToString(eng.Roles[0].RoleName) != "App" {
		t.Errorf("ListRoles /eng/ = %+v", eng.Roles)
	}
	must[*iam.DeleteRoleOutput](t, "DeleteRole")(c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("App")}))
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("App")})
	wantCode(t, "DeleteRole again", err, "NoSuchEntity")
}

func TestPolicies(t *testing.T) {
	s := newServer(t)
	c := adminIAM(s)
	ctx := t.Context()
	cp := must[*iam.CreatePolicyOutput](t, "CreatePolicy")(c.CreatePolicy(ctx, &iam.CreatePolicyInput{
		PolicyName: aws.String("read"), Path: aws.String("/team/"), PolicyDocument: aws.String(perms), Description: aws.String("reads"),
	}))
	arn := aws.ToString(cp.Policy.Arn)
	if arn != "arn:aws:iam::"+account+":policy/team/read" || aws.ToString(cp.Policy.DefaultVersionId) != "v1" || !strings.HasPrefix(aws.ToString(cp.Policy.PolicyId), "ANPA") {
		t.Errorf("CreatePolicy = %+v", cp.Policy)
	}
	_, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("READ"), PolicyDocument: aws.String(perms)})
	wantCode(t, "CreatePolicy of a taken name", err, "EntityAlreadyExists")
	_, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::" + account + ":policy/nope")})
	wantCode(t, "GetPolicy of a missing policy", err, "NoSuchEntity")
	_, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("not-an-arn-at-all-really")})
	wantCode(t, "GetPolicy of a bad ARN", err, "ValidationError")

	for i := 2; i <= 5; i++ {
		must[*iam.CreatePolicyVersionOutput](t, "CreatePolicyVersion")(c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: &arn, PolicyDocument: aws.String(perms), SetAsDefault: i == 3}))
	}
	_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: &arn, PolicyDocument: aws.String(perms)})
	wantCode(t, "a sixth version", err, "LimitExceeded")
	vs := must[*iam.ListPolicyVersionsOutput](t, "ListPolicyVersions")(c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: &arn}))
	var ids []string
	for _, v := range vs.Versions {
		ids = append(ids, aws.ToString(v.VersionId))
		if v.IsDefaultVersion != (aws.ToString(v.VersionId) == "v3") {
			t.Errorf("version %s default = %v", aws.ToString(v.VersionId), v.IsDefaultVersion)
		}
	}
	if !slices.Equal(ids, []string{"v5", "v4", "v3", "v2", "v1"}) {
		t.Errorf("ListPolicyVersions = %v", ids)
	}
	_, err = c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: &arn, VersionId: aws.String("v3")})
	wantCode(t, "DeletePolicyVersion of the default", err, "DeleteConflict")
	must[*iam.DeletePolicyVersionOutput](t, "DeletePolicyVersion")(c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: &arn, VersionId: aws.String("v5")}))
	v6 := must[*iam.CreatePolicyVersionOutput](t, "CreatePolicyVersion")(c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: &arn, PolicyDocument: aws.String(perms)}))
	if aws.ToString(v6.PolicyVersion.VersionId) != "v6" {
		t.Errorf("the version after v5 (deleted) is %s, want v6", aws.ToString(v6.PolicyVersion.VersionId))
	}
	must[*iam.SetDefaultPolicyVersionOutput](t, "SetDefaultPolicyVersion")(c.SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: &arn, VersionId: aws.String("v6")}))
	gv := must[*iam.GetPolicyVersionOutput](t, "GetPolicyVersion")(c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: &arn, VersionId: aws.String("v6")}))
	if !gv.PolicyVersion.IsDefaultVersion || doc(t, gv.PolicyVersion.Document) != perms {
		t.Errorf("GetPolicyVersion = %+v", gv.PolicyVersion)
	}
	_, err = c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: &arn, VersionId: aws.String("v9")})
	wantCode(t, "GetPolicyVersion of a missing version", err, "NoSuchEntity")

	must[*iam.CreateRoleOutput](t, "CreateRole")(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(trust)}))
	must[*iam.CreateUserOutput](t, "CreateUser")(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u")}))
	must[*iam.AttachRolePolicyOutput](t, "AttachRolePolicy")(c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("r"), PolicyArn: &arn}))
	must[*iam.AttachUserPolicyOutput](t, "AttachUserPolicy")(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("u"), PolicyArn: &arn}))
	_, err = c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("r"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
	wantCode(t, "attaching an AWS managed policy", err, "NoSuchEntity")
	ar := must[*iam.ListAttachedRolePoliciesOutput](t, "ListAttachedRolePolicies")(c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("r")}))
	if len(ar.AttachedPolicies) != 1 || aws.ToString(ar.AttachedPolicies[0].PolicyArn) != arn || aws.ToString(ar.AttachedPolicies[0].PolicyName) != "read" {
		t.Errorf("ListAttachedRolePolicies = %+v", ar.AttachedPolicies)
	}
	au := must[*iam.ListAttachedUserPoliciesOutput](t, "ListAttachedUserPolicies")(c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("u")}))
	if len(au.AttachedPolicies) != 1 {
		t.Errorf("ListAttachedUserPolicies = %+v", au.AttachedPolicies)
	}
	gp := must[*iam.GetPolicyOutput](t, "GetPolicy")(c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: &arn}))
	if aws.ToInt32(gp.Policy.AttachmentCount) != 2 {
		t.Errorf("AttachmentCount = %d, want 2", aws.ToInt32(gp.Policy.AttachmentCount))
	}
	ents := must[*iam.ListEntitiesForPolicyOutput](t, "ListEntitiesForPolicy")(c.ListEntitiesForPolicy(ctx, &iam.ListEntitiesForPolicyInput{PolicyArn: &arn}))
	if len(ents.PolicyRoles) != 1 || len(ents.PolicyUsers) != 1 || aws.ToString(ents.PolicyRoles[0].RoleName) != "r" {
		t.Errorf("ListEntitiesForPolicy = %+v", ents)
	}
	only := must[*iam.ListPoliciesOutput](t, "ListPolicies")(c.ListPolicies(ctx, &iam.ListPoliciesInput{OnlyAttached: true, Scope: types.PolicyScopeTypeLocal}))
	if len(only.Policies) != 1 {
		t.Errorf("ListPolicies OnlyAttached = %+v", only.Policies)
	}
	awsOnly := must[*iam.ListPoliciesOutput](t, "ListPolicies")(c.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: types.PolicyScopeTypeAws}))
	if len(awsOnly.Policies) != 0 {
		t.Errorf("ListPolicies Scope=AWS = %+v", awsOnly.Policies)
	}
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: &arn})
	wantCode(t, "DeletePolicy while attached", err, "DeleteConflict")
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("r")})
	wantCode(t, "DeleteRole with an attached policy", err, "DeleteConflict")
	must[*iam.DetachRolePolicyOutput](t, "DetachRolePolicy")(c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("r"), PolicyArn: &arn}))
	must[*iam.DetachUserPolicyOutput](t, "DetachUserPolicy")(c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("u"), PolicyArn: &arn}))
	_, err = c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("r"), PolicyArn: &arn})
	wantCode(t, "DetachRolePolicy again", err, "NoSuchEntity")
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: &arn})
	wantCode(t, "DeletePolicy with versions", err, "DeleteConflict")
	for _, v := range []string{"v1", "v2", "v3", "v4"} {
		must[*iam.DeletePolicyVersionOutput](t, "DeletePolicyVersion")(c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: &arn, VersionId: aws.String(v)}))
	}
	must[*iam.DeletePolicyOutput](t, "DeletePolicy")(c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: &arn}))
	_, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: &arn})
	wantCode(t, "GetPolicy after DeletePolicy", err, "NoSuchEntity")
}

func TestUsersAndAccessKeys(t *testing.T) {
	s := newServer(t)
	c := adminIAM(s)
	ctx := t.Context()
	cu := must[*iam.CreateUserOutput](t, "CreateUser")(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("node"), Path: aws.String("/nodes/"),
		Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}))
	if aws.ToString(cu.User.Arn) != "arn:aws:iam::"+account+":user/nodes/node" || !strings.HasPrefix(aws.ToString(cu.User.UserId), "AIDA") {
		t.Errorf("CreateUser = %+v", cu.User)
	}
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("NODE")})
	wantCode(t, "CreateUser of a taken name", err, "EntityAlreadyExists")
	must[*iam.PutUserPolicyOutput](t, "PutUserPolicy")(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("node"), PolicyName: aws.String("p"), PolicyDocument: aws.String(perms)}))
	up := must[*iam.GetUserPolicyOutput](t, "GetUserPolicy")(c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("node"), PolicyName: aws.String("p")}))
	if doc(t, up.PolicyDocument) != perms {
		t.Errorf("GetUserPolicy = %+v", up)
	}
	lp := must[*iam.ListUserPoliciesOutput](t, "ListUserPolicies")(c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("node")}))
	if !slices.Equal(lp.PolicyNames, []string{"p"}) {
		t.Errorf("ListUserPolicies = %v", lp.PolicyNames)
	}
	for _, call := range []func() error{
		func() error {
			_, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String("node")})
			return err
		},
		func() error {
			_, err := c.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: aws.String("node")})
			return err
		},
		func() error {
			_, err := c.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{UserName: aws.String("node")})
			return err
		},
	} {
		if err := call(); err != nil {
			t.Errorf("listing what users have none of: %v", err)
		}
	}
	_, err = c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("node")})
	wantCode(t, "GetLoginProfile", err, "NoSuchEntity")

	k1 := must[*iam.CreateAccessKeyOutput](t, "CreateAccessKey")(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("node")}))
	key := k1.AccessKey
	if !strings.HasPrefix(aws.ToString(key.AccessKeyId), "AKIA") || len(aws.ToString(key.AccessKeyId)) != 20 || len(aws.ToString(key.SecretAccessKey)) != 40 || key.Status != types.StatusTypeActive {
		t.Errorf("CreateAccessKey = %+v", key)
	}
	must[*iam.CreateAccessKeyOutput](t, "CreateAccessKey")(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("node")}))
	_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("node")})
	wantCode(t, "a third access key", err, "LimitExceeded")
	lk := must[*iam.ListAccessKeysOutput](t, "ListAccessKeys")(c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("node")}))
	if len(lk.AccessKeyMetadata) != 2 || aws.ToString(lk.AccessKeyMetadata[0].AccessKeyId) != aws.ToString(key.AccessKeyId) {
		t.Errorf("ListAccessKeys = %+v", lk.AccessKeyMetadata)
	}

	// The key authenticates as the user, for STS and EKS alike.
	userCfg := awsConfig(s, aws.ToString(key.AccessKeyId), aws.ToString(key.SecretAccessKey))
	who := must[*sts.GetCallerIdentityOutput](t, "GetCallerIdentity as the user")(sts.NewFromConfig(userCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if aws.ToString(who.Arn) != aws.ToString(cu.User.Arn) || aws.ToString(who.UserId) != aws.ToString(cu.User.UserId) || aws.ToString(who.Account) != account {
		t.Errorf("GetCallerIdentity = %+v", who)
	}
	ekc := eks.NewFromConfig(userCfg)
	must[*eks.ListClustersOutput](t, "ListClusters as the user")(ekc.ListClusters(ctx, &eks.ListClustersInput{}))
	// A wrong secret is refused.
	bad := awsConfig(s, aws.ToString(key.AccessKeyId), strings.Repeat("x", 40))
	_, err = sts.NewFromConfig(bad).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, "a wrong secret", err, "SignatureDoesNotMatch")

	// Inactive: refused as IAM refuses it; Active again: accepted.
	must[*iam.UpdateAccessKeyOutput](t, "UpdateAccessKey")(c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("node"), AccessKeyId: key.AccessKeyId, Status: types.StatusTypeInactive}))
	_, err = sts.NewFromConfig(userCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, "an Inactive key with STS", err, "InvalidClientTokenId")
	_, err = ekc.ListClusters(ctx, &eks.ListClustersInput{})
	wantCode(t, "an Inactive key with EKS", err, "UnrecognizedClientException")
	_, err = iam.NewFromConfig(userCfg).GetUser(ctx, &iam.GetUserInput{})
	wantCode(t, "an Inactive key with IAM", err, "InvalidClientTokenId")
	must[*iam.UpdateAccessKeyOutput](t, "UpdateAccessKey")(c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("node"), AccessKeyId: key.AccessKeyId, Status: types.StatusTypeActive}))
	must[*sts.GetCallerIdentityOutput](t, "GetCallerIdentity with the key Active again")(sts.NewFromConfig(userCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	// Under authz.Rules a user may read, not write.
	_, err = iam.NewFromConfig(userCfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("x"), AssumeRolePolicyDocument: aws.String(trust)})
	wantCode(t, "CreateRole by a user under authz.Rules", err, "AccessDenied")

	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("node")})
	wantCode(t, "DeleteUser with access keys", err, "DeleteConflict")
	// Renamed, the user keeps its keys.
	must[*iam.UpdateUserOutput](t, "UpdateUser")(c.UpdateUser(ctx, &iam.UpdateUserInput{UserName: aws.String("node"), NewUserName: aws.String("node2")}))
	who = must[*sts.GetCallerIdentityOutput](t, "GetCallerIdentity after the rename")(sts.NewFromConfig(userCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if aws.ToString(who.Arn) != "arn:aws:iam::"+account+":user/nodes/node2" {
		t.Errorf("after the rename, GetCallerIdentity = %s", aws.ToString(who.Arn))
	}
	for _, k := range lk.AccessKeyMetadata {
		must[*iam.DeleteAccessKeyOutput](t, "DeleteAccessKey")(c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("node2"), AccessKeyId: k.AccessKeyId}))
	}
	_, err = sts.NewFromConfig(userCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, "a deleted key", err, "InvalidClientTokenId")
	_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("node2"), AccessKeyId: key.AccessKeyId})
	wantCode(t, "DeleteAccessKey again", err, "NoSuchEntity")
	must[*iam.DeleteUserPolicyOutput](t, "DeleteUserPolicy")(c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("node2"), PolicyName: aws.String("p")}))
	must[*iam.DeleteUserOutput](t, "DeleteUser")(c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("node2")}))
	users := must[*iam.ListUsersOutput](t, "ListUsers")(c.ListUsers(ctx, &iam.ListUsersInput{}))
	if len(users.Users) != 0 {
		t.Errorf("ListUsers after DeleteUser = %+v", users.Users)
	}
}

// TestSharedEndpoint: IAM and STS at POST / are told apart by the SigV4
// scope, and unsigned by the Action; each answers errors in its own XML
// namespace.
func TestSharedEndpoint(t *testing.T) {
	s := newServer(t)
	for _, tc := range []struct{ action, version, ns string }{
		{"ListRoles", "2010-05-08", httpx.NamespaceIAM},
		{"GetCallerIdentity", "2011-06-15", httpx.NamespaceSTS},
	} {
		form := url.Values{"Action": {tc.action}, "Version": {tc.version}}
		resp, err := s.HTTP.Client().Post(s.URL+"/", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), `xmlns="`+tc.ns+`"`) || !strings.Contains(string(b), "MissingAuthenticationToken") {
			t.Errorf("unsigned %s: %d %s", tc.action, resp.StatusCode, b)
		}
	}
}
