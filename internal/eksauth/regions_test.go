package eksauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/admin"
	"github.com/podid/podid/internal/agent/eksauthclient"
	"github.com/podid/podid/internal/sts"
)

// otherRegion is a region other than the server's (region).
const otherRegion = "eu-west-1"

// TestRegions drives one server through the Go SDK in two regions: as on
// AWS (and moto, LocalStack), each region is its own set of clusters and
// associations, the region of the request's signing scope. One cluster
// name in both is two clusters, with their own ARNs, issuers, associations
// and tags; a page token or an ARN of one region means nothing in the
// other; and a pod of the other region's cluster gets credentials at that
// region's EKS Auth, not at the server's.
func TestRegions(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	home := e.eksClient(t) // the server's region
	away := e.EKS(t, func(o *eks.Options) { o.Region = otherRegion })

	clusterIn := func(name string) *eks.CreateClusterInput {
		return &eks.CreateClusterInput{Name: aws.String(name), RoleArn: aws.String("arn:aws:iam::" + account + ":role/cluster"),
			ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-1"}}}
	}
	awayDev, err := away.CreateCluster(ctx, clusterIn("dev"))
	if err != nil {
		t.Fatalf("CreateCluster(dev) in %s: %v", otherRegion, err)
	}
	homeDev, err := home.CreateCluster(ctx, clusterIn("dev"))
	if err != nil {
		t.Fatalf("CreateCluster(dev) in %s beside %s's: %v", region, otherRegion, err)
	}
	if _, err := home.CreateCluster(ctx, clusterIn("home-only")); err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(awayDev.Cluster.Arn), "arn:aws:eks:"+otherRegion+":"+account+":cluster/dev"; got != want {
		t.Errorf("%s's cluster ARN = %s, want %s", otherRegion, got, want)
	}
	if got, want := aws.ToString(homeDev.Cluster.Arn), "arn:aws:eks:"+region+":"+account+":cluster/dev"; got != want {
		t.Errorf("%s's cluster ARN = %s, want %s", region, got, want)
	}
	awayIssuer, homeIssuer := aws.ToString(awayDev.Cluster.Identity.Oidc.Issuer), aws.ToString(homeDev.Cluster.Identity.Oidc.Issuer)
	if awayIssuer != e.URL+"/clusters-oidc/"+otherRegion+"/dev" || homeIssuer != e.URL+"/clusters-oidc/dev" {
		t.Errorf("issuers %s (%s) and %s (%s); want /clusters-oidc/%s/dev and /clusters-oidc/dev",
			awayIssuer, otherRegion, homeIssuer, region, otherRegion)
	}
	for _, tc := range []struct {
		c    *eks.Client
		want []string
	}{{home, []string{"dev", "home-only"}}, {away, []string{"dev"}}} {
		out, err := tc.c.ListClusters(ctx, &eks.ListClustersInput{})
		if err != nil || !slices.Equal(out.Clusters, tc.want) {
			t.Errorf("ListClusters in %s = %v, %v; want %v", tc.c.Options().Region, out.Clusters, err, tc.want)
		}
	}
	var nf *types.ResourceNotFoundException
	if _, err := away.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("home-only")}); !errors.As(err, &nf) {
		t.Errorf("DescribeCluster(home-only) in %s: %v, want ResourceNotFoundException", otherRegion, err)
	}

	// The same pod identity in both regions' dev, with different roles.
	assoc := func(c *eks.Client, role string) *types.PodIdentityAssociation {
		t.Helper()
		out, err := c.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
			ClusterName: aws.String("dev"), Namespace: aws.String(pod.Namespace), ServiceAccount: aws.String(pod.ServiceAccount),
			RoleArn: aws.String("arn:aws:iam::" + account + ":role/" + role), TargetRoleArn: aws.String("arn:aws:iam::" + account + ":role/target"),
		})
		if err != nil {
			t.Fatalf("CreatePodIdentityAssociation in %s: %v", c.Options().Region, err)
		}
		return out.Association
	}
	awayA, homeA := assoc(away, "away-role"), assoc(home, "home-role")
	if got, want := aws.ToString(awayA.AssociationArn), "arn:aws:eks:"+otherRegion+":"+account+":podidentityassociation/dev/"+aws.ToString(awayA.AssociationId); got != want {
		t.Errorf("%s's association ARN = %s, want %s", otherRegion, got, want)
	}
	if got, want := aws.ToString(awayA.ExternalId), otherRegion+"/"+account+"/dev/"+pod.Namespace+"/"+pod.ServiceAccount; got != want {
		t.Errorf("%s's externalId = %s, want %s", otherRegion, got, want)
	}
	if _, err := home.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
		ClusterName: aws.String("dev"), AssociationId: awayA.AssociationId}); !errors.As(err, &nf) {
		t.Errorf("DescribePodIdentityAssociation of %s's association in %s: %v, want ResourceNotFoundException", otherRegion, region, err)
	}

	// Tags: an ARN is its own region's.
	if _, err := away.TagResource(ctx, &eks.TagResourceInput{ResourceArn: awayDev.Cluster.Arn, Tags: map[string]string{"where": "away"}}); err != nil {
		t.Errorf("TagResource of %s's cluster in %s: %v", otherRegion, otherRegion, err)
	}
	if _, err := home.TagResource(ctx, &eks.TagResourceInput{ResourceArn: awayDev.Cluster.Arn, Tags: map[string]string{"where": "home"}}); err == nil {
		t.Errorf("TagResource of %s's cluster in %s succeeded", otherRegion, region)
	}
	if out, err := home.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: homeDev.Cluster.Arn}); err != nil || len(out.Tags) != 0 {
		t.Errorf("%s's dev tags = %v, %v; want none", region, out.Tags, err)
	}

	// A page token is its region's listing's.
	page, err := home.ListClusters(ctx, &eks.ListClustersInput{MaxResults: aws.Int32(1)})
	if err != nil || page.NextToken == nil {
		t.Fatalf("ListClusters page 1 in %s: %v, %v", region, page, err)
	}
	var ip *types.InvalidParameterException
	if _, err := away.ListClusters(ctx, &eks.ListClustersInput{NextToken: page.NextToken}); !errors.As(err, &ip) {
		t.Errorf("ListClusters in %s with %s's page token: %v, want InvalidParameterException", otherRegion, region, err)
	}

	// EKS Auth is regional: the other region's pod gets its association's
	// credentials at that region's EKS Auth; the server's region's EKS
	// Auth does not take its token (another cluster's issuer).
	e.waitAll(t)
	var minted admin.MintTokenOutput
	if ae := e.doIn(t, otherRegion, nil, "POST", "/podid/v1/clusters/dev/tokens", "eks", pod, &minted); ae != nil {
		t.Fatalf("minting a token for %s's dev: %+v", otherRegion, ae)
	}
	var out eksapi.AssumeRoleForPodIdentityOutput
	if ae := e.doIn(t, otherRegion, nil, "POST", "/clusters/dev/assume-role-for-pod-identity", "eks-auth",
		eksapi.AssumeRoleForPodIdentityInput{Token: minted.Token}, &out); ae != nil {
		t.Fatalf("AssumeRoleForPodIdentity at %s: %+v", otherRegion, ae)
	}
	if out.PodIdentityAssociation.AssociationArn != aws.ToString(awayA.AssociationArn) {
		t.Errorf("association %s, want %s's %s", out.PodIdentityAssociation.AssociationArn, otherRegion, aws.ToString(awayA.AssociationArn))
	}
	// The target role's session, chained from the association role's,
	// inherits the session tags (transitive).
	s := e.session(t, out.Credentials)
	if len(s.Chain) != 1 || !strings.Contains(s.Chain[0], ":assumed-role/away-role/") {
		t.Errorf("session chain %v; want the first hop as %s's away-role", s.Chain, otherRegion)
	}
	if !slices.Contains(s.Tags, sts.Tag{Key: "eks-cluster-arn", Value: aws.ToString(awayDev.Cluster.Arn)}) {
		t.Errorf("session tags %v; want eks-cluster-arn %s", s.Tags, aws.ToString(awayDev.Cluster.Arn))
	}
	if ae := e.doIn(t, region, nil, "POST", "/clusters/dev/assume-role-for-pod-identity", "eks-auth",
		eksapi.AssumeRoleForPodIdentityInput{Token: minted.Token}, nil); ae == nil || ae.Type != "InvalidTokenException" {
		t.Errorf("%s's token at %s's EKS Auth: %+v; want InvalidTokenException", otherRegion, region, ae)
	}

	// The agent's client, signing for the other region, gets them too.
	c, err := eksauthclient.New(eksauthclient.Config{Endpoint: e.URL, Region: otherRegion, HTTPClient: e.HTTP.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(e.admin.AccessKeyID, e.admin.SecretAccessKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.AssumeRoleForPodIdentity(ctx, "dev", minted.Token); err != nil || got.PodIdentityAssociation.AssociationArn != aws.ToString(awayA.AssociationArn) {
		t.Errorf("eksauthclient in %s: %v", otherRegion, err)
	}

	// The other region's issuer is discoverable at its own path.
	resp, err := e.HTTP.Client().Get(awayIssuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Issuer string `json:"issuer"`
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || doc.Issuer != awayIssuer {
		t.Errorf("discovery of %s: %d %+v %v", awayIssuer, resp.StatusCode, doc, err)
	}

	// Deleting one region's dev leaves the other's.
	if _, err := home.DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	if _, err := away.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
		ClusterName: aws.String("dev"), AssociationId: awayA.AssociationId}); err != nil {
		t.Errorf("%s's association after deleting %s's dev: %v", otherRegion, region, err)
	}
	if _, err := home.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
		ClusterName: aws.String("dev"), AssociationId: homeA.AssociationId}); !errors.As(err, &nf) {
		t.Errorf("%s's association after deleting its dev: %v, want ResourceNotFoundException", region, err)
	}
}
