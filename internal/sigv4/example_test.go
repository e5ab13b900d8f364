package sigv4_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/sts"
	"github.com/podid/podid/internal/sts/stshttp"
)

// Authentication in front of the STS endpoint, called by the unmodified
// SDK: first with the admin identity's keys, then with the credentials
// the STS vended; a wrong secret is refused as AWS refuses it.
func Example() {
	quiet := slog.New(slog.DiscardHandler)
	svc, _ := sts.New(sts.Config{AccountID: "111122223333", Keys: [][]byte{make([]byte, sts.KeySize)}, Logger: quiet})
	admin, _ := sigv4.NewAdminCredentials() // podid serve: sigv4.LoadOrCreateAdmin(dataDir)
	auth := sigv4.New(sigv4.Config{Admin: admin, AccountID: "111122223333", Sessions: svc, Logger: quiet})
	host := httpx.New(httpx.Config{Logger: quiet, Authenticate: auth.Authenticate})
	if err := stshttp.Mount(host, svc, nil); err != nil {
		panic(err)
	}
	srv := httptest.NewServer(host)
	defer srv.Close()

	client := func(id, secret, token string) *awssts.Client {
		return awssts.New(awssts.Options{Region: "us-west-2", BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider(id, secret, token)})
	}
	ctx := context.Background()
	out, err := client(admin.AccessKeyID, admin.SecretAccessKey, "").AssumeRole(ctx, &awssts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::111122223333:role/app"), RoleSessionName: aws.String("demo"),
	})
	if err != nil {
		panic(err)
	}
	c := out.Credentials
	who, err := client(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken).GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	if err != nil {
		panic(err)
	}
	fmt.Println(*who.Arn)
	_, err = client(*c.AccessKeyId, "not-the-secret", *c.SessionToken).GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	fmt.Println(err != nil)
	// Output:
	// arn:aws:sts::111122223333:assumed-role/app/demo
	// true
}
