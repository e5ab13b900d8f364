package iamwire_test

import (
	"fmt"
	"net/url"
	"time"

	"github.com/podid/podid/internal/iam/iamwire"
)

// A handler's round: decode the form, act on the typed input, encode the
// result (or return an *iamwire.Error for the host to write).
func Example() {
	form, _ := url.ParseQuery("Action=GetRole&Version=2010-05-08&RoleName=app")
	action, in, err := iamwire.ParseRequest(form)
	if err != nil {
		panic(err) // a handler returns it: the host writes IAM's ErrorResponse
	}
	switch in := in.(type) {
	case *iamwire.GetRoleInput:
		role := iamwire.Role{
			Path: "/", RoleName: in.RoleName, RoleId: "AROAEXAMPLEEXAMPLE12",
			Arn:                      iamwire.RoleARN("111122223333", "/", in.RoleName),
			CreateDate:               iamwire.TS(time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)),
			AssumeRolePolicyDocument: `{"Version":"2012-10-17"}`,
			MaxSessionDuration:       3600,
		}
		b, _ := iamwire.Marshal(action, "req-1", iamwire.GetRoleResult{Role: role})
		fmt.Println(string(b))
	}
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?>
	// <GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRoleResult><Role><Path>/</Path><RoleName>app</RoleName><RoleId>AROAEXAMPLEEXAMPLE12</RoleId><Arn>arn:aws:iam::111122223333:role/app</Arn><CreateDate>2026-12-05T06:00:00Z</CreateDate><AssumeRolePolicyDocument>%7B%22Version%22%3A%222012-10-17%22%7D</AssumeRolePolicyDocument><MaxSessionDuration>3600</MaxSessionDuration></Role></GetRoleResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></GetRoleResponse>
}
