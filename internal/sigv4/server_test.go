package sigv4_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/servertest"
	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/sts"
	"github.com/podid/podid/internal/sts/stshttp"
)

// TestWithServer wires the middleware and the STS into the real server as
// podid serve does: the session key from the store, the server's request
// IDs, and the EKS, STS and health routes side by side.
func TestWithServer(t *testing.T) {
	var svc *sts.Service
	srv := servertest.New(t, servertest.WithConfig(func(cfg *server.Config) {
		cfg.AccountID = account
		key, err := sts.KeyFromStore(context.Background(), cfg.Store)
		if err != nil {
			t.Fatal(err)
		}
		svc, err = sts.New(sts.Config{AccountID: account, Keys: [][]byte{key}, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		auth := sigv4.New(sigv4.Config{
			Admin:     sts.Credentials{AccessKeyID: servertest.AccessKeyID, SecretAccessKey: servertest.SecretAccessKey},
			AccountID: account, Sessions: svc, Logger: quiet,
		})
		cfg.Authenticate = auth.Authenticate
		cfg.Authorizer = authz.Rules{}
		cfg.Mounts = append(cfg.Mounts, func(h *httpx.Host) error { return stshttp.Mount(h, svc, nil) })
	}))
	ctx := context.Background()

	// The key lives in the store: a second read gives the same key.
	again, err := sts.KeyFromStore(ctx, srv.Store)
	if err != nil {
		t.Fatal(err)
	}
	replica, err := sts.New(sts.Config{AccountID: account, Keys: [][]byte{again}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := srv.EKS(t).CreateCluster(ctx, &eks.CreateClusterInput{
		Name: aws.String("c1"), RoleArn: aws.String("arn:aws:iam::111122223333:role/eks"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{"subnet-1"}},
	}); err != nil {
		t.Fatalf("CreateCluster as the admin: %v", err)
	}
	_, err = srv.EKS(t, func(o *eks.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(servertest.AccessKeyID, "wrong", "")
	}).ListClusters(ctx, &eks.ListClustersInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" {
		t.Errorf("ListClusters with a wrong secret: %v, want InvalidSignatureException", err)
	}

	stsClient := func(c sts.Credentials) *awssts.Client {
		return awssts.New(awssts.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), HTTPClient: srv.HTTP.Client(),
			Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)})
	}
	out, err := stsClient(sts.Credentials{AccessKeyID: servertest.AccessKeyID, SecretAccessKey: servertest.SecretAccessKey}).
		AssumeRole(ctx, &awssts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111122223333:role/app"), RoleSessionName: aws.String("s1")})
	if err != nil {
		t.Fatal(err)
	}
	vended := sts.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
	if _, err := replica.VerifyCredentials(vended); err != nil {
		t.Errorf("another replica with the store's key refuses the session: %v", err)
	}
	who, err := stsClient(vended).GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *who.Arn != "arn:aws:sts::111122223333:assumed-role/app/s1" {
		t.Errorf("caller %q", *who.Arn)
	}
	if reqID, ok := middleware.GetRequestIDMetadata(who.ResultMetadata); !ok || reqID == "" {
		t.Errorf("no request ID on GetCallerIdentity")
	}
	// The vended session may read the EKS API, not write it
	// (TestSessionAuthorization has every operation).
	sessionEKS := srv.EKS(t, func(o *eks.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(vended.AccessKeyID, vended.SecretAccessKey, vended.SessionToken)
	})
	if _, err := sessionEKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("c1")}); err != nil {
		t.Errorf("DescribeCluster with vended credentials: %v", err)
	}
	var denied *ekstypes.AccessDeniedException
	if _, err := sessionEKS.DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String("c1")}); !errors.As(err, &denied) {
		t.Errorf("DeleteCluster with vended credentials: %v, want AccessDeniedException", err)
	}

	resp, err := srv.HTTP.Client().Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz unauthenticated: %d", resp.StatusCode)
	}
}
