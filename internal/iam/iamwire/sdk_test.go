package iamwire_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/iam/iamwire"
)

const (
	account  = "111122223333"
	trustDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`
	permDoc  = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}`
)

var created = time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)

// fixture answers decoded requests with results built from them: enough
// state-free behaviour to put every encoder through the SDK's decoders.
func fixture(action string, in any) (any, error) {
	role := func(name, path string) iamwire.Role {
		return iamwire.Role{Path: iamwire.NormalizePath(path), RoleName: name, RoleId: "AROAEXAMPLEEXAMPLE12",
			Arn: iamwire.RoleARN(account, path, name), CreateDate: iamwire.TS(created), AssumeRolePolicyDocument: trustDoc,
			MaxSessionDuration: 3600}
	}
	user := func(name string) iamwire.User {
		return iamwire.User{Path: "/", UserName: name, UserId: "AIDAEXAMPLEEXAMPLE12", Arn: iamwire.UserARN(account, "/", name), CreateDate: iamwire.TS(created)}
	}
	pol := iamwire.Policy{PolicyName: "read", PolicyId: "ANPAEXAMPLEEXAMPLE12", Arn: iamwire.PolicyARN(account, "/", "read"), Path: "/",
		DefaultVersionId: "v1", AttachmentCount: 1, IsAttachable: true, Description: "d", CreateDate: iamwire.TS(created), UpdateDate: iamwire.TS(created),
		Tags: iamwire.TagList([]iamwire.Tag{{Key: "k", Value: "v"}})}
	switch in := in.(type) {
	case *iamwire.CreateRoleInput:
		r := role(in.RoleName, in.Path)
		r.AssumeRolePolicyDocument = iamwire.Document(in.AssumeRolePolicyDocument)
		r.Description = in.Description
		if in.MaxSessionDuration != nil {
			r.MaxSessionDuration = *in.MaxSessionDuration
		}
		r.Tags = iamwire.TagList(in.Tags)
		return iamwire.CreateRoleResult{Role: r}, nil
	case *iamwire.GetRoleInput:
		if in.RoleName == "missing" {
			return nil, iamwire.NoSuchEntity(iamwire.EntityRole, in.RoleName)
		}
		r := role(in.RoleName, "/")
		r.RoleLastUsed = &iamwire.RoleLastUsed{}
		r.PermissionsBoundary = &iamwire.Boundary{PermissionsBoundaryType: "PermissionsBoundaryPolicy", PermissionsBoundaryArn: pol.Arn}
		return iamwire.GetRoleResult{Role: r}, nil
	case *iamwire.ListRolesInput:
		all := []iamwire.Role{role("a", "/"), role("b", "/x/"), role("c", "/")}
		page, next, err := iamwire.Paginate(all, func(r iamwire.Role) string { return r.RoleName }, in.Marker, in.Max())
		if err != nil {
			return nil, err
		}
		return iamwire.ListRolesResult{Roles: iamwire.Roles{Members: page}, Page: iamwire.PageOf(next)}, nil
	case *iamwire.UpdateRoleInput:
		return iamwire.UpdateRoleResult{}, nil
	case *iamwire.UpdateAssumeRolePolicyInput, *iamwire.TagRoleInput, *iamwire.UntagRoleInput,
		*iamwire.PutRolePolicyInput, *iamwire.AttachRolePolicyInput, *iamwire.DetachRolePolicyInput, *iamwire.DeleteRolePolicyInput,
		*iamwire.DeletePolicyInput, *iamwire.DeletePolicyVersionInput, *iamwire.AttachUserPolicyInput, *iamwire.DetachUserPolicyInput,
		*iamwire.DeleteUserInput, *iamwire.DeleteAccessKeyInput, *iamwire.UpdateAccessKeyInput, *iamwire.PutUserPolicyInput,
		*iamwire.DeleteUserPolicyInput, *iamwire.SetDefaultPolicyVersionInput:
		return nil, nil
	case *iamwire.DeleteRoleInput:
		if in.RoleName == "busy" {
			return nil, iamwire.DeleteConflict(iamwire.MsgDeleteConflictPolicies)
		}
		return nil, nil
	case *iamwire.ListRoleTagsInput:
		return iamwire.ListRoleTagsResult{Tags: iamwire.Tags{Members: []iamwire.Tag{{Key: "team", Value: "blue"}}}}, nil
	case *iamwire.ListUserTagsInput:
		return iamwire.ListUserTagsResult{}, nil
	case *iamwire.ListInstanceProfilesForRoleInput:
		return iamwire.ListInstanceProfilesForRoleResult{}, nil
	case *iamwire.GetRolePolicyInput:
		return iamwire.GetRolePolicyResult{RoleName: in.RoleName, PolicyName: in.PolicyName, PolicyDocument: permDoc}, nil
	case *iamwire.ListRolePoliciesInput:
		return iamwire.ListRolePoliciesResult{PolicyNames: iamwire.Strings{Members: []string{"p1", "p2"}}}, nil
	case *iamwire.CreatePolicyInput:
		if in.PolicyName == "dup" {
			return nil, iamwire.PolicyAlreadyExists(in.PolicyName)
		}
		return iamwire.CreatePolicyResult{Policy: pol}, nil
	case *iamwire.GetPolicyInput:
		return iamwire.GetPolicyResult{Policy: pol}, nil
	case *iamwire.ListPoliciesInput:
		return iamwire.ListPoliciesResult{Policies: iamwire.Policies{Members: []iamwire.Policy{pol}}}, nil
	case *iamwire.GetPolicyVersionInput:
		return iamwire.GetPolicyVersionResult{PolicyVersion: iamwire.PolicyVersion{Document: permDoc, VersionId: in.VersionId, IsDefaultVersion: true, CreateDate: iamwire.TS(created)}}, nil
	case *iamwire.CreatePolicyVersionInput:
		if len(in.PolicyDocument) > 0 && in.PolicyDocument[0] != '{' {
			return nil, iamwire.MalformedPolicyDocument("Syntax errors in policy.")
		}
		return iamwire.CreatePolicyVersionResult{PolicyVersion: iamwire.PolicyVersion{VersionId: "v2", IsDefaultVersion: in.SetAsDefault != nil && *in.SetAsDefault, CreateDate: iamwire.TS(created)}}, nil
	case *iamwire.ListPolicyVersionsInput:
		return iamwire.ListPolicyVersionsResult{Versions: iamwire.PolicyVersions{Members: []iamwire.PolicyVersion{
			{VersionId: "v2", IsDefaultVersion: true, CreateDate: iamwire.TS(created)}, {VersionId: "v1", CreateDate: iamwire.TS(created)}}}}, nil
	case *iamwire.ListAttachedRolePoliciesInput:
		return iamwire.ListAttachedRolePoliciesResult{AttachedPolicies: iamwire.AttachedPolicies{Members: []iamwire.AttachedPolicy{{PolicyName: "read", PolicyArn: pol.Arn}}}}, nil
	case *iamwire.ListAttachedUserPoliciesInput:
		return iamwire.ListAttachedUserPoliciesResult{}, nil
	case *iamwire.ListEntitiesForPolicyInput:
		return iamwire.ListEntitiesForPolicyResult{PolicyRoles: iamwire.PolicyRoles{Members: []iamwire.PolicyRole{{RoleName: "app", RoleId: "AROAEXAMPLEEXAMPLE12"}}},
			PolicyUsers: iamwire.PolicyUsers{Members: []iamwire.PolicyUser{{UserName: "node", UserId: "AIDAEXAMPLEEXAMPLE12"}}}}, nil
	case *iamwire.CreateUserInput:
		u := user(in.UserName)
		u.Tags = iamwire.TagList(in.Tags)
		return iamwire.CreateUserResult{User: u}, nil
	case *iamwire.GetUserInput:
		return iamwire.GetUserResult{User: user(in.UserName)}, nil
	case *iamwire.ListUsersInput:
		return iamwire.ListUsersResult{Users: iamwire.Users{Members: []iamwire.User{user("node")}}}, nil
	case *iamwire.CreateAccessKeyInput:
		if in.UserName == "full" {
			return nil, iamwire.LimitExceeded("AccessKeysPerUser", iamwire.MaxAccessKeysPerUser)
		}
		return iamwire.CreateAccessKeyResult{AccessKey: iamwire.AccessKey{UserName: in.UserName, AccessKeyId: iamwire.NewAccessKeyID(),
			Status: "Active", SecretAccessKey: iamwire.NewSecretAccessKey(), CreateDate: iamwire.TS(created)}}, nil
	case *iamwire.ListAccessKeysInput:
		return iamwire.ListAccessKeysResult{AccessKeyMetadata: iamwire.AccessKeyMetadataList{Members: []iamwire.AccessKeyMetadata{
			{UserName: in.UserName, AccessKeyId: "AKIAEXAMPLEEXAMPLE12", Status: "Inactive", CreateDate: iamwire.TS(created)}}}}, nil
	case *iamwire.GetUserPolicyInput:
		return iamwire.GetUserPolicyResult{UserName: in.UserName, PolicyName: in.PolicyName, PolicyDocument: permDoc}, nil
	case *iamwire.ListUserPoliciesInput:
		return iamwire.ListUserPoliciesResult{}, nil
	case *iamwire.ListGroupsForUserInput:
		return iamwire.ListGroupsForUserResult{}, nil
	case *iamwire.ListSigningCertificatesInput:
		return iamwire.ListSigningCertificatesResult{}, nil
	case *iamwire.ListSSHPublicKeysInput:
		return iamwire.ListSSHPublicKeysResult{}, nil
	case *iamwire.ListServiceSpecificCredentialsInput:
		return iamwire.ListServiceSpecificCredentialsResult{}, nil
	case *iamwire.ListMFADevicesInput:
		return iamwire.ListMFADevicesResult{}, nil
	case *iamwire.GetAccessKeyLastUsedInput:
		return iamwire.GetAccessKeyLastUsedResult{UserName: "node", AccessKeyLastUsed: iamwire.AccessKeyLastUsed{ServiceName: "N/A", Region: "N/A"}}, nil
	case *iamwire.GetLoginProfileInput:
		return nil, iamwire.NoSuchLoginProfile(in.UserName)
	case *iamwire.DeleteLoginProfileInput:
		return nil, iamwire.NoSuchLoginProfile(in.UserName)
	case *iamwire.ListVirtualMFADevicesInput:
		return iamwire.ListVirtualMFADevicesResult{}, nil
	case *iamwire.PutRolePermissionsBoundaryInput, *iamwire.DeleteRolePermissionsBoundaryInput,
		*iamwire.PutUserPermissionsBoundaryInput, *iamwire.DeleteUserPermissionsBoundaryInput:
		return nil, nil
	}
	return nil, &iamwire.Error{Code: "InternalFailure", Status: 500, Message: "fixture has no answer for " + action}
}

// iamFamily is the IAM handler family as podid's host serves it: its
// errors are written by the host's one awsQuery error writer.
var iamFamily = &httpx.Family{Name: "iam", Protocol: httpx.AWSQuery, Namespace: httpx.NamespaceIAM, MaxBody: 1 << 20}

// newServer serves fixture through iamwire's decoder and encoder, mounted
// in podid's HTTP host.
func newServer(t testing.TB) *httptest.Server {
	h := httpx.New(httpx.Config{Logger: slog.New(slog.DiscardHandler)})
	err := h.Handle("POST /{$}", iamFamily, "iam", func(w http.ResponseWriter, r *http.Request) error {
		body, err := httpx.ReadBody(r)
		if err != nil {
			return err
		}
		params, err := iamwire.ParseForm(r.URL.RawQuery, string(body))
		if err != nil {
			return err
		}
		action, in, err := iamwire.ParseRequest(params)
		if err != nil {
			return err
		}
		res, err := fixture(action, in)
		if err != nil {
			return err
		}
		b, err := iamwire.Marshal(action, httpx.RequestID(r.Context()), res)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/xml")
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t testing.TB) *iam.Client {
	srv := newServer(t)
	return iam.New(iam.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAEXAMPLEEXAMPLE12", "secret", ""),
		HTTPClient:   srv.Client(),
	})
}

func decodeDoc(t *testing.T, s *string) string {
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

func TestSDKRoles(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	cr, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), Path: aws.String("/pods/"),
		AssumeRolePolicyDocument: aws.String(trustDoc), Description: aws.String("pod role"), MaxSessionDuration: aws.Int32(7200),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("blue")}, {Key: aws.String("env"), Value: aws.String("")}}})
	if err != nil {
		t.Fatal(err)
	}
	r := cr.Role
	if *r.RoleName != "app" || *r.Path != "/pods/" || *r.Arn != "arn:aws:iam::"+account+":role/pods/app" || *r.Description != "pod role" ||
		*r.MaxSessionDuration != 7200 || !r.CreateDate.Equal(created) || len(r.Tags) != 2 || *r.Tags[0].Key != "team" || *r.Tags[1].Value != "" {
		t.Errorf("CreateRole: %+v", r)
	}
	if *r.AssumeRolePolicyDocument == trustDoc {
		t.Error("document not URL-encoded")
	}
	if got := decodeDoc(t, r.AssumeRolePolicyDocument); got != trustDoc {
		t.Errorf("document round trip: %s", got)
	}

	gr, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	if *gr.Role.PermissionsBoundary.PermissionsBoundaryArn != "arn:aws:iam::"+account+":policy/read" ||
		gr.Role.PermissionsBoundary.PermissionsBoundaryType != types.PermissionsBoundaryAttachmentTypePolicy || gr.Role.RoleLastUsed == nil {
		t.Errorf("GetRole: %+v, %v", gr, err)
	}
	_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("missing")})
	var nse *types.NoSuchEntityException
	if !errors.As(err, &nse) || nse.ErrorMessage() != "The role with name missing cannot be found." {
		t.Errorf("GetRole missing: %v", err)
	}

	// Paging: the SDK's paginator follows the markers.
	var names []string
	p := iam.NewListRolesPaginator(c, &iam.ListRolesInput{MaxItems: aws.Int32(2)})
	for pages := 0; p.HasMorePages() && pages < 5; pages++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Roles {
			names = append(names, *r.RoleName)
		}
	}
	if diff := cmp.Diff(names, []string{"a", "b", "c"}); diff != "" {
		t.Errorf("ListRoles pages (-got +want):\n%s", diff)
	}

	for name, call := range map[string]func() error{
		"UpdateRole": func() error {
			_, err := c.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: aws.String("app"), Description: aws.String("")})
			return err
		},
		"UpdateAssumeRolePolicy": func() error {
			_, err := c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("app"), PolicyDocument: aws.String(trustDoc)})
			return err
		},
		"TagRole": func() error {
			_, err := c.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String("app"), Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}})
			return err
		},
		"UntagRole": func() error {
			_, err := c.UntagRole(ctx, &iam.UntagRoleInput{RoleName: aws.String("app"), TagKeys: []string{"a"}})
			return err
		},
		"DeleteRole": func() error {
			_, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("app")})
			return err
		},
		"PutRolePolicy": func() error {
			_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("p"), PolicyDocument: aws.String(permDoc)})
			return err
		},
		"DeleteRolePolicy": func() error {
			_, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("p")})
			return err
		},
		"AttachRolePolicy": func() error {
			_, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")})
			return err
		},
		"DetachRolePolicy": func() error {
			_, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")})
			return err
		},
	} {
		if err := call(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("busy")})
	var dc *types.DeleteConflictException
	if !errors.As(err, &dc) || dc.ErrorMessage() != iamwire.MsgDeleteConflictPolicies {
		t.Errorf("DeleteRole busy: %v", err)
	}

	tags, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: aws.String("app")})
	if err != nil || len(tags.Tags) != 1 || *tags.Tags[0].Value != "blue" || tags.IsTruncated {
		t.Errorf("ListRoleTags: %+v %v", tags, err)
	}
	ip, err := c.ListInstanceProfilesForRole(ctx, &iam.ListInstanceProfilesForRoleInput{RoleName: aws.String("app")})
	if err != nil || len(ip.InstanceProfiles) != 0 {
		t.Errorf("ListInstanceProfilesForRole: %+v %v", ip, err)
	}
	gp, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("p")})
	if err != nil || *gp.PolicyName != "p" || decodeDoc(t, gp.PolicyDocument) != permDoc {
		t.Errorf("GetRolePolicy: %+v %v", gp, err)
	}
	lp, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("app")})
	if err != nil || !cmp.Equal(lp.PolicyNames, []string{"p1", "p2"}) {
		t.Errorf("ListRolePolicies: %+v %v", lp, err)
	}
	la, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("app")})
	if err != nil || len(la.AttachedPolicies) != 1 || *la.AttachedPolicies[0].PolicyName != "read" {
		t.Errorf("ListAttachedRolePolicies: %+v %v", la, err)
	}
}

func TestSDKPolicies(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	cp, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("read"), PolicyDocument: aws.String(permDoc)})
	if err != nil {
		t.Fatal(err)
	}
	p := cp.Policy
	if *p.PolicyName != "read" || *p.PolicyId != "ANPAEXAMPLEEXAMPLE12" || *p.DefaultVersionId != "v1" || *p.AttachmentCount != 1 ||
		!p.IsAttachable || *p.PermissionsBoundaryUsageCount != 0 || !p.UpdateDate.Equal(created) || len(p.Tags) != 1 {
		t.Errorf("CreatePolicy: %+v", p)
	}
	_, err = c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("dup"), PolicyDocument: aws.String(permDoc)})
	var ee *types.EntityAlreadyExistsException
	if !errors.As(err, &ee) || ee.ErrorMessage() != "A policy called dup already exists. Duplicate names are not allowed." {
		t.Errorf("CreatePolicy dup: %v", err)
	}
	if _, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: p.Arn}); err != nil {
		t.Error(err)
	}
	gv, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: p.Arn, VersionId: aws.String("v1")})
	if err != nil || *gv.PolicyVersion.VersionId != "v1" || !gv.PolicyVersion.IsDefaultVersion || decodeDoc(t, gv.PolicyVersion.Document) != permDoc {
		t.Errorf("GetPolicyVersion: %+v %v", gv, err)
	}
	cv, err := c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: p.Arn, PolicyDocument: aws.String(permDoc), SetAsDefault: true})
	if err != nil || *cv.PolicyVersion.VersionId != "v2" || !cv.PolicyVersion.IsDefaultVersion || cv.PolicyVersion.Document != nil {
		t.Errorf("CreatePolicyVersion: %+v %v", cv, err)
	}
	_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: p.Arn, PolicyDocument: aws.String("nope")})
	var mp *types.MalformedPolicyDocumentException
	if !errors.As(err, &mp) || mp.ErrorMessage() != "Syntax errors in policy." {
		t.Errorf("CreatePolicyVersion malformed: %v", err)
	}
	lv, err := c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: p.Arn})
	if err != nil || len(lv.Versions) != 2 || !lv.Versions[0].IsDefaultVersion {
		t.Errorf("ListPolicyVersions: %+v %v", lv, err)
	}
	lp, err := c.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: types.PolicyScopeTypeLocal, OnlyAttached: true})
	if err != nil || len(lp.Policies) != 1 {
		t.Errorf("ListPolicies: %+v %v", lp, err)
	}
	le, err := c.ListEntitiesForPolicy(ctx, &iam.ListEntitiesForPolicyInput{PolicyArn: p.Arn})
	if err != nil || len(le.PolicyRoles) != 1 || *le.PolicyRoles[0].RoleName != "app" || len(le.PolicyUsers) != 1 || len(le.PolicyGroups) != 0 {
		t.Errorf("ListEntitiesForPolicy: %+v %v", le, err)
	}
	for name, call := range map[string]func() error{
		"DeletePolicyVersion": func() error {
			_, err := c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: p.Arn, VersionId: aws.String("v1")})
			return err
		},
		"SetDefaultPolicyVersion": func() error {
			_, err := c.SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: p.Arn, VersionId: aws.String("v1")})
			return err
		},
		"DeletePolicy": func() error {
			_, err := c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: p.Arn})
			return err
		},
	} {
		if err := call(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSDKUsers(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	cu, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("node"), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	if err != nil || *cu.User.UserName != "node" || *cu.User.UserId != "AIDAEXAMPLEEXAMPLE12" || *cu.User.Arn != "arn:aws:iam::"+account+":user/node" || len(cu.User.Tags) != 1 {
		t.Fatalf("CreateUser: %+v %v", cu, err)
	}
	if gu, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("node")}); err != nil || !gu.User.CreateDate.Equal(created) {
		t.Errorf("GetUser: %+v %v", gu, err)
	}
	if lu, err := c.ListUsers(ctx, &iam.ListUsersInput{}); err != nil || len(lu.Users) != 1 {
		t.Errorf("ListUsers: %+v %v", lu, err)
	}
	ck, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("node")})
	if err != nil || len(*ck.AccessKey.AccessKeyId) != 20 || len(*ck.AccessKey.SecretAccessKey) != 40 || ck.AccessKey.Status != types.StatusTypeActive {
		t.Errorf("CreateAccessKey: %+v %v", ck, err)
	}
	_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("full")})
	var le *types.LimitExceededException
	if !errors.As(err, &le) || le.ErrorMessage() != "Cannot exceed quota for AccessKeysPerUser: 2" {
		t.Errorf("CreateAccessKey over quota: %v", err)
	}
	lk, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("node")})
	if err != nil || len(lk.AccessKeyMetadata) != 1 || lk.AccessKeyMetadata[0].Status != types.StatusTypeInactive {
		t.Errorf("ListAccessKeys: %+v %v", lk, err)
	}
	if lu, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String("AKIAEXAMPLEEXAMPLE12")}); err != nil || *lu.AccessKeyLastUsed.ServiceName != "N/A" {
		t.Errorf("GetAccessKeyLastUsed: %+v %v", lu, err)
	}
	gp, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("node"), PolicyName: aws.String("p")})
	if err != nil || decodeDoc(t, gp.PolicyDocument) != permDoc {
		t.Errorf("GetUserPolicy: %+v %v", gp, err)
	}
	_, err = c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("node")})
	var nse *types.NoSuchEntityException
	if !errors.As(err, &nse) {
		t.Errorf("GetLoginProfile: %v", err)
	}
	for name, call := range map[string]func() error{
		"UpdateAccessKey": func() error {
			_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("node"), AccessKeyId: aws.String("AKIAEXAMPLEEXAMPLE12"), Status: types.StatusTypeInactive})
			return err
		},
		"DeleteAccessKey": func() error {
			_, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("node"), AccessKeyId: aws.String("AKIAEXAMPLEEXAMPLE12")})
			return err
		},
		"PutUserPolicy": func() error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("node"), PolicyName: aws.String("p"), PolicyDocument: aws.String(permDoc)})
			return err
		},
		"DeleteUserPolicy": func() error {
			_, err := c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("node"), PolicyName: aws.String("p")})
			return err
		},
		"AttachUserPolicy": func() error {
			_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("node"), PolicyArn: aws.String("arn:aws:iam::" + account + ":policy/read")})
			return err
		},
		"DetachUserPolicy": func() error {
			_, err := c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("node"), PolicyArn: aws.String("arn:aws:iam::" + account + ":policy/read")})
			return err
		},
		"ListUserPolicies": func() error {
			out, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("node")})
			if err == nil && (out.PolicyNames == nil || len(out.PolicyNames) != 0) {
				return errors.New("want an empty PolicyNames")
			}
			return err
		},
		"ListAttachedUserPolicies": func() error {
			_, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("node")})
			return err
		},
		"ListGroupsForUser": func() error {
			_, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String("node")})
			return err
		},
		"ListSigningCertificates": func() error {
			_, err := c.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{UserName: aws.String("node")})
			return err
		},
		"ListSSHPublicKeys": func() error {
			_, err := c.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{UserName: aws.String("node")})
			return err
		},
		"ListServiceSpecificCredentials": func() error {
			_, err := c.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: aws.String("node")})
			return err
		},
		"ListMFADevices": func() error {
			_, err := c.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: aws.String("node")})
			return err
		},
		"ListVirtualMFADevices": func() error {
			out, err := c.ListVirtualMFADevices(ctx, &iam.ListVirtualMFADevicesInput{AssignmentStatus: types.AssignmentStatusTypeAssigned})
			if err == nil && len(out.VirtualMFADevices) != 0 {
				return errors.New("want no devices")
			}
			return err
		},
		"DeleteLoginProfile (NoSuchEntity)": func() error {
			_, err := c.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String("node")})
			if !errors.As(err, new(*types.NoSuchEntityException)) {
				return fmt.Errorf("want NoSuchEntity, got %v", err)
			}
			return nil
		},
		"PutUserPermissionsBoundary": func() error {
			_, err := c.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: aws.String("node"), PermissionsBoundary: aws.String("arn:aws:iam::" + account + ":policy/read")})
			return err
		},
		"DeleteUserPermissionsBoundary": func() error {
			_, err := c.DeleteUserPermissionsBoundary(ctx, &iam.DeleteUserPermissionsBoundaryInput{UserName: aws.String("node")})
			return err
		},
		"PutRolePermissionsBoundary": func() error {
			_, err := c.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String("app"), PermissionsBoundary: aws.String("arn:aws:iam::" + account + ":policy/read")})
			return err
		},
		"DeleteRolePermissionsBoundary": func() error {
			_, err := c.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: aws.String("app")})
			return err
		},
		"ListUserTags": func() error {
			_, err := c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("node")})
			return err
		},
		"DeleteUser": func() error {
			_, err := c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("node")})
			return err
		},
	} {
		if err := call(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestSDKValidation: what the SDK sends unchecked, the decoder refuses as
// IAM's front end does.
func TestSDKValidation(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"role name pattern", func() error {
			_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("a b"), AssumeRolePolicyDocument: aws.String(trustDoc)})
			return err
		}, `1 validation error detected: Value 'a b' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`},
		{"role name length and path", func() error {
			_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(string(make([]byte, 65)) + "x"), Path: aws.String("nopath"), AssumeRolePolicyDocument: aws.String(trustDoc)})
			return err
		}, "2 validation errors detected: "},
		{"max session duration", func() error {
			_, err := c.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: aws.String("app"), MaxSessionDuration: aws.Int32(60)})
			return err
		}, "1 validation error detected: Value '60' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600"},
		{"max items", func() error {
			_, err := c.ListRoles(ctx, &iam.ListRolesInput{MaxItems: aws.Int32(1001)})
			return err
		}, "1 validation error detected: Value '1001' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 1000"},
		{"tag key", func() error {
			_, err := c.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String("app"), Tags: []types.Tag{{Key: aws.String("a*"), Value: aws.String("b")}}})
			return err
		}, `1 validation error detected: Value 'a*' at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationError" {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			if got := ae.ErrorMessage(); got != c.want && !(len(c.want) < len(got) && got[:len(c.want)] == c.want && c.want[len(c.want)-1] == ' ') {
				t.Errorf("message\n %q\nwant\n %q", got, c.want)
			}
		})
	}
}
