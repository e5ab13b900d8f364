package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/servertest"
	"github.com/podid/podid/internal/store"
)

func TestClusterLifecycle(t *testing.T) {
	srv := servertest.New(t, servertest.WithConfig(func(cfg *server.Config) {
		cfg.Region, cfg.AccountID = "eu-west-1", "111122223333"
		cfg.NewClusterIssuer = func(_ context.Context, name string) (store.Issuer, error) {
			if name == "external" {
				return store.Issuer{URL: "https://issuer.example/" + name}, nil
			}
			return store.Issuer{SigningKeys: []byte(`{"keys":[]}`)}, nil
		}
	}))
	c := srv.EKS(t)
	ctx := context.Background()

	in := &eks.CreateClusterInput{
		Name:    aws.String("prod-1"),
		RoleArn: aws.String("arn:aws:iam::111122223333:role/eks"),
		Version: aws.String("1.31"),
		ResourcesVpcConfig: &types.VpcConfigRequest{
			SubnetIds: []string{"subnet-1", "subnet-2"}, SecurityGroupIds: []string{"sg-1"},
			EndpointPrivateAccess: aws.Bool(true), EndpointPublicAccess: aws.Bool(false),
		},
		KubernetesNetworkConfig: &types.KubernetesNetworkConfigRequest{ServiceIpv4Cidr: aws.String("172.20.0.0/16")},
		AccessConfig:            &types.CreateAccessConfigRequest{AuthenticationMode: types.AuthenticationModeApi},
		Tags:                    map[string]string{"env": "prod"},
		ClientRequestToken:      aws.String("cluster-token"),
	}
	out, err := c.CreateCluster(ctx, in)
	if err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	got := out.Cluster
	want := &types.Cluster{
		Name:               aws.String("prod-1"),
		Arn:                aws.String("arn:aws:eks:eu-west-1:111122223333:cluster/prod-1"),
		Version:            aws.String("1.31"),
		Endpoint:           aws.String(srv.URL),
		RoleArn:            aws.String("arn:aws:iam::111122223333:role/eks"),
		Status:             types.ClusterStatusActive,
		ClientRequestToken: aws.String("cluster-token"),
		PlatformVersion:    aws.String("eks.1"),
		Tags:               map[string]string{"env": "prod"},
		Identity:           &types.Identity{Oidc: &types.OIDC{Issuer: aws.String(srv.URL + "/clusters-oidc/prod-1")}},
		ResourcesVpcConfig: &types.VpcConfigResponse{
			SubnetIds: []string{"subnet-1", "subnet-2"}, SecurityGroupIds: []string{"sg-1"},
			EndpointPrivateAccess: true, EndpointPublicAccess: false,
		},
		KubernetesNetworkConfig: &types.KubernetesNetworkConfigResponse{ServiceIpv4Cidr: aws.String("172.20.0.0/16"), IpFamily: types.IpFamilyIpv4},
		AccessConfig:            &types.AccessConfigResponse{AuthenticationMode: types.AuthenticationModeApi, BootstrapClusterCreatorAdminPermissions: aws.Bool(true)},
	}
	// The certificate authority is random: TestEksctlSurface checks it.
	if got.CertificateAuthority == nil || aws.ToString(got.CertificateAuthority.Data) == "" {
		t.Error("created cluster has no certificateAuthority.data")
	}
	opts := cmp.Options{
		cmpopts.IgnoreFields(types.Cluster{}, "CreatedAt", "CertificateAuthority"),
		cmpopts.IgnoreUnexported(types.Cluster{}, types.Identity{}, types.OIDC{}, types.VpcConfigResponse{}, types.KubernetesNetworkConfigResponse{}, types.AccessConfigResponse{}),
	}
	if diff := cmp.Diff(got, want, opts); diff != "" {
		t.Errorf("created cluster (-got +want):\n%s", diff)
	}
	if got.CreatedAt == nil {
		t.Error("no createdAt")
	}
	if rev := rawResponse(t, out.ResultMetadata).Header.Get(server.HeaderRevision); rev == "" {
		t.Errorf("no %s on CreateCluster", server.HeaderRevision)
	}
	stored, err := srv.Store.GetCluster(ctx, "eu-west-1", "prod-1")
	if err != nil || string(stored.Issuer.SigningKeys) != `{"keys":[]}` {
		t.Errorf("stored issuer = %+v, %v; want the NewClusterIssuer result", stored.Issuer, err)
	}

	desc, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("prod-1")})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(desc.Cluster, got, cmpopts.IgnoreUnexported(types.Cluster{}, types.Identity{}, types.OIDC{}, types.VpcConfigResponse{}, types.KubernetesNetworkConfigResponse{}, types.AccessConfigResponse{}, types.Certificate{})); diff != "" {
		t.Errorf("described cluster (-got +want):\n%s", diff)
	}

	// Replays with the same token return the cluster; other parameters fail.
	if _, err := c.CreateCluster(ctx, in); err != nil {
		t.Errorf("CreateCluster replay: %v", err)
	}
	_, err = c.CreateCluster(ctx, &eks.CreateClusterInput{
		Name: aws.String("prod-1"), RoleArn: aws.String("arn:aws:iam::111122223333:role/eks"),
		ResourcesVpcConfig: &types.VpcConfigRequest{}, ClientRequestToken: aws.String("cluster-token"),
	})
	wantAPIError[*types.InvalidParameterException](t, err, "already used with different request parameters")
	_, err = c.CreateCluster(ctx, &eks.CreateClusterInput{
		Name: aws.String("prod-1"), RoleArn: aws.String("arn:aws:iam::111122223333:role/eks"), ResourcesVpcConfig: &types.VpcConfigRequest{},
	})
	inUse := wantAPIError[*types.ResourceInUseException](t, err, "Cluster already exists with name: prod-1")
	if aws.ToString(inUse.ClusterName) != "prod-1" {
		t.Errorf("clusterName = %q", aws.ToString(inUse.ClusterName))
	}

	ext, err := c.CreateCluster(ctx, &eks.CreateClusterInput{
		Name: aws.String("external"), RoleArn: aws.String("arn:aws:iam::111122223333:role/eks"), ResourcesVpcConfig: &types.VpcConfigRequest{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(ext.Cluster.Identity.Oidc.Issuer); got != "https://issuer.example/external" {
		t.Errorf("issuer = %q, want the configured one", got)
	}
	if ext.Cluster.KubernetesNetworkConfig == nil || aws.ToString(ext.Cluster.KubernetesNetworkConfig.ServiceIpv4Cidr) != "10.100.0.0/16" ||
		ext.Cluster.ResourcesVpcConfig == nil || !ext.Cluster.ResourcesVpcConfig.EndpointPublicAccess {
		t.Errorf("defaults not filled: %+v %+v", ext.Cluster.KubernetesNetworkConfig, ext.Cluster.ResourcesVpcConfig)
	}

	// Delete cascades to the cluster's associations and their tags.
	a := createAssoc(t, c, "prod-1", "ns", "sa", func(in *eks.CreatePodIdentityAssociationInput) {
		in.RoleArn = aws.String("arn:aws:iam::111122223333:role/r")
		in.Tags = map[string]string{"k": "v"}
	})
	del, err := c.DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String("prod-1")})
	if err != nil {
		t.Fatal(err)
	}
	if del.Cluster.Status != types.ClusterStatusDeleting || aws.ToString(del.Cluster.Name) != "prod-1" {
		t.Errorf("deleted cluster status %q name %q, want DELETING prod-1", del.Cluster.Status, aws.ToString(del.Cluster.Name))
	}
	_, err = c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("prod-1")})
	rnf := wantAPIError[*types.ResourceNotFoundException](t, err, "No cluster found for name: prod-1.")
	if aws.ToString(rnf.ClusterName) != "prod-1" {
		t.Errorf("clusterName = %q", aws.ToString(rnf.ClusterName))
	}
	_, err = c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("prod-1"), AssociationId: a.AssociationId})
	wantAPIError[*types.ResourceNotFoundException](t, err, "No cluster found for name: prod-1.")
	_, err = c.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: a.AssociationArn})
	wantAPIError[*types.NotFoundException](t, err, "Resource not found")
	if _, err := srv.Store.GetAssociation(ctx, "eu-west-1", "prod-1", aws.ToString(a.AssociationId)); err == nil {
		t.Error("association still stored after its cluster was deleted")
	}
	// A re-created cluster of the same name starts empty.
	c.CreateCluster(ctx, &eks.CreateClusterInput{Name: aws.String("prod-1"), RoleArn: aws.String("arn:aws:iam::111122223333:role/eks"), ResourcesVpcConfig: &types.VpcConfigRequest{}})
	list, err := c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("prod-1")})
	if err != nil || len(list.Associations) != 0 {
		t.Errorf("re-created cluster lists %v, %v; want none", list, err)
	}
	_, err = c.DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String("never")})
	wantAPIError[*types.ResourceNotFoundException](t, err, "No cluster found for name: never.")
}

func TestCreateClusterErrors(t *testing.T) {
	srv := servertest.New(t)
	c := srv.EKS(t)
	base := func() *eks.CreateClusterInput {
		return &eks.CreateClusterInput{
			Name: aws.String("c1"), RoleArn: aws.String("arn:aws:iam::000000000000:role/eks"),
			ResourcesVpcConfig: &types.VpcConfigRequest{},
		}
	}
	tests := []struct {
		name string
		edit func(*eks.CreateClusterInput)
		msg  string
	}{
		{"bad name", func(in *eks.CreateClusterInput) { in.Name = aws.String("_x") }, "name is not a valid cluster name"},
		{"long name", func(in *eks.CreateClusterInput) { in.Name = aws.String(strings.Repeat("a", 101)) }, "name is not a valid cluster name"},
		{"bad role", func(in *eks.CreateClusterInput) { in.RoleArn = aws.String("eks") }, "roleArn is not a valid IAM role ARN"},
		{"cross-account role", func(in *eks.CreateClusterInput) { in.RoleArn = aws.String("arn:aws:iam::999999999999:role/eks") }, "Cross-account pass role"},
		{"bad version", func(in *eks.CreateClusterInput) { in.Version = aws.String("latest") }, "version is not a valid"},
		{"aws: tag", func(in *eks.CreateClusterInput) { in.Tags = map[string]string{"aws:x": "y"} }, "reserved"},
		{"bad ip family", func(in *eks.CreateClusterInput) {
			in.KubernetesNetworkConfig = &types.KubernetesNetworkConfigRequest{IpFamily: "ipv5"}
		}, "ipFamily"},
		{"bad log type", func(in *eks.CreateClusterInput) {
			in.Logging = &types.Logging{ClusterLogging: []types.LogSetup{{Types: []types.LogType{"kernel"}}}}
		}, "unknown log type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base()
			tt.edit(in)
			_, err := c.CreateCluster(context.Background(), in)
			wantAPIError[*types.InvalidParameterException](t, err, tt.msg)
		})
	}
	_, err := c.DescribeCluster(context.Background(), &eks.DescribeClusterInput{Name: aws.String("bad name")})
	wantAPIError[*types.InvalidParameterException](t, err, "not a valid cluster name")
}

func TestListClustersPaginator(t *testing.T) {
	srv := servertest.New(t)
	c := srv.EKS(t)
	ctx := context.Background()
	var want []string
	for i := range 12 {
		name := fmt.Sprintf("cluster-%02d", i)
		createCluster(t, c, name)
		want = append(want, name)
	}
	var got []string
	p := eks.NewListClustersPaginator(c, &eks.ListClustersInput{Include: []string{"all"}}, func(o *eks.ListClustersPaginatorOptions) { o.Limit = 5 })
	pages := 0
	for p.HasMorePages() && pages < 100 {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, out.Clusters...)
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("clusters (-got +want):\n%s", diff)
	}
	if pages != 3 {
		t.Errorf("%d pages, want 3", pages)
	}

	for _, tt := range []struct {
		name string
		in   eks.ListClustersInput
		msg  string
	}{
		{"include in capitals", eks.ListClustersInput{Include: []string{"ALL"}}, "include accepts only"},
		{"maxResults 0", eks.ListClustersInput{MaxResults: aws.Int32(0)}, "maxResults"},
		{"maxResults 101", eks.ListClustersInput{MaxResults: aws.Int32(101)}, "maxResults"},
		{"bad token", eks.ListClustersInput{NextToken: aws.String("eyJ2IjoxfQ")}, "nextToken is not valid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ListClusters(ctx, &tt.in)
			wantAPIError[*types.InvalidParameterException](t, err, tt.msg)
		})
	}
	// A token of one listing is refused by another.
	assocPage, err := func() (*eks.ListPodIdentityAssociationsOutput, error) {
		for i := range 3 {
			createAssoc(t, c, "cluster-00", "ns", fmt.Sprintf("sa%d", i))
		}
		return c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("cluster-00"), MaxResults: aws.Int32(1)})
	}()
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListClusters(ctx, &eks.ListClustersInput{NextToken: assocPage.NextToken})
	wantAPIError[*types.InvalidParameterException](t, err, "nextToken is not valid")
}

func TestTags(t *testing.T) {
	srv := servertest.New(t)
	c := srv.EKS(t)
	ctx := context.Background()
	cl := createCluster(t, c, "c1")
	a := createAssoc(t, c, "c1", "ns", "sa", func(in *eks.CreatePodIdentityAssociationInput) { in.Tags = map[string]string{"from": "create"} })

	for _, res := range []struct{ name, arn string }{{"association", aws.ToString(a.AssociationArn)}, {"cluster", aws.ToString(cl.Arn)}} {
		t.Run(res.name, func(t *testing.T) {
			arn := aws.String(res.arn)
			tagOut, err := c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"a": "1", "b": "2"}})
			if err != nil {
				t.Fatal(err)
			}
			if rev := rawResponse(t, tagOut.ResultMetadata).Header.Get(server.HeaderRevision); rev == "" {
				t.Errorf("no %s on TagResource", server.HeaderRevision)
			}
			if _, err := c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"b": "3"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"a", "absent"}}); err != nil {
				t.Fatal(err)
			}
			out, err := c.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: arn})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"b": "3"}
			if res.name == "association" {
				want["from"] = "create"
			}
			if diff := cmp.Diff(out.Tags, want); diff != "" {
				t.Errorf("tags (-got +want):\n%s", diff)
			}

			fifty := map[string]string{}
			for i := range 49 {
				fifty[fmt.Sprintf("k%02d", i)] = "v"
			}
			if res.name == "cluster" {
				fifty["k49"] = "v"
			}
			// With the existing tags that is 51.
			_, err = c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: arn, Tags: fifty})
			wantAPIError[*types.BadRequestException](t, err, "at most 50 tags")
			_, err = c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"AWS:reserved": "x"}})
			wantAPIError[*types.BadRequestException](t, err, "reserved")
			_, err = c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"": "x"}})
			wantAPIError[*types.BadRequestException](t, err, "1-128")
			_, err = c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"v": strings.Repeat("é", 257)}})
			wantAPIError[*types.BadRequestException](t, err, "at most 256")
			_, err = c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: arn, Tags: map[string]string{}})
			wantAPIError[*types.BadRequestException](t, err, "at least one tag")
			_, err = c.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"aws:x"}})
			wantAPIError[*types.BadRequestException](t, err, "reserved")
			_, err = c.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: arn, TagKeys: []string{}})
			wantAPIError[*types.BadRequestException](t, err, "at least one tag key")
			out2, _ := c.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: arn})
			if diff := cmp.Diff(out2.Tags, want); diff != "" {
				t.Errorf("tags changed by failed calls (-got +want):\n%s", diff)
			}
		})
	}

	// Tags show in the association itself; tagging does not move modifiedAt.
	desc, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("c1"), AssociationId: a.AssociationId})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(desc.Association.Tags, map[string]string{"from": "create", "b": "3"}); diff != "" {
		t.Errorf("association tags (-got +want):\n%s", diff)
	}
	if !desc.Association.ModifiedAt.Equal(*a.ModifiedAt) {
		t.Errorf("modifiedAt moved on tagging: %v -> %v", a.ModifiedAt, desc.Association.ModifiedAt)
	}

	for _, tt := range []struct {
		name, arn string
		notFound  bool
	}{
		{"missing association", srv.Server.AssociationARN("us-east-1", "c1", "a-00000000000000000"), true},
		{"missing cluster", srv.Server.ClusterARN("us-east-1", "nope"), true},
		{"association in missing cluster", srv.Server.AssociationARN("us-east-1", "nope", aws.ToString(a.AssociationId)), true},
		{"other account", "arn:aws:eks:us-east-1:999999999999:cluster/c1", true},
		{"other region", "arn:aws:eks:eu-west-1:000000000000:cluster/c1", true},
		{"nodegroup", "arn:aws:eks:us-east-1:000000000000:nodegroup/c1/ng/123", true},
		{"malformed association", "arn:aws:eks:us-east-1:000000000000:podidentityassociation/c1", true},
		{"not an ARN", "c1", false},
		{"not EKS", "arn:aws:iam::000000000000:role/x", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: aws.String(tt.arn)})
			if tt.notFound {
				wantAPIError[*types.NotFoundException](t, err, "Resource not found: "+tt.arn)
			} else {
				wantAPIError[*types.BadRequestException](t, err, "resourceArn")
			}
			_, err = c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: aws.String(tt.arn), Tags: map[string]string{"k": "v"}})
			if tt.notFound {
				wantAPIError[*types.NotFoundException](t, err, "Resource not found")
			} else {
				wantAPIError[*types.BadRequestException](t, err, "resourceArn")
			}
			_, err = c.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: aws.String(tt.arn), TagKeys: []string{"k"}})
			if tt.notFound {
				wantAPIError[*types.NotFoundException](t, err, "Resource not found")
			} else {
				wantAPIError[*types.BadRequestException](t, err, "resourceArn")
			}
		})
	}
}
