package iamwire_test

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/internal/iam/iamwire"
	"github.com/podid/podid/internal/iam/policy"
)

func TestParseRequest(t *testing.T) {
	form := func(s string) url.Values {
		v, err := url.ParseQuery(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name string
		form string
		want any
		err  *iamwire.Error
	}{
		{name: "tags and numbers", form: "Action=CreateRole&Version=2010-05-08&RoleName=r&AssumeRolePolicyDocument=%7B%7D&MaxSessionDuration=3600&Tags.member.2.Key=b&Tags.member.2.Value=2&Tags.member.1.Key=a&Tags.member.1.Value=",
			want: &iamwire.CreateRoleInput{RoleName: "r", AssumeRolePolicyDocument: "{}", MaxSessionDuration: ptr(int32(3600)), Tags: []iamwire.Tag{{Key: "a"}, {Key: "b", Value: "2"}}}},
		{name: "member list", form: "Action=UntagRole&Version=2010-05-08&RoleName=r&TagKeys.member.1=x&TagKeys.member.2=y",
			want: &iamwire.UntagRoleInput{RoleName: "r", TagKeys: []string{"x", "y"}}},
		{name: "empty member list", form: "Action=UntagRole&Version=2010-05-08&RoleName=r&TagKeys=",
			want: &iamwire.UntagRoleInput{RoleName: "r", TagKeys: []string{}}},
		{name: "paging and bool", form: "Action=ListPolicies&Version=2010-05-08&Scope=Local&OnlyAttached=true&Marker=abc&MaxItems=5",
			want: &iamwire.ListPoliciesInput{Scope: "Local", OnlyAttached: ptr(true), Paging: iamwire.Paging{Marker: "abc", MaxItems: ptr(int32(5))}}},
		{name: "optional description set empty", form: "Action=UpdateRole&Version=2010-05-08&RoleName=r&Description=",
			want: &iamwire.UpdateRoleInput{RoleName: "r", Description: ptr("")}},
		{name: "no action", form: "Version=2010-05-08", err: &iamwire.Error{Code: "MissingAction", Message: "The request is missing an action or a required parameter."}},
		{name: "no version", form: "Action=GetRole", err: &iamwire.Error{Code: "MissingParameter", Message: "The request must contain the parameter Version"}},
		{name: "unknown action", form: "Action=CreateGroup&Version=2010-05-08", err: &iamwire.Error{Code: "InvalidAction", Message: "Could not find operation CreateGroup for version 2010-05-08"}},
		{name: "other version", form: "Action=GetRole&Version=2011-06-15", err: &iamwire.Error{Code: "InvalidAction", Message: "Could not find operation GetRole for version 2011-06-15"}},
		{name: "required missing", form: "Action=CreateRole&Version=2010-05-08&RoleName=r",
			err: &iamwire.Error{Code: "ValidationError", Message: "1 validation error detected: Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null"}},
		{name: "required list missing", form: "Action=TagRole&Version=2010-05-08&RoleName=r",
			err: &iamwire.Error{Code: "ValidationError", Message: "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null"}},
		{name: "tag without value", form: "Action=TagRole&Version=2010-05-08&RoleName=r&Tags.member.1.Key=k",
			err: &iamwire.Error{Code: "ValidationError", Message: "1 validation error detected: Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null"}},
		{name: "enum", form: "Action=UpdateAccessKey&Version=2010-05-08&AccessKeyId=AKIAEXAMPLEEXAMPLE12&Status=Off",
			err: &iamwire.Error{Code: "ValidationError", Message: "1 validation error detected: Value 'Off' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive, Expired]"}},
		{name: "bool", form: "Action=CreatePolicyVersion&Version=2010-05-08&PolicyArn=arn:aws:iam::111122223333:policy/p&PolicyDocument=%7B%7D&SetAsDefault=yes",
			err: &iamwire.Error{Code: "ValidationError", Message: "1 validation error detected: Value 'yes' at 'setAsDefault' failed to satisfy constraint: Member must be a valid boolean"}},
		{name: "path", form: "Action=CreateUser&Version=2010-05-08&UserName=u&Path=/a",
			err: &iamwire.Error{Code: "ValidationError", Message: `1 validation error detected: Value '/a' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)`}},
		{name: "policy ARN too short", form: "Action=GetPolicy&Version=2010-05-08&PolicyArn=arn:x",
			err: &iamwire.Error{Code: "ValidationError", Message: "1 validation error detected: Value 'arn:x' at 'policyArn' failed to satisfy constraint: Member must have length greater than or equal to 20"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, got, perr := iamwire.ParseRequest(form(c.form))
			var err *iamwire.Error
			if perr != nil && !errors.As(perr, &err) {
				t.Fatalf("err %T %v", perr, perr)
			}
			if c.err != nil {
				if err == nil || err.Code != c.err.Code || err.Message != c.err.Message || err.Status != 400 {
					t.Fatalf("err = %+v, want %+v", err, c.err)
				}
				return
			}
			if perr != nil {
				t.Fatal(perr)
			}
			if diff := cmp.Diff(got, c.want); diff != "" {
				t.Errorf("input (-got +want):\n%s", diff)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestMarshal(t *testing.T) {
	b, err := iamwire.Marshal("GetRolePolicy", "r-1", iamwire.GetRolePolicyResult{RoleName: "app", PolicyName: "p",
		PolicyDocument: `{"Statement": {"Action": "s3:*", "Resource": "arn:aws:s3:::a+b/*"}}`})
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<GetRolePolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRolePolicyResult><RoleName>app</RoleName><PolicyName>p</PolicyName>` +
		`<PolicyDocument>%7B%22Statement%22%3A%20%7B%22Action%22%3A%20%22s3%3A%2A%22%2C%20%22Resource%22%3A%20%22arn%3Aaws%3As3%3A%3A%3Aa%2Bb%2F%2A%22%7D%7D</PolicyDocument>` +
		`</GetRolePolicyResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></GetRolePolicyResponse>`
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
	b, err = iamwire.Marshal("DeleteRole", "r-2", nil)
	if err != nil || !strings.Contains(string(b), `<DeleteRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></DeleteRoleResponse>`) {
		t.Errorf("DeleteRole: %s %v", b, err)
	}
}

func TestIDsAndARNs(t *testing.T) {
	id := regexp.MustCompile(`^(AROA|AIDA|ANPA)[A-Z2-7]{17}$`)
	for _, p := range []string{iamwire.PrefixRole, iamwire.PrefixUser, iamwire.PrefixPolicy} {
		a, b := iamwire.NewID(p), iamwire.NewID(p)
		if !id.MatchString(a) || a[:4] != p || a == b {
			t.Errorf("NewID(%s) = %s, %s", p, a, b)
		}
	}
	if k := iamwire.NewAccessKeyID(); !regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`).MatchString(k) {
		t.Errorf("NewAccessKeyID = %s", k)
	}
	if s := iamwire.NewSecretAccessKey(); len(s) != 40 {
		t.Errorf("NewSecretAccessKey = %s", s)
	}
	if got := iamwire.RoleARN("111122223333", "", "app"); got != "arn:aws:iam::111122223333:role/app" {
		t.Error(got)
	}
	if got := iamwire.PolicyARN("111122223333", "/team/a/", "read"); got != "arn:aws:iam::111122223333:policy/team/a/read" {
		t.Error(got)
	}
	for arn, want := range map[string]iamwire.ParsedARN{
		"arn:aws:iam::111122223333:role/app":           {Account: "111122223333", Type: "role", Path: "/", Name: "app"},
		"arn:aws:iam::111122223333:policy/team/a/read": {Account: "111122223333", Type: "policy", Path: "/team/a/", Name: "read"},
		"arn:aws:iam::aws:policy/ReadOnlyAccess":       {Account: "aws", Type: "policy", Path: "/", Name: "ReadOnlyAccess"},
	} {
		got, err := iamwire.ParseARN(arn)
		if err != nil || got != want {
			t.Errorf("ParseARN(%s) = %+v, %v", arn, got, err)
		}
	}
	for _, bad := range []string{"", "arn:aws:s3:::b", "arn:aws:iam::1:role/", "arn:aws:iam::1:root"} {
		if _, err := iamwire.ParseARN(bad); err == nil {
			t.Errorf("ParseARN(%q) accepted", bad)
		}
	}
}

func TestPaginate(t *testing.T) {
	items := []string{"a", "b", "c", "d", "e"}
	id := func(s string) string { return s }
	var got []string
	marker := ""
	for range 10 {
		page, next, err := iamwire.Paginate(items, id, marker, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if next == "" {
			break
		}
		marker = next
	}
	if diff := cmp.Diff(got, items); diff != "" {
		t.Errorf("pages (-got +want):\n%s", diff)
	}
	var ie *iamwire.Error
	if _, _, err := iamwire.Paginate(items, id, "%%%", 2); !errors.As(err, &ie) || ie.Code != iamwire.CodeInvalidInput {
		t.Errorf("bad marker: %v", err)
	}
	// A marker stays valid when its item is deleted meanwhile.
	_, next, _ := iamwire.Paginate(items, id, "", 2)
	page, _, _ := iamwire.Paginate([]string{"a", "c", "d"}, id, next, 2)
	if diff := cmp.Diff(page, []string{"c", "d"}); diff != "" {
		t.Errorf("after delete (-got +want):\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		got        *iamwire.Error
		code, msg  string
		httpStatus int
	}{
		{iamwire.NoSuchEntity(iamwire.EntityRole, "app"), "NoSuchEntity", "The role with name app cannot be found.", 404},
		{iamwire.NoSuchEntity(iamwire.EntityUser, "u"), "NoSuchEntity", "The user with name u cannot be found.", 404},
		{iamwire.NoSuchEntityPolicy(iamwire.EntityRole, "p"), "NoSuchEntity", "The role policy with name p cannot be found.", 404},
		{iamwire.NoSuchPolicy("arn:aws:iam::1:policy/p"), "NoSuchEntity", "Policy arn:aws:iam::1:policy/p does not exist or is not attachable.", 404},
		{iamwire.AlreadyExists(iamwire.EntityRole, "app"), "EntityAlreadyExists", "Role with name app already exists.", 409},
		{iamwire.AlreadyExists(iamwire.EntityUser, "u"), "EntityAlreadyExists", "User with name u already exists.", 409},
		{iamwire.DeleteConflict(iamwire.MsgDeleteConflictAttached), "DeleteConflict", "Cannot delete entity, must detach all policies first.", 409},
		{iamwire.PolicyVersionsExceeded("arn"), "LimitExceeded", "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.", 409},
		{iamwire.MalformedPolicyDocument("Syntax errors in policy."), "MalformedPolicyDocument", "Syntax errors in policy.", 400},
		{iamwire.LimitExceeded(iamwire.QuotaTrustPolicySize, iamwire.MaxTrustPolicySize), "LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048", 409},
		{iamwire.InlinePolicySizeExceeded(iamwire.EntityRole, "app", iamwire.MaxRolePolicySize), "LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role app", 409},
	}
	for _, c := range cases {
		if c.got.Code != c.code || c.got.Message != c.msg || c.got.Status != c.httpStatus {
			t.Errorf("got %+v, want %s %d %q", c.got, c.code, c.httpStatus, c.msg)
		}
	}
}

func TestFromPolicyError(t *testing.T) {
	_, perr := policy.Parse("p", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`, policy.Trust)
	var e *iamwire.Error
	if err := iamwire.FromPolicyError(perr); !errors.As(err, &e) || e.Code != "MalformedPolicyDocument" || e.Message != "Missing required field Principal" || e.Status != 400 {
		t.Errorf("FromPolicyError = %v", err)
	}
	other := errors.New("x")
	if iamwire.FromPolicyError(other) != other {
		t.Error("other errors must pass through")
	}
}

func TestPolicySize(t *testing.T) {
	if got := iamwire.PolicySize("{\n  \"a\": \"b c\"\t}\r\n"); got != 10 {
		t.Errorf("PolicySize = %d, want 10", got)
	}
}

func TestTimestamp(t *testing.T) {
	b, _ := iamwire.Marshal("GetUser", "r", iamwire.GetUserResult{User: iamwire.User{CreateDate: iamwire.TS(time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600)))}})
	if !strings.Contains(string(b), "<CreateDate>2026-01-02T02:04:05Z</CreateDate>") {
		t.Errorf("%s", b)
	}
}
