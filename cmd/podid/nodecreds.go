package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/spf13/cobra"
)

// nodeUserPath is the IAM path of node users: list finds them by it.
const nodeUserPath = "/podid-node/"

// nodeCredentialsOptions are podid node-credentials' flags.
type nodeCredentialsOptions struct {
	admin      adminFlags
	cluster    string
	userName   string
	output     string
	secretName string
	namespace  string
}

// The node's inline policy's name.
const nodePolicyName = "eks-auth-assume-role-for-pod-identity"

func newNodeCredentialsCmd() *cobra.Command {
	o := &nodeCredentialsOptions{}
	cmd := &cobra.Command{
		Use:   "node-credentials",
		Short: "Issue, list and delete the credentials node agents run with (one cluster's EKS Auth, nothing else)",
		Long: `node-credentials manages IAM users for node agents, through podid's IAM API with the
admin keys: each user (podid-node-CLUSTER, path ` + nodeUserPath + `) has one inline policy
allowing only eks-auth:AssumeRoleForPodIdentity on its cluster's ARN, so a node's keys can
get its pods' credentials and do nothing else (with podid serve --iam enforce).`,
	}
	create := &cobra.Command{
		Use:   "create",
		Short: "Create the cluster's node user, its policy and an access key, and print the key",
		Long: `create prints the new access key once, as --output says: "env" (export lines for
podid agent's environment), or "secret" (a Kubernetes Secret, stringData AWS_ACCESS_KEY_ID
and AWS_SECRET_ACCESS_KEY, for the agent's DaemonSet to take with envFrom). Running it again
adds a key (IAM allows two per user) and leaves the policy as it is.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNodeCredentialsCreate(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	del := &cobra.Command{
		Use:   "delete",
		Short: "Delete the cluster's node user with its access keys and policy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNodeCredentialsDelete(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the node users and their access key IDs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNodeCredentialsList(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	for _, c := range []*cobra.Command{create, del, list} {
		f := c.Flags()
		o.admin.register(f)
		if c != list {
			f.StringVar(&o.cluster, "cluster", "", "the cluster (required)")
			f.StringVar(&o.userName, "user-name", "", "the IAM user (default podid-node-CLUSTER)")
		}
	}
	create.Flags().StringVar(&o.output, "output", "env", "env or secret")
	create.Flags().StringVar(&o.secretName, "secret-name", "podid-agent-credentials", "the Secret's name (--output secret)")
	create.Flags().StringVar(&o.namespace, "namespace", "kube-system", "the Secret's namespace (--output secret)")
	cmd.AddCommand(create, del, list)
	return cmd
}

// clients returns IAM and EKS clients signing with the admin keys.
func (o *nodeCredentialsOptions) clients() (*iam.Client, *eks.Client, error) {
	if o.admin.endpoint == "" {
		return nil, nil, errors.New("--endpoint is required")
	}
	creds, err := o.admin.credentials()
	if err != nil {
		return nil, nil, err
	}
	if creds == nil {
		return nil, nil, fmt.Errorf("no admin keys: looked in %s", o.admin.searched())
	}
	cfg := aws.Config{Region: o.admin.region, Credentials: creds}
	ic := iam.NewFromConfig(cfg, func(io *iam.Options) { io.BaseEndpoint = aws.String(o.admin.endpoint) })
	ec := eks.NewFromConfig(cfg, func(eo *eks.Options) { eo.BaseEndpoint = aws.String(o.admin.endpoint) })
	return ic, ec, nil
}

func (o *nodeCredentialsOptions) user() (string, error) {
	if o.cluster == "" {
		return "", errors.New("--cluster is required")
	}
	if o.userName != "" {
		return o.userName, nil
	}
	return "podid-node-" + o.cluster, nil
}

// NodePolicy is the node user's inline policy: EKS Auth on the cluster,
// nothing else.
func NodePolicy(clusterARN string) string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"PodIdentityAgent","Effect":"Allow",` +
		`"Action":"eks-auth:AssumeRoleForPodIdentity","Resource":"` + clusterARN + `"}]}`
}

func runNodeCredentialsCreate(ctx context.Context, o *nodeCredentialsOptions, stdout io.Writer) error {
	if o.output != "env" && o.output != "secret" {
		return fmt.Errorf("--output %q: use env or secret", o.output)
	}
	name, err := o.user()
	if err != nil {
		return err
	}
	ic, ec, err := o.clients()
	if err != nil {
		return err
	}
	cl, err := ec.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(o.cluster)})
	if err != nil {
		return fmt.Errorf("reading cluster %s: %w", o.cluster, err)
	}
	_, err = ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name), Path: aws.String(nodeUserPath),
		Tags: []iamtypes.Tag{{Key: aws.String("podid-cluster"), Value: aws.String(o.cluster)}}})
	var exists *iamtypes.EntityAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("creating user %s: %w", name, err)
	}
	if _, err := ic.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(nodePolicyName),
		PolicyDocument: aws.String(NodePolicy(aws.ToString(cl.Cluster.Arn)))}); err != nil {
		return fmt.Errorf("putting the policy of user %s: %w", name, err)
	}
	key, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("creating an access key of user %s: %w", name, err)
	}
	id, secret := aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey)
	if o.output == "secret" {
		fmt.Fprintf(stdout, `apiVersion: v1
kind: Secret
metadata:
  name: %s
  namespace: %s
  labels:
    app.kubernetes.io/name: podid-agent
  annotations:
    podid.dev/iam-user: %s
type: Opaque
stringData:
  AWS_ACCESS_KEY_ID: %s
  AWS_SECRET_ACCESS_KEY: %s
`, o.secretName, o.namespace, name, id, secret)
		return nil
	}
	fmt.Fprintf(stdout, "# podid agent --cluster %s, as IAM user %s (eks-auth:AssumeRoleForPodIdentity on %s only)\nexport AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\n",
		o.cluster, name, aws.ToString(cl.Cluster.Arn), id, secret)
	return nil
}

func runNodeCredentialsDelete(ctx context.Context, o *nodeCredentialsOptions, stdout io.Writer) error {
	name, err := o.user()
	if err != nil {
		return err
	}
	ic, _, err := o.clients()
	if err != nil {
		return err
	}
	keys, err := ic.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("listing the access keys of user %s: %w", name, err)
	}
	for _, k := range keys.AccessKeyMetadata {
		if _, err := ic.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(name), AccessKeyId: k.AccessKeyId}); err != nil {
			return fmt.Errorf("deleting access key %s: %w", aws.ToString(k.AccessKeyId), err)
		}
	}
	pols, err := ic.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("listing the policies of user %s: %w", name, err)
	}
	for _, p := range pols.PolicyNames {
		if _, err := ic.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(p)}); err != nil {
			return fmt.Errorf("deleting policy %s: %w", p, err)
		}
	}
	if _, err := ic.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String(name)}); err != nil {
		return fmt.Errorf("deleting user %s: %w", name, err)
	}
	fmt.Fprintf(stdout, "deleted user %s (%d access keys)\n", name, len(keys.AccessKeyMetadata))
	return nil
}

func runNodeCredentialsList(ctx context.Context, o *nodeCredentialsOptions, stdout io.Writer) error {
	ic, _, err := o.clients()
	if err != nil {
		return err
	}
	p := iam.NewListUsersPaginator(ic, &iam.ListUsersInput{PathPrefix: aws.String(nodeUserPath)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing node users: %w", err)
		}
		for _, u := range page.Users {
			keys, err := ic.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: u.UserName})
			if err != nil {
				return fmt.Errorf("listing the access keys of user %s: %w", aws.ToString(u.UserName), err)
			}
			ids := make([]string, len(keys.AccessKeyMetadata))
			for i, k := range keys.AccessKeyMetadata {
				ids[i] = aws.ToString(k.AccessKeyId) + " (" + string(k.Status) + ")"
			}
			fmt.Fprintf(stdout, "%s\t%s\n", aws.ToString(u.UserName), strings.Join(ids, ", "))
		}
	}
	return nil
}
