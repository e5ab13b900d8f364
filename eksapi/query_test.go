package eksapi_test

import (
	"net/url"
	"testing"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/iam/iamwire"
)

func TestCheckMemberIndices(t *testing.T) {
	for form, ok := range map[string]bool{
		"Tags.member.1.Key=k&Tags.member.1000.Value=v":          true,
		"PolicyArns.member.2.arn=a&TransitiveTagKeys.member.3=": true,
		"Tags.member.01.Key=k":                                  false,
		"Tags.member.0.Key=k":                                   false,
		"Tags.member.1001.Key=k":                                false,
		"Tags.member.+1.Key=k":                                  false,
		"Tags.member.x.Key=k":                                   false,
		"Tags.member..Key=k":                                    false,
	} {
		params, _ := url.ParseQuery(form)
		if err := eksapi.CheckMemberIndices(params); (err == nil) != ok {
			t.Errorf("%s: %v, want ok=%v", form, err, ok)
		}
	}
	// IAM's form parser refuses them too.
	if _, err := iamwire.ParseForm("", "Action=TagRole&Tags.member.1.Key=a&Tags.member.01.Key=b"); err == nil {
		t.Errorf("iamwire.ParseForm took Tags.member.01")
	}
}
