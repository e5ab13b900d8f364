package sigv4_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/servertest"
	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/sts"
	"github.com/podid/podid/internal/sts/stshttp"
)

// TestSessionAuthorization: through the real SDK, in both modes, a vended
// session reads the EKS API but every write is refused with AWS's
// AccessDeniedException (and changes nothing), while the admin identity
// still does everything.
func TestSessionAuthorization(t *testing.T) {
	for _, mode := range []string{sigv4.ModeSigV4, sigv4.ModeNone} {
		t.Run(mode, func(t *testing.T) { testSessionAuthorization(t, mode) })
	}
}

func testSessionAuthorization(t *testing.T, mode string) {
	ctx := context.Background()
	srv := servertest.New(t, servertest.WithConfig(func(cfg *server.Config) {
		cfg.AccountID = account
		key, err := sts.KeyFromStore(ctx, cfg.Store)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := sts.New(sts.Config{AccountID: account, Keys: [][]byte{key}, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		auth := sigv4.New(sigv4.Config{
			Mode:      mode,
			Admin:     sts.Credentials{AccessKeyID: servertest.AccessKeyID, SecretAccessKey: servertest.SecretAccessKey},
			AccountID: account, Sessions: svc, Logger: quiet,
		})
		cfg.Authenticate = auth.Authenticate
		cfg.Authorizer = authz.Rules{}
		cfg.Mounts = append(cfg.Mounts, func(h *httpx.Host) error { return stshttp.Mount(h, svc, nil) })
	}))
	admin := srv.EKS(t)
	const roleARN = "arn:aws:iam::111122223333:role/app"
	if _, err := admin.CreateCluster(ctx, &eks.CreateClusterInput{
		Name: aws.String("c1"), RoleArn: aws.String("arn:aws:iam::111122223333:role/eks"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{"subnet-1"}},
	}); err != nil {
		t.Fatalf("CreateCluster as the admin: %v", err)
	}
	created, err := admin.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), Namespace: aws.String("ns"), ServiceAccount: aws.String("sa"), RoleArn: aws.String(roleARN),
	})
	if err != nil {
		t.Fatalf("CreatePodIdentityAssociation as the admin: %v", err)
	}
	id := aws.ToString(created.Association.AssociationId)
	assocARN := aws.ToString(created.Association.AssociationArn)
	clusterARN := "arn:aws:eks:us-east-1:111122223333:cluster/c1"

	stsClient := awssts.New(awssts.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), HTTPClient: srv.HTTP.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(servertest.AccessKeyID, servertest.SecretAccessKey, "")})
	out, err := stsClient.AssumeRole(ctx, &awssts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1")})
	if err != nil {
		t.Fatal(err)
	}
	session := srv.EKS(t, func(o *eks.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(*out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken)
	})
	const user = "arn:aws:sts::111122223333:assumed-role/app/s1"

	ops := []struct {
		name     string
		call     func(c *eks.Client) error
		resource string // "" when a session may
	}{
		{"DescribeCluster", func(c *eks.Client) error {
			_, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("c1")})
			return err
		}, ""},
		{"ListClusters", func(c *eks.Client) error {
			_, err := c.ListClusters(ctx, &eks.ListClustersInput{})
			return err
		}, ""},
		{"DescribePodIdentityAssociation", func(c *eks.Client) error {
			_, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("c1"), AssociationId: aws.String(id)})
			return err
		}, ""},
		{"ListPodIdentityAssociations", func(c *eks.Client) error {
			_, err := c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("c1")})
			return err
		}, ""},
		{"ListTagsForResource", func(c *eks.Client) error {
			_, err := c.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: aws.String(assocARN)})
			return err
		}, ""},
		{"UpdatePodIdentityAssociation", func(c *eks.Client) error {
			_, err := c.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{
				ClusterName: aws.String("c1"), AssociationId: aws.String(id), RoleArn: aws.String("arn:aws:iam::111122223333:role/admin")})
			return err
		}, assocARN},
		{"TagResource", func(c *eks.Client) error {
			_, err := c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: aws.String(assocARN), Tags: map[string]string{"k": "v"}})
			return err
		}, assocARN},
		{"UntagResource", func(c *eks.Client) error {
			_, err := c.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: aws.String(assocARN), TagKeys: []string{"k"}})
			return err
		}, assocARN},
		{"CreatePodIdentityAssociation", func(c *eks.Client) error {
			_, err := c.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
				ClusterName: aws.String("c1"), Namespace: aws.String("ns"), ServiceAccount: aws.String("other"), RoleArn: aws.String(roleARN)})
			return err
		}, clusterARN},
		{"DeletePodIdentityAssociation", func(c *eks.Client) error {
			_, err := c.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: aws.String("c1"), AssociationId: aws.String(id)})
			return err
		}, assocARN},
		{"CreateCluster", func(c *eks.Client) error {
			_, err := c.CreateCluster(ctx, &eks.CreateClusterInput{
				Name: aws.String("c2"), RoleArn: aws.String("arn:aws:iam::111122223333:role/eks"),
				ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{"subnet-1"}}})
			return err
		}, "arn:aws:eks:us-east-1:111122223333:cluster/c2"},
		{"DeleteCluster", func(c *eks.Client) error {
			_, err := c.DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String("c1")})
			return err
		}, clusterARN},
	}
	for _, op := range ops {
		err := op.call(session)
		if op.resource == "" {
			if err != nil {
				t.Errorf("session %s: %v", op.name, err)
			}
			continue
		}
		var denied *ekstypes.AccessDeniedException
		if !errors.As(err, &denied) {
			t.Errorf("session %s: %v, want AccessDeniedException", op.name, err)
			continue
		}
		want := "User: " + user + " is not authorized to perform: eks:" + op.name + " on resource: " + op.resource
		if got := denied.ErrorMessage(); got != want {
			t.Errorf("session %s: message\n%q, want\n%q", op.name, got, want)
		}
		var re *awshttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
			t.Errorf("session %s: status %v, want 403", op.name, err)
		}
	}

	// The session's key ID without its token is not the admin, in
	// either mode: --auth none attributes a vended key ID to its session
	// or refuses it.
	tokenless := srv.EKS(t, func(o *eks.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(*out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, "")
	})
	if _, err := tokenless.DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String("c1")}); err == nil {
		t.Errorf("DeleteCluster with the session's key ID and no token succeeded")
	} else if !strings.Contains(err.Error(), sts.MsgInvalidClientToken) {
		t.Errorf("DeleteCluster with the session's key ID and no token: %v, want %q", err, sts.MsgInvalidClientToken)
	}

	// Nothing the session tried took effect.
	got, err := admin.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("c1"), AssociationId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if r := aws.ToString(got.Association.RoleArn); r != roleARN || len(got.Association.Tags) != 0 {
		t.Errorf("after the session's refused writes: role %s, tags %v; want %s, none", r, got.Association.Tags, roleARN)
	}
	clusters, err := admin.ListClusters(ctx, &eks.ListClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(clusters.Clusters) != 1 {
		t.Errorf("clusters after the session's refused writes: %v, want [c1]", clusters.Clusters)
	}

	// The admin identity still does everything, in the table's order
	// (the deletes last).
	for _, op := range ops {
		if err := op.call(admin); err != nil {
			t.Errorf("admin %s: %v", op.name, err)
		}
	}
}
