package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/proctest"
)

// describedIssuer is DescribeCluster's identity.oidc.issuer.
func describedIssuer(t *testing.T, c *eks.Client, cluster string) string {
	t.Helper()
	out, err := c.DescribeCluster(context.Background(), &eks.DescribeClusterInput{Name: aws.String(cluster)})
	if err != nil {
		t.Fatalf("DescribeCluster %s: %v", cluster, err)
	}
	return aws.ToString(out.Cluster.Identity.Oidc.Issuer)
}

// discoveredIssuer is the issuer of the cluster's OIDC discovery document
// as srv serves it.
func discoveredIssuer(t *testing.T, srv *server, cluster string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/clusters-oidc/"+url.PathEscape(cluster)+"/.well-known/openid-configuration", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &doc) != nil {
		t.Fatalf("OIDC discovery of %s: %d %s", cluster, resp.StatusCode, b)
	}
	return doc.Issuer
}

// TestRestartOnAnotherPort: a cluster's issuer is fixed when the cluster
// is created. Restarted on the same data directory but another port (so
// another public URL), podid shows the same issuer in DescribeCluster and
// OIDC discovery, and a token minted before the restart still gets
// credentials; a cluster created after the restart gets the new URL.
func TestRestartOnAnotherPort(t *testing.T) {
	t.Parallel()
	const cluster, namespace, sa = "e2e-moved", "ns-m", "app"
	dir := filepath.Join(t.TempDir(), "data")
	srv := startServerWith(t, proctest.DataDir(dir))
	c := srv.EKS(nil)
	createCluster(t, c, cluster)
	createAssociation(t, c, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
		Namespace: aws.String(namespace), ServiceAccount: aws.String(sa), RoleArn: aws.String(roleARN(account, "moved-role"))})
	srv.wait(t)
	issuer := describedIssuer(t, c, cluster)
	if want := srv.URL + "/clusters-oidc/" + cluster; issuer != want {
		t.Fatalf("DescribeCluster: issuer %s, want %s", issuer, want)
	}
	p := newPod(namespace, sa, "m1")
	token := srv.token(t, cluster, p)

	srv.Proc.Stop(10 * time.Second)
	// Hold the old port, so the new process cannot be given it again.
	old, err := net.Listen("tcp", srv.URL[len("http://"):])
	if err != nil {
		t.Fatalf("holding the old port: %v", err)
	}
	defer old.Close()
	again := startServerWith(t, proctest.DataDir(dir))
	if again.URL == srv.URL {
		t.Fatalf("restarted at the same URL %s", again.URL)
	}
	again.wait(t)

	if got := describedIssuer(t, again.EKS(nil), cluster); got != issuer {
		t.Errorf("DescribeCluster after the restart at %s: issuer %s, want %s as before", again.URL, got, issuer)
	}
	if got := discoveredIssuer(t, again, cluster); got != issuer {
		t.Errorf("OIDC discovery after the restart at %s: issuer %s, want %s as before", again.URL, got, issuer)
	}
	r := again.assumeRoleForPodIdentity(t, cluster, token, &again.Admin, "eks-auth")
	var out eksapi.AssumeRoleForPodIdentityOutput
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil || !assumedRoleRE(account, "moved-role", cluster, p.name).MatchString(out.AssumedRoleUser.Arn) {
		t.Errorf("token minted before the restart, used after it: %d %s", r.status, r.body)
	}

	createCluster(t, again.EKS(nil), "e2e-moved-new")
	if got, want := describedIssuer(t, again.EKS(nil), "e2e-moved-new"), again.URL+"/clusters-oidc/e2e-moved-new"; got != want {
		t.Errorf("a cluster created after the restart: issuer %s, want %s", got, want)
	}
}
