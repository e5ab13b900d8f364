package iamhttp_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
)

// wantError fails unless err is an API error with code and message.
func wantError(t *testing.T, what string, err error, code, message string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || ae.ErrorMessage() != message {
		t.Errorf("%s: error = %v, want %s: %s", what, err, code, message)
	}
}

var (
	thumbA = strings.Repeat("a", 40)
	thumbB = strings.Repeat("b", 40)
)

func TestOpenIDConnectProviders(t *testing.T) {
	s := newServer(t)
	c := adminIAM(s)
	ctx := t.Context()
	const issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/ABC123"
	arn := "arn:aws:iam::" + account + ":oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC123"

	before := time.Now().Add(-time.Second)
	cr := must[*iam.CreateOpenIDConnectProviderOutput](t, "CreateOpenIDConnectProvider")(c.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(issuer), ClientIDList: []string{"sts.amazonaws.com"}, ThumbprintList: []string{thumbA},
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}},
	}))
	if aws.ToString(cr.OpenIDConnectProviderArn) != arn || len(cr.Tags) != 1 {
		t.Errorf("CreateOpenIDConnectProvider = %s %+v, want %s and the tag", aws.ToString(cr.OpenIDConnectProviderArn), cr.Tags, arn)
	}
	_, err := c.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String(issuer), ThumbprintList: []string{thumbA}})
	wantError(t, "a second provider for the URL", err, "EntityAlreadyExists", "Provider with url "+issuer+" already exists.")
	// eksctl sends its issuer with :443; the provider is named without it.
	_, err = c.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String("https://oidc.eks.us-east-1.amazonaws.com:443/id/ABC123")})
	wantCode(t, "the URL with :443", err, "EntityAlreadyExists")

	g := must[*iam.GetOpenIDConnectProviderOutput](t, "GetOpenIDConnectProvider")(c.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)}))
	if aws.ToString(g.Url) != "oidc.eks.us-east-1.amazonaws.com/id/ABC123" || !slices.Equal(g.ClientIDList, []string{"sts.amazonaws.com"}) ||
		!slices.Equal(g.ThumbprintList, []string{thumbA}) || g.CreateDate == nil || g.CreateDate.Before(before) || len(g.Tags) != 1 {
		t.Errorf("GetOpenIDConnectProvider = %+v", g)
	}

	// Client IDs: adding one present and removing one absent change nothing.
	for _, id := range []string{"app", "app", "sts.amazonaws.com"} {
		must[*iam.AddClientIDToOpenIDConnectProviderOutput](t, "AddClientIDToOpenIDConnectProvider")(c.AddClientIDToOpenIDConnectProvider(ctx,
			&iam.AddClientIDToOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn), ClientID: aws.String(id)}))
	}
	for _, id := range []string{"sts.amazonaws.com", "never"} {
		must[*iam.RemoveClientIDFromOpenIDConnectProviderOutput](t, "RemoveClientIDFromOpenIDConnectProvider")(c.RemoveClientIDFromOpenIDConnectProvider(ctx,
			&iam.RemoveClientIDFromOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn), ClientID: aws.String(id)}))
	}
	must[*iam.UpdateOpenIDConnectProviderThumbprintOutput](t, "UpdateOpenIDConnectProviderThumbprint")(c.UpdateOpenIDConnectProviderThumbprint(ctx,
		&iam.UpdateOpenIDConnectProviderThumbprintInput{OpenIDConnectProviderArn: aws.String(arn), ThumbprintList: []string{thumbB, thumbA}}))
	must[*iam.TagOpenIDConnectProviderOutput](t, "TagOpenIDConnectProvider")(c.TagOpenIDConnectProvider(ctx, &iam.TagOpenIDConnectProviderInput{
		OpenIDConnectProviderArn: aws.String(arn), Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}, {Key: aws.String("TEAM"), Value: aws.String("b")}}}))
	must[*iam.UntagOpenIDConnectProviderOutput](t, "UntagOpenIDConnectProvider")(c.UntagOpenIDConnectProvider(ctx, &iam.UntagOpenIDConnectProviderInput{
		OpenIDConnectProviderArn: aws.String(arn), TagKeys: []string{"env"}}))
	g = must[*iam.GetOpenIDConnectProviderOutput](t, "GetOpenIDConnectProvider")(c.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)}))
	if !slices.Equal(g.ClientIDList, []string{"app"}) || !slices.Equal(g.ThumbprintList, []string{thumbB, thumbA}) {
		t.Errorf("after the edits, GetOpenIDConnectProvider = %+v", g)
	}
	lt := must[*iam.ListOpenIDConnectProviderTagsOutput](t, "ListOpenIDConnectProviderTags")(c.ListOpenIDConnectProviderTags(ctx,
		&iam.ListOpenIDConnectProviderTagsInput{OpenIDConnectProviderArn: aws.String(arn)}))
	if diff := cmp.Diff(tagPairs(lt.Tags), []string{"TEAM=b"}); diff != "" {
		t.Errorf("ListOpenIDConnectProviderTags (-got +want):\n%s", diff)
	}
	var many []types.Tag
	for i := range 50 {
		many = append(many, types.Tag{Key: aws.String(strings.Repeat("k", i+1)), Value: aws.String("v")})
	}
	_, err = c.TagOpenIDConnectProvider(ctx, &iam.TagOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn), Tags: many})
	wantError(t, "a 51st tag", err, "LimitExceeded", "The number of tags has reached the maximum limit.")

	// A bare provider: no client IDs, no thumbprints (IAM's own CA
	// library is trusted instead), no tags.
	bare := must[*iam.CreateOpenIDConnectProviderOutput](t, "CreateOpenIDConnectProvider")(c.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String("https://token.actions.githubusercontent.com")}))
	gb := must[*iam.GetOpenIDConnectProviderOutput](t, "GetOpenIDConnectProvider")(c.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: bare.OpenIDConnectProviderArn}))
	if aws.ToString(gb.Url) != "token.actions.githubusercontent.com" || gb.ClientIDList == nil || gb.ThumbprintList == nil || gb.Tags == nil ||
		len(gb.ClientIDList)+len(gb.ThumbprintList)+len(gb.Tags) != 0 {
		t.Errorf("bare GetOpenIDConnectProvider = %+v, want empty (present) lists", gb)
	}
	ls := must[*iam.ListOpenIDConnectProvidersOutput](t, "ListOpenIDConnectProviders")(c.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{}))
	var arns []string
	for _, e := range ls.OpenIDConnectProviderList {
		arns = append(arns, aws.ToString(e.Arn))
	}
	if diff := cmp.Diff(arns, []string{arn, aws.ToString(bare.OpenIDConnectProviderArn)}); diff != "" {
		t.Errorf("ListOpenIDConnectProviders (-got +want):\n%s", diff)
	}

	// Under authz.Rules an IAM user may do nothing to a provider; the
	// refusal names the action and the provider's ARN.
	must[*iam.CreateUserOutput](t, "CreateUser")(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("reader")}))
	key := must[*iam.CreateAccessKeyOutput](t, "CreateAccessKey")(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("reader")})).AccessKey
	uc := iam.NewFromConfig(awsConfig(s, aws.ToString(key.AccessKeyId), aws.ToString(key.SecretAccessKey)))
	_, err = uc.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)})
	wantError(t, "DeleteOpenIDConnectProvider by a user", err, "AccessDenied",
		"User: arn:aws:iam::"+account+":user/reader is not authorized to perform: iam:DeleteOpenIDConnectProvider on resource: "+arn)
	_, err = uc.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String("https://other.example.com/x")})
	wantError(t, "CreateOpenIDConnectProvider by a user", err, "AccessDenied",
		"User: arn:aws:iam::"+account+":user/reader is not authorized to perform: iam:CreateOpenIDConnectProvider on resource: arn:aws:iam::"+account+":oidc-provider/other.example.com/x")

	must[*iam.DeleteOpenIDConnectProviderOutput](t, "DeleteOpenIDConnectProvider")(c.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)}))
	_, err = c.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)})
	wantError(t, "GetOpenIDConnectProvider after the delete", err, "NoSuchEntity", "OpenIDConnect Provider not found for arn "+arn)
	var nse *types.NoSuchEntityException
	if !errors.As(err, &nse) {
		t.Errorf("GetOpenIDConnectProvider after the delete: %T, want *types.NoSuchEntityException (what eksctl looks for)", err)
	}
	_, err = c.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)})
	wantError(t, "DeleteOpenIDConnectProvider again", err, "NoSuchEntity", "OpenId connect Provider "+arn+" cannot be found.")
	_, err = c.AddClientIDToOpenIDConnectProvider(ctx, &iam.AddClientIDToOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn), ClientID: aws.String("x")})
	wantError(t, "AddClientIDToOpenIDConnectProvider after the delete", err, "NoSuchEntity", "OpenIDConnect Provider not found for arn "+arn)
}

func tagPairs(tags []types.Tag) []string {
	var out []string
	for _, tg := range tags {
		out = append(out, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
	}
	return out
}

func TestOpenIDConnectProviderValidation(t *testing.T) {
	s := newServer(t)
	c := adminIAM(s)
	ctx := t.Context()
	six := []string{thumbA, thumbB, strings.Repeat("c", 40), strings.Repeat("d", 40), strings.Repeat("e", 40), strings.Repeat("f", 40)}
	var clients []string
	for i := range 101 {
		clients = append(clients, strings.Repeat("c", i+1)[:min(i+1, 200)])
	}
	for _, tc := range []struct {
		name          string
		in            iam.CreateOpenIDConnectProviderInput
		code, message string
	}{
		{"no scheme", iam.CreateOpenIDConnectProviderInput{Url: aws.String("example.org"), ThumbprintList: []string{thumbA}},
			"ValidationError", "Invalid Open ID Connect Provider URL"},
		{"http", iam.CreateOpenIDConnectProviderInput{Url: aws.String("http://example.org")},
			"ValidationError", "Invalid Open ID Connect Provider URL"},
		{"a query", iam.CreateOpenIDConnectProviderInput{Url: aws.String("https://example.org/?a=b")},
			"ValidationError", "Invalid Open ID Connect Provider URL"},
		{"six thumbprints", iam.CreateOpenIDConnectProviderInput{Url: aws.String("https://example.org"), ThumbprintList: six},
			"InvalidInput", "Thumbprint list must contain fewer than 5 entries."},
		{"101 client IDs", iam.CreateOpenIDConnectProviderInput{Url: aws.String("https://example.org"), ClientIDList: clients},
			"LimitExceeded", "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100"},
		{"lengths", iam.CreateOpenIDConnectProviderInput{Url: aws.String(strings.Repeat("b", 256)), ThumbprintList: []string{strings.Repeat("b", 41)},
			ClientIDList: []string{strings.Repeat("b", 256)}}, "ValidationError",
			"3 validation errors detected: Value at 'clientIDList' failed to satisfy constraint: Member must satisfy constraint: " +
				"[Member must have length less than or equal to 255, Member must have length greater than or equal to 1]; " +
				"Value at 'thumbprintList' failed to satisfy constraint: Member must satisfy constraint: " +
				"[Member must have length less than or equal to 40, Member must have length greater than or equal to 40]; " +
				"Value at 'url' failed to satisfy constraint: Member must have length less than or equal to 255"},
	} {
		_, err := c.CreateOpenIDConnectProvider(ctx, &tc.in)
		wantError(t, tc.name, err, tc.code, tc.message)
	}
	ls := must[*iam.ListOpenIDConnectProvidersOutput](t, "ListOpenIDConnectProviders")(c.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{}))
	if len(ls.OpenIDConnectProviderList) != 0 {
		t.Errorf("after refused creates, ListOpenIDConnectProviders = %+v", ls.OpenIDConnectProviderList)
	}
}
