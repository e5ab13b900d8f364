package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/internal/kubetest"
	"github.com/podid/podid/internal/proctest"
)

// TestClusterRegister connects a podid cluster to a real API server with
// podid cluster register --watch: DescribeCluster shows the cluster's
// issuer, API server and CA; a token minted through the TokenRequest API
// for a real pod gets that pod's credentials through podid agent, with
// the pod's real name and UID in the session tags; after the API server's
// signing key is replaced, a token signed with the new key is accepted
// within one refresh and one signed with the removed key is refused.
func TestClusterRegister(t *testing.T) {
	t.Parallel()
	k := kubetest.Start(t)
	srv := startServer(t, nil)
	const cluster = "e2e-kube"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	client := srv.EKS(proctest.StaticCredentials(srv.Admin))
	createCluster(t, client, cluster)

	const interval = time.Second
	proctest.Start(t, "podid cluster register", proctest.CleanEnv(t.TempDir(),
		"PODID_ADMIN_ACCESS_KEY_ID="+srv.Admin.AccessKeyID, "PODID_ADMIN_SECRET_ACCESS_KEY="+srv.Admin.SecretAccessKey),
		bins.podid, "cluster", "register", "--name", cluster, "--kubeconfig", k.Kubeconfig,
		"--endpoint", srv.URL, "--watch", "--interval", interval.String())

	// DescribeCluster follows the registration.
	var got *eks.DescribeClusterOutput
	waitFor(t, 30*time.Second, "DescribeCluster to show the registered issuer", func() bool {
		var err error
		got, err = client.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(cluster)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(got.Cluster.Identity.Oidc.Issuer) == k.Issuer
	})
	if ep := aws.ToString(got.Cluster.Endpoint); ep != k.URL {
		t.Errorf("endpoint = %q, want the API server %q", ep, k.URL)
	}
	if ca := got.Cluster.CertificateAuthority; ca == nil || aws.ToString(ca.Data) != base64.StdEncoding.EncodeToString(k.CAData) {
		t.Errorf("certificateAuthority = %v, want the API server's CA", ca)
	}

	// A real pod, its association and its token.
	kpod := k.CreatePod(t, "default", "app", "app-1")
	p := pod{namespace: "default", serviceAccount: "app", name: kpod.Name, uid: string(kpod.UID)}
	createAssociation(t, client, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String(cluster), Namespace: aws.String(p.namespace),
		ServiceAccount: aws.String(p.serviceAccount), RoleArn: aws.String(roleARN(account, "kube-app")),
	})
	srv.wait(t)
	token := func() string {
		t.Helper()
		return k.PodToken(t, kpod, "pods.eks.amazonaws.com", 24*time.Hour)
	}

	ag := startAgent(t, srv, cluster)
	r := ag.credentials(t, token())
	if r.status != 200 {
		t.Fatalf("agent: %d %s", r.status, r.body)
	}
	var creds struct{ Token string }
	if err := json.Unmarshal(r.body, &creds); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(srv.inspect(t, creds.Token).Tags, podTags(cluster, p)); diff != "" {
		t.Errorf("session tags (-got +want):\n%s", diff)
	}

	// The signing key is replaced and the old one no longer published.
	old := token()
	k.RotateSigningKey(t, false)
	fresh := token()
	waitFor(t, 30*interval, "a token signed with the new key to be accepted", func() bool {
		return srv.assumeRoleForPodIdentity(t, cluster, fresh, &srv.Admin, "eks-auth").status == 200
	})
	r = srv.assumeRoleForPodIdentity(t, cluster, old, &srv.Admin, "eks-auth")
	checkEKSAuthError(t, r, 400, "InvalidTokenException")
}

// waitFor polls cond every 100 ms until it holds, failing the test after
// timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", timeout, what)
		}
		<-tick.C
	}
}
