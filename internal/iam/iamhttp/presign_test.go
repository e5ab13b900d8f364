package iamhttp_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/podid/podid/internal/servertest"
)

// TestPresignedAtSharedEndpoint: a presigned GET at the endpoint STS and
// IAM share goes to the service its scope names, as AWS's do: an IAM
// user's EKS-token-style GetCallerIdentity URL to STS, a presigned
// ListRoles to IAM.
func TestPresignedAtSharedEndpoint(t *testing.T) {
	s := newServer(t)
	ctx := t.Context()
	c := adminIAM(s)
	must[*iam.CreateUserOutput](t, "CreateUser")(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("dev")}))
	key := must[*iam.CreateAccessKeyOutput](t, "CreateAccessKey")(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("dev")})).AccessKey
	userCreds := aws.Credentials{AccessKeyID: aws.ToString(key.AccessKeyId), SecretAccessKey: aws.ToString(key.SecretAccessKey)}
	adminCreds := aws.Credentials{AccessKeyID: servertest.AccessKeyID, SecretAccessKey: servertest.SecretAccessKey}

	get := func(creds aws.Credentials, query, service string, hdr map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", s.URL+"/?"+query+"&X-Amz-Expires=60", nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		uri, signed, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, "UNSIGNED-PAYLOAD", service, "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		out, _ := http.NewRequest("GET", uri, nil)
		for k, v := range signed {
			if k != "Host" {
				out.Header[k] = v
			}
		}
		resp, err := s.HTTP.Client().Do(out)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := get(userCreds, "Action=GetCallerIdentity&Version=2011-06-15", "sts", map[string]string{"x-k8s-aws-id": "dev"})
	if status != 200 || !strings.Contains(body, "<Arn>arn:aws:iam::"+account+":user/dev</Arn>") {
		t.Errorf("presigned GetCallerIdentity of an IAM user: %d %s", status, body)
	}
	status, body = get(adminCreds, "Action=ListUsers&Version=2010-05-08", "iam", nil)
	if status != 200 || !strings.Contains(body, "<ListUsersResponse") || !strings.Contains(body, "<UserName>dev</UserName>") {
		t.Errorf("presigned IAM ListUsers: %d %s", status, body)
	}
	// The user's key deactivated: its URLs are refused as AWS refuses it.
	must[*iam.UpdateAccessKeyOutput](t, "UpdateAccessKey")(c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
		UserName: aws.String("dev"), AccessKeyId: key.AccessKeyId, Status: "Inactive"}))
	status, body = get(userCreds, "Action=GetCallerIdentity&Version=2011-06-15", "sts", nil)
	if status != 403 || !strings.Contains(body, "<Code>InvalidClientTokenId</Code>") {
		t.Errorf("presigned GetCallerIdentity of an inactive key: %d %s", status, body)
	}
}
