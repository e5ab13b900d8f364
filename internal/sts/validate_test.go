package sts_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
)

func TestAssumeRoleValidation(t *testing.T) {
	e := newEnv(t, "sigv4")
	ctx := context.Background()
	base := func(mod func(*awssts.AssumeRoleInput)) *awssts.AssumeRoleInput {
		in := &awssts.AssumeRoleInput{RoleArn: aws.String(roleA), RoleSessionName: aws.String("sess")}
		mod(in)
		return in
	}
	manyTags := make([]ststypes.Tag, 51)
	for i := range manyTags {
		manyTags[i] = ststypes.Tag{Key: aws.String("k" + strings.Repeat("x", i)), Value: aws.String("v")}
	}
	bigPolicy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + strings.Repeat("b", 2100) + `"}]}`
	tests := []struct {
		name      string
		mod       func(*awssts.AssumeRoleInput)
		code, msg string
	}{
		{"role ARN too short", func(in *awssts.AssumeRoleInput) { in.RoleArn = aws.String("arn:aws:iam::1:r") },
			"ValidationError", "1 validation error detected: Value 'arn:aws:iam::1:r' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20"},
		{"role ARN not a role", func(in *awssts.AssumeRoleInput) { in.RoleArn = aws.String("arn:aws:iam::111122223333:user/bob") },
			"ValidationError", "Request ARN is invalid"},
		{"role ARN other partition", func(in *awssts.AssumeRoleInput) { in.RoleArn = aws.String("arn:aws-cn:iam::111122223333:role/r") },
			"ValidationError", "Request ARN is invalid"},
		{"session name too short", func(in *awssts.AssumeRoleInput) { in.RoleSessionName = aws.String("a") },
			"ValidationError", "1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"},
		{"session name too long", func(in *awssts.AssumeRoleInput) { in.RoleSessionName = aws.String(strings.Repeat("a", 65)) },
			"ValidationError", "1 validation error detected: Value '" + strings.Repeat("a", 65) + "' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64"},
		{"session name pattern", func(in *awssts.AssumeRoleInput) { in.RoleSessionName = aws.String("has space") },
			"ValidationError", `1 validation error detected: Value 'has space' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*`},
		{"three errors", func(in *awssts.AssumeRoleInput) {
			in.RoleSessionName = aws.String("!")
			in.DurationSeconds = aws.Int32(899)
		},
			"ValidationError", `3 validation errors detected: Value '!' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2; Value '!' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*; Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900`},
		{"duration too short", func(in *awssts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(899) },
			"ValidationError", "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"},
		{"duration too long", func(in *awssts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(43201) },
			"ValidationError", "1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200"},
		{"external ID too short", func(in *awssts.AssumeRoleInput) { in.ExternalId = aws.String("x") },
			"ValidationError", "1 validation error detected: Value 'x' at 'externalId' failed to satisfy constraint: Member must have length greater than or equal to 2"},
		{"external ID pattern", func(in *awssts.AssumeRoleInput) { in.ExternalId = aws.String("a b") },
			"ValidationError", `1 validation error detected: Value 'a b' at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@:\/-]*`},
		{"external ID too long", func(in *awssts.AssumeRoleInput) { in.ExternalId = aws.String(strings.Repeat("e", 1225)) },
			"ValidationError", ""},
		{"too many tags", func(in *awssts.AssumeRoleInput) { in.Tags = manyTags },
			"ValidationError", ""},
		{"tag key too long", func(in *awssts.AssumeRoleInput) { in.Tags = sdkTags(strings.Repeat("k", 129), "v") },
			"ValidationError", "1 validation error detected: Value '" + strings.Repeat("k", 129) + "' at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 128"},
		{"tag key pattern", func(in *awssts.AssumeRoleInput) { in.Tags = sdkTags("ok", "v", "bad*key", "v") },
			"ValidationError", `1 validation error detected: Value 'bad*key' at 'tags.2.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+`},
		{"tag value too long", func(in *awssts.AssumeRoleInput) { in.Tags = sdkTags("k", strings.Repeat("v", 257)) },
			"ValidationError", "1 validation error detected: Value '" + strings.Repeat("v", 257) + "' at 'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 256"},
		{"duplicate tag keys", func(in *awssts.AssumeRoleInput) { in.Tags = sdkTags("Team", "a", "team", "b") },
			"InvalidParameterValue", "Duplicate tag keys found. Please note that Tag keys are case insensitive."},
		{"transitive key not a tag", func(in *awssts.AssumeRoleInput) { in.Tags = sdkTags("a", "1"); in.TransitiveTagKeys = []string{"b"} },
			"InvalidParameterValue", "The specified transitive tag key must be included in the requested tags."},
		{"malformed policy", func(in *awssts.AssumeRoleInput) { in.Policy = aws.String(`{"Version":`) },
			"MalformedPolicyDocument", "Syntax errors in policy."},
		{"policy not an object", func(in *awssts.AssumeRoleInput) { in.Policy = aws.String(`[1]`) },
			"MalformedPolicyDocument", "Syntax errors in policy."},
		{"packed policy too large", func(in *awssts.AssumeRoleInput) { in.Policy = aws.String(bigPolicy) },
			"PackedPolicyTooLarge", "Packed policy consumes 108% of allotted space, please use smaller policy."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.adminClient().AssumeRole(ctx, base(tt.mod))
			apiErr(t, err, tt.code, tt.msg)
		})
	}
}

func TestAssumeRoleTypedErrors(t *testing.T) {
	e := newEnv(t, "sigv4")
	_, err := e.adminClient().AssumeRole(context.Background(), &awssts.AssumeRoleInput{
		RoleArn: aws.String(roleA), RoleSessionName: aws.String("sess"), Policy: aws.String("nope"),
	})
	var mp *ststypes.MalformedPolicyDocumentException
	if !errorsAs(err, &mp) {
		t.Errorf("error = %T %v, want *types.MalformedPolicyDocumentException", err, err)
	}
}
