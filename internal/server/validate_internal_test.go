package server

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/podid/podid/eksapi"
)

// The expressions the byte loops of validate.go stand for.
var (
	clusterNamePattern   = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]*$`)
	associationIDPattern = regexp.MustCompile(`^a-[a-z0-9]{17}$`)
	roleARNPattern       = regexp.MustCompile(`^arn:([a-z][a-z0-9-]*):iam::([0-9]{12}):role/((?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64})$`)
)

var patternSeeds = []string{
	"", "dev", "Dev_1-x", "-dev", "_x", "dev.x", "dev\n", "a-0123456789abcdefg", "a-0123456789ABCDEFG", "a-0123456789abcdef",
	"arn:aws:iam::111122223333:role/app", "arn:aws-cn:iam::111122223333:role/path/to/app+=,.@-_",
	"arn:aws:iam::111122223333:role/", "arn:aws:iam::111122223333:role//x", "arn:aws:iam::111122223333:role/x/",
	"arn:aws:iam::11112222333:role/x", "arn:aws:iam::1111222233334:role/x", "arn:Aws:iam::111122223333:role/x",
	"arn:9ws:iam::111122223333:role/x", "arn::iam::111122223333:role/x", "arn:aws:iam::111122223333:user/x",
	"arn:aws:iam::111122223333:role/0123456789012345678901234567890123456789012345678901234567890123",
	"arn:aws:iam::111122223333:role/01234567890123456789012345678901234567890123456789012345678901234",
	"arn:aws:iam::111122223333:role/p/01234567890123456789012345678901234567890123456789012345678901234",
	"arn:aws:iam::111122223333:role/x\n", "arn:aws:iam::111122223333:role/é",
}

// checkPatterns holds clusterName, associationID and parseRoleARN to the
// expressions they stand for.
func checkPatterns(t *testing.T, s string) {
	t.Helper()
	if got, want := clusterName(s), clusterNamePattern.MatchString(s); got != want {
		t.Errorf("clusterName(%q) = %v, the expression says %v", s, got, want)
	}
	if got, want := associationID(s), associationIDPattern.MatchString(s); got != want {
		t.Errorf("associationID(%q) = %v, the expression says %v", s, got, want)
	}
	partition, account, ok := parseRoleARN(s)
	m := roleARNPattern.FindStringSubmatch(s)
	if ok != (m != nil) || ok && (partition != m[1] || account != m[2]) {
		t.Errorf("parseRoleARN(%q) = %q, %q, %v; the expression says %q", s, partition, account, ok, m)
	}
}

func TestPatterns(t *testing.T) {
	for _, s := range patternSeeds {
		checkPatterns(t, s)
	}
}

func FuzzPatterns(f *testing.F) {
	for _, s := range patternSeeds {
		f.Add(s)
	}
	f.Fuzz(checkPatterns)
}

// updateParams is what an Update's idempotency digest was first computed
// from: json.Marshal of it.
type updateParams struct {
	ID string
	eksapi.UpdatePodIdentityAssociationInput
}

func checkUpdateParams(t *testing.T, id string, in eksapi.UpdatePodIdentityAssociationInput) {
	t.Helper()
	in.ClientRequestToken = nil
	want, err := json.Marshal(updateParams{id, in})
	if err != nil {
		t.Fatal(err)
	}
	if got := appendUpdateParams(nil, id, &in); string(got) != string(want) {
		t.Errorf("appendUpdateParams:\n got %s\nwant %s", got, want)
	}
}

func TestAppendUpdateParams(t *testing.T) {
	s := func(v string) *string { return &v }
	b := func(v bool) *bool { return &v }
	for _, in := range []eksapi.UpdatePodIdentityAssociationInput{
		{},
		{RoleArn: s("arn:aws:iam::111122223333:role/app"), ClientRequestToken: s("tok")},
		{RoleArn: s(""), TargetRoleArn: s(""), Policy: s(""), DisableSessionTags: b(false)},
		{TargetRoleArn: s("arn:aws:iam::444455556666:role/t"), DisableSessionTags: b(true), Policy: s(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"<&>"}]}`)},
		{RoleArn: s("é\u2028\x00\"\\")},
	} {
		checkUpdateParams(t, "a-0123456789abcdefg", in)
	}
}

func FuzzAppendUpdateParams(f *testing.F) {
	f.Add("a-0123456789abcdefg", "arn:aws:iam::111122223333:role/app", "", `{"a":"<b>"}`, uint8(0x15))
	f.Fuzz(func(t *testing.T, id, role, target, policy string, set uint8) {
		var in eksapi.UpdatePodIdentityAssociationInput
		if set&1 != 0 {
			in.RoleArn = &role
		}
		if set&2 != 0 {
			in.TargetRoleArn = &target
		}
		if set&4 != 0 {
			in.Policy = &policy
		}
		if set&8 != 0 {
			v := set&16 != 0
			in.DisableSessionTags = &v
		}
		checkUpdateParams(t, id, in)
	})
}
