package iamwire_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/podid/podid/internal/iam/iamwire"
)

// BenchmarkParseRequest: decoding and validating a CreateRole form with tags.
func BenchmarkParseRequest(b *testing.B) {
	form, err := url.ParseQuery("Action=CreateRole&Version=2010-05-08&RoleName=app&Path=%2Fpods%2F&AssumeRolePolicyDocument=" +
		url.QueryEscape(trustDoc) + "&Tags.member.1.Key=team&Tags.member.1.Value=blue&MaxSessionDuration=3600")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := iamwire.ParseRequest(form); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarshalGetRole: encoding a GetRole answer.
func BenchmarkMarshalGetRole(b *testing.B) {
	res := iamwire.GetRoleResult{Role: iamwire.Role{Path: "/", RoleName: "app", RoleId: "AROAEXAMPLEEXAMPLE12",
		Arn: iamwire.RoleARN(account, "/", "app"), CreateDate: iamwire.TS(time.Now()), AssumeRolePolicyDocument: trustDoc,
		MaxSessionDuration: 3600, Tags: iamwire.TagList([]iamwire.Tag{{Key: "team", Value: "blue"}})}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iamwire.Marshal("GetRole", "req", res); err != nil {
			b.Fatal(err)
		}
	}
}
