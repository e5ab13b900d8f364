package iamwire_test

import (
	"errors"
	"testing"

	"github.com/podid/podid/internal/iam/iamwire"
)

// FuzzParseRequest: any form, never a panic; a decoded input encodes back
// into a response without error.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"Action=CreateRole&Version=2010-05-08&RoleName=r&AssumeRolePolicyDocument=%7B%7D&Tags.member.1.Key=a&Tags.member.1.Value=b",
		"Action=UntagRole&Version=2010-05-08&RoleName=r&TagKeys.member.1=x&TagKeys.member.99999999999999=y&TagKeys.member.-1=z",
		"Action=ListRoles&Version=2010-05-08&MaxItems=99999999999&Marker=%FF",
		"Action=ListPolicies&Version=2010-05-08&OnlyAttached=TRUE&Scope=x",
		"Action=TagUser&Version=2010-05-08&UserName=u&Tags.member.1.Key=&Tags.member.1.Valu=x&Tags=",
		"%zz&&==",
	} {
		f.Add("", s)
	}
	f.Fuzz(func(t *testing.T, query, body string) {
		params, err := iamwire.ParseForm(query, body)
		if err != nil {
			return
		}
		action, in, err := iamwire.ParseRequest(params)
		if err != nil {
			var e *iamwire.Error
			if !errors.As(err, &e) || e.Code == "" || e.Status < 400 {
				t.Fatalf("bad error %T %+v", err, err)
			}
			return
		}
		if in == nil {
			t.Fatalf("%s: nil input", action)
		}
		if _, err := iamwire.Marshal(action, "r", nil); err != nil {
			t.Fatal(err)
		}
	})
}
