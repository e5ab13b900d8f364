package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/podid/podid/internal/proctest"
)

// eksctlVersion is the eksctl release ci/eksctl.sh builds when
// PODID_EKSCTL_VERSION is not set; keep the two in step.
const eksctlVersion = "v0.215.0"

// eksctlHint says how to get the binary; skip and failure messages end
// with it.
const eksctlHint = `build eksctl from its Go module with eval "$(bash ci/eksctl.sh)" ` +
	`(cached under /var/cache/podid-eksctl/VERSION), or point PODID_EKSCTL at a binary`

// requireEksctl returns the eksctl binary: $PODID_EKSCTL, else the one
// ci/eksctl.sh cached. The test skips when there is none (eksctl is a
// long build), unless PODID_EKSCTL_REQUIRED=1 (CI built it: a missing
// binary is a setup error).
func requireEksctl(t *testing.T) string {
	t.Helper()
	p := os.Getenv("PODID_EKSCTL")
	if p == "" {
		root := os.Getenv("PODID_EKSCTL_CACHE")
		if root == "" {
			root = "/var/cache/podid-eksctl"
		}
		version := os.Getenv("PODID_EKSCTL_VERSION")
		if version == "" {
			version = eksctlVersion
		}
		p = filepath.Join(root, version, "eksctl")
	}
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return p
	}
	if os.Getenv("PODID_EKSCTL") == "" && os.Getenv("PODID_EKSCTL_REQUIRED") != "1" {
		t.Skipf("skipping: no eksctl at %s; %s", p, eksctlHint)
	}
	t.Fatalf("no eksctl at %s; %s", p, eksctlHint)
	return ""
}

// eksctl runs the real eksctl against a podid server: every AWS API it
// calls goes to podid (AWS_ENDPOINT_URL) except CloudFormation, which goes
// to cfn (moto's).
type eksctl struct {
	bin string
	env []string
}

func newEksctl(t *testing.T, bin string, srv *server, cfn string) *eksctl {
	env := []string{
		"AWS_ACCESS_KEY_ID=" + srv.Admin.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + srv.Admin.SecretAccessKey,
		"AWS_REGION=" + region,
		"AWS_ENDPOINT_URL=" + srv.URL,
	}
	env = append(env, "AWS_ENDPOINT_URL_CLOUDFORMATION="+cfn)
	return &eksctl{bin: bin, env: proctest.CleanEnv(t.TempDir(), env...)}
}

// run runs eksctl with args for at most a minute and returns its stdout,
// or an error holding its stderr.
func (e *eksctl) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Env = e.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("eksctl %s: %w\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

func (e *eksctl) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.run(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mustJSON runs eksctl with args (which ask for -o json) and decodes its
// output into v.
func (e *eksctl) mustJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := e.mustRun(t, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("eksctl %s: output is not JSON (%v):\n%s", strings.Join(args, " "), err, out)
	}
}

// TestEksctl runs the real eksctl (built from its Go module by
// ci/eksctl.sh) against podid, with moto's CloudFormation beside it: the
// Kubernetes versions, the clusters, the eks-pod-identity-agent add-on,
// and the pod identity association commands with an existing role
// (--role-arn); what each command did is checked through the SDK. The
// README's eksctl paragraph lists these commands and the limits.
func TestEksctl(t *testing.T) {
	bin := requireEksctl(t)
	t.Parallel()
	srv := startServer(t, nil)
	// eksctl lists its CloudFormation stacks before it updates or deletes
	// an association (to find a role it made); podid serves no
	// CloudFormation, moto does.
	cfn := startMoto(t)
	const cluster = "e2e-eksctl"
	ctx := context.Background()
	client := srv.EKS(nil)
	createCluster(t, client, cluster)
	iamc := srv.iamClient(nil)
	for _, role := range []string{"eksctl-app", "eksctl-app-2"} {
		createRole(t, iamc, role, podsTrust(bothActions, cluster))
	}
	e := newEksctl(t, bin, srv, cfn)
	c := "--cluster=" + cluster

	// DescribeClusterVersions.
	var versions struct {
		ClusterVersions []struct{ ClusterVersion string }
	}
	e.mustJSON(t, &versions, "utils", "describe-cluster-versions", "--region", region)
	if len(versions.ClusterVersions) == 0 {
		t.Errorf("describe-cluster-versions listed no version")
	}

	// ListClusters and DescribeCluster.
	var clusters []struct {
		Name   string `json:"Name"`
		Region string `json:"Region"`
	}
	e.mustJSON(t, &clusters, "get", "cluster", "--region", region, "-o", "json")
	if len(clusters) != 1 || clusters[0].Name != cluster {
		t.Errorf("get cluster = %+v, want %s", clusters, cluster)
	}
	var described []struct {
		Name                 string
		Status               string
		CertificateAuthority struct{ Data string }
	}
	e.mustJSON(t, &described, "get", "cluster", "--name", cluster, "--region", region, "-o", "json")
	if len(described) != 1 || described[0].Status != "ACTIVE" || described[0].CertificateAuthority.Data == "" {
		t.Errorf("get cluster --name = %+v, want ACTIVE with a CA", described)
	}

	// Without the agent add-on, eksctl refuses to create an association
	// and says how to install it.
	create := []string{"create", "podidentityassociation", c, "--namespace=default", "--service-account-name=app"}
	_, err := e.run(t, append(create, "--role-arn="+roleARN(account, "eksctl-app"))...)
	if err == nil || !strings.Contains(err.Error(), "eksctl create addon --cluster="+cluster+" --name=eks-pod-identity-agent") {
		t.Fatalf("create podidentityassociation without the agent add-on: %v, want the add-on suggestion", err)
	}

	// eksctl create addon refuses an issuer that is not https (podid's
	// own, here, is http), then looks up the IAM OpenID Connect provider of
	// the cluster's issuer. The cluster's issuer set to an EKS-shaped https
	// one (as for a real cluster's: podid issuer set), with its provider in
	// podid's IAM, eksctl creates the add-on.
	_, err = e.run(t, "create", "addon", c, "--name=eks-pod-identity-agent")
	if err == nil || !strings.Contains(err.Error(), `unsupported URL scheme "http"`) {
		t.Errorf("create addon with podid's http issuer: %v, want eksctl's refusal of the scheme", err)
	}
	iss := newExternalIssuer(t, "https://oidc.eks."+region+".amazonaws.com/id/E2EEKSCTL0000000000000000000000")
	srv.mustCLI(t, "issuer", "set", "--cluster", cluster, "--issuer-url", iss.url, "--jwks-file", iss.jwksFile(t))
	if _, err := iamc.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(iss.url), ClientIDList: []string{"sts.amazonaws.com"}}); err != nil {
		t.Fatal(err)
	}
	e.mustRun(t, "create", "addon", c, "--name=eks-pod-identity-agent")
	desc, err := client.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String(cluster), AddonName: aws.String("eks-pod-identity-agent")})
	if err != nil {
		t.Fatalf("DescribeAddon after eksctl create addon: %v", err)
	}
	addon := desc.Addon
	var addons []struct {
		Name, Version, Status string
	}
	e.mustJSON(t, &addons, "get", "addon", c, "-o", "json")
	if len(addons) != 1 || addons[0].Name != "eks-pod-identity-agent" || addons[0].Status != "ACTIVE" || addons[0].Version != aws.ToString(addon.AddonVersion) {
		t.Errorf("get addon = %+v, want eks-pod-identity-agent %s ACTIVE", addons, aws.ToString(addon.AddonVersion))
	}
	out := e.mustRun(t, "utils", "describe-addon-versions", c, "--name=eks-pod-identity-agent")
	if !strings.Contains(out, aws.ToString(addon.AddonVersion)) {
		t.Errorf("describe-addon-versions does not list %s:\n%s", aws.ToString(addon.AddonVersion), out)
	}

	// An association with an existing role.
	e.mustRun(t, append(create, "--role-arn="+roleARN(account, "eksctl-app"))...)
	assoc := onlyAssociation(t, client, cluster)
	if got, want := aws.ToString(assoc.RoleArn), roleARN(account, "eksctl-app"); got != want {
		t.Errorf("created association's role = %s, want %s", got, want)
	}
	var listed []struct {
		AssociationARN, Namespace, ServiceAccountName, RoleARN string
	}
	e.mustJSON(t, &listed, "get", "podidentityassociation", c, "-o", "json")
	if len(listed) != 1 || listed[0].AssociationARN != aws.ToString(assoc.AssociationArn) ||
		listed[0].Namespace != "default" || listed[0].ServiceAccountName != "app" || listed[0].RoleARN != roleARN(account, "eksctl-app") {
		t.Errorf("get podidentityassociation = %+v, want %s", listed, aws.ToString(assoc.AssociationArn))
	}

	e.mustRun(t, "update", "podidentityassociation", c, "--namespace=default", "--service-account-name=app",
		"--role-arn="+roleARN(account, "eksctl-app-2"))
	if got, want := aws.ToString(onlyAssociation(t, client, cluster).RoleArn), roleARN(account, "eksctl-app-2"); got != want {
		t.Errorf("updated association's role = %s, want %s", got, want)
	}

	// delete podidentityassociation deletes the association, then checks
	// the cluster's Kubernetes API for a service account it made; podid's
	// own clusters have none (their endpoint is podid), so that step fails.
	_, err = e.run(t, "delete", "podidentityassociation", c, "--namespace=default", "--service-account-name=app")
	if err == nil || !strings.Contains(err.Error(), `failed to delete service account "default/app"`) {
		t.Errorf("delete podidentityassociation: %v, want only the service account step to fail", err)
	}
	list, err := client.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(cluster)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Associations) != 0 {
		t.Errorf("associations after delete = %+v, want none", list.Associations)
	}

	e.mustRun(t, "delete", "addon", c, "--name=eks-pod-identity-agent")
	_, err = client.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String(cluster), AddonName: aws.String("eks-pod-identity-agent")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("DescribeAddon after delete addon: %v, want ResourceNotFoundException", err)
	}
}

// onlyAssociation describes cluster's one association.
func onlyAssociation(t *testing.T, c *eks.Client, cluster string) *types.PodIdentityAssociation {
	t.Helper()
	ctx := context.Background()
	list, err := c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(cluster)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Associations) != 1 {
		t.Fatalf("associations = %+v, want one", list.Associations)
	}
	out, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
		ClusterName: aws.String(cluster), AssociationId: list.Associations[0].AssociationId,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Association
}
