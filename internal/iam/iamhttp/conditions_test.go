package iamhttp_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/podid/podid/internal/servertest"
)

// TestResourceTagConditions: aws:ResourceTag/KEY (and iam:ResourceTag/KEY
// for IAM roles) hold the tags of the resource acted on: a role for IAM
// calls and sts:AssumeRole, a cluster or pod identity association for EKS
// calls (IAM UG, "Controlling access to AWS resources using tags" and
// "Controlling access to and for IAM users and roles using tags"; the EKS
// service authorization reference lists aws:ResourceTag/${TagKey} for
// clusters and podidentityassociation). A tag change is in effect at the
// next call.
func TestResourceTagConditions(t *testing.T) {
	s := newEnforcedServer(t)
	ctx := t.Context()
	c := adminIAM(s)
	admEKS := eks.NewFromConfig(awsConfig(s, servertest.AccessKeyID, servertest.SecretAccessKey))
	const teamA = `{"StringEquals":{"aws:ResourceTag/team":"a"}}`
	userCfg := newUser(t, s, "dev", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["iam:GetRole","eks:DescribeCluster","eks:DescribePodIdentityAssociation","eks:ListTagsForResource"],"Resource":"*","Condition":`+teamA+`},
		{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*","Condition":{"StringEquals":{"iam:ResourceTag/team":"a"}}}]}`, "")
	userARN := "arn:aws:iam::" + account + ":user/dev"
	roleARN := func(n string) string { return "arn:aws:iam::" + account + ":role/" + n }
	for _, team := range []string{"a", "b"} {
		must[*iam.CreateRoleOutput](t, "CreateRole")(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r" + team),
			AssumeRolePolicyDocument: aws.String(trustOf(account)), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String(team)}}}))
	}
	ui, us, ue := iam.NewFromConfig(userCfg), sts.NewFromConfig(userCfg), eks.NewFromConfig(userCfg)

	must[*iam.GetRoleOutput](t, "GetRole of a team-a role")(ui.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("ra")}))
	_, err := ui.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("rb")})
	wantError(t, "GetRole of a team-b role", err, "AccessDenied", denied(userARN, "iam:GetRole", roleARN("rb")))
	must[*sts.AssumeRoleOutput](t, "AssumeRole of a team-a role")(us.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN("ra")), RoleSessionName: aws.String("s1")}))
	_, err = us.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN("rb")), RoleSessionName: aws.String("s1")})
	wantError(t, "AssumeRole of a team-b role", err, "AccessDenied", denied(userARN, "sts:AssumeRole", roleARN("rb")))
	// Retagged, the role is the user's at once.
	must[*iam.TagRoleOutput](t, "TagRole")(c.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String("rb"), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}}))
	must[*iam.GetRoleOutput](t, "GetRole of the retagged role")(ui.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("rb")}))
	must[*sts.AssumeRoleOutput](t, "AssumeRole of the retagged role")(us.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN("rb")), RoleSessionName: aws.String("s1")}))

	// EKS: the cluster's tags, then an association's own.
	var clusterARN = map[string]string{}
	for _, team := range []string{"a", "b"} {
		out := must[*eks.CreateClusterOutput](t, "CreateCluster")(admEKS.CreateCluster(ctx, &eks.CreateClusterInput{
			Name: aws.String("c" + team), RoleArn: aws.String(roleARN("eks")),
			ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{"subnet-1"}}, Tags: map[string]string{"team": team}}))
		clusterARN[team] = aws.ToString(out.Cluster.Arn)
	}
	must[*eks.DescribeClusterOutput](t, "DescribeCluster of a team-a cluster")(ue.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("ca")}))
	_, err = ue.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("cb")})
	wantError(t, "DescribeCluster of a team-b cluster", err, "AccessDeniedException", denied(userARN, "eks:DescribeCluster", clusterARN["b"]))
	_, err = ue.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: aws.String(clusterARN["b"])})
	wantError(t, "ListTagsForResource of a team-b cluster", err, "AccessDeniedException", denied(userARN, "eks:ListTagsForResource", clusterARN["b"]))
	must[*eks.TagResourceOutput](t, "TagResource")(admEKS.TagResource(ctx, &eks.TagResourceInput{ResourceArn: aws.String(clusterARN["b"]), Tags: map[string]string{"team": "a"}}))
	must[*eks.DescribeClusterOutput](t, "DescribeCluster of the retagged cluster")(ue.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("cb")}))

	must[*iam.CreateRoleOutput](t, "CreateRole")(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("pods"), AssumeRolePolicyDocument: aws.String(trust)}))
	assocs := map[string]string{}
	for _, team := range []string{"a", "b"} {
		out := must[*eks.CreatePodIdentityAssociationOutput](t, "CreatePodIdentityAssociation")(admEKS.CreatePodIdentityAssociation(ctx,
			&eks.CreatePodIdentityAssociationInput{ClusterName: aws.String("ca"), Namespace: aws.String("default"), ServiceAccount: aws.String("sa-" + team),
				RoleArn: aws.String(roleARN("pods")), Tags: map[string]string{"team": team}}))
		assocs[team] = aws.ToString(out.Association.AssociationId)
	}
	must[*eks.DescribePodIdentityAssociationOutput](t, "DescribePodIdentityAssociation of a team-a association")(ue.DescribePodIdentityAssociation(ctx,
		&eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("ca"), AssociationId: aws.String(assocs["a"])}))
	_, err = ue.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("ca"), AssociationId: aws.String(assocs["b"])})
	wantError(t, "DescribePodIdentityAssociation of a team-b association in a team-a cluster", err, "AccessDeniedException",
		denied(userARN, "eks:DescribePodIdentityAssociation", s.Server.AssociationARN("us-east-1", "ca", assocs["b"])))
}

// TestSecureTransport: aws:SecureTransport is "true" for a request that
// came over TLS and "false" for plain HTTP, so AWS's common "Deny when
// aws:SecureTransport is false" statement refuses plain HTTP (IAM UG, AWS
// global condition context keys: aws:SecureTransport).
func TestSecureTransport(t *testing.T) {
	const tlsOnly = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
		{"Sid":"TLSOnly","Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
	for _, secure := range []bool{false, true} {
		var opts []servertest.Option
		if secure {
			opts = append(opts, servertest.WithTLS())
		}
		s := newEnforcedServer(t, opts...)
		ctx := t.Context()
		must[*iam.CreateRoleOutput](t, "CreateRole")(adminIAM(s).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"),
			AssumeRolePolicyDocument: aws.String(trustOf(account))}))
		userCfg := newUser(t, s, "dev", tlsOnly, "")
		_, errIAM := iam.NewFromConfig(userCfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("r")})
		_, errSTS := sts.NewFromConfig(userCfg).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: aws.String("arn:aws:iam::" + account + ":role/r"), RoleSessionName: aws.String("s1")})
		if secure {
			if errIAM != nil || errSTS != nil {
				t.Errorf("over TLS: GetRole %v, AssumeRole %v; want both allowed", errIAM, errSTS)
			}
			continue
		}
		userARN := "arn:aws:iam::" + account + ":user/dev"
		wantError(t, "GetRole in plain HTTP", errIAM, "AccessDenied", denied(userARN, "iam:GetRole", "arn:aws:iam::"+account+":role/r"))
		wantError(t, "AssumeRole in plain HTTP", errSTS, "AccessDenied", denied(userARN, "sts:AssumeRole", "arn:aws:iam::"+account+":role/r"))
	}
}
