package durability

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/podid/podid/internal/proctest"
)

// TestReplicasAgreeOnIssuer: two replicas on one PostgreSQL database with
// different public URLs (A on 127.0.0.1, B on localhost) agree on every
// cluster's issuer, the one fixed when the cluster was created: a token
// minted through A gets credentials through B and the other way round, and
// DescribeCluster and OIDC discovery show the same issuer through both.
func TestReplicasAgreeOnIssuer(t *testing.T) {
	t.Parallel()
	port := proctest.FreePort(t)
	rs, _ := startReplicas(t, 2, nil, []string{"--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--public-url", fmt.Sprintf("http://localhost:%d", port)})
	a, b := rs[0], rs[1]
	if a.URL == b.URL {
		t.Fatalf("both replicas at %s, want different public URLs", a.URL)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	for _, tt := range []struct {
		cluster        string
		create, other  *server
		wantIssuerBase string
	}{
		{"issuer-of-a", a, b, a.URL},
		{"issuer-of-b", b, a, b.URL},
	} {
		createCluster(t, tt.create.eks(), tt.cluster)
		out, err := tt.create.eks().CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
			ClusterName: aws.String(tt.cluster), Namespace: aws.String("ns"), ServiceAccount: aws.String("app"),
			RoleArn: aws.String(roleARN("issuer-role"))})
		if err != nil {
			t.Fatalf("CreatePodIdentityAssociation through %s: %v", tt.create.Name(), err)
		}
		rev, err := writeRevision(out.ResultMetadata)
		if err != nil {
			t.Fatal(err)
		}
		for _, srv := range []*server{a, b} {
			if _, err := srv.waitRevision(ctx, rev, 30*time.Second); err != nil {
				t.Fatalf("waiting for revision %d on %s: %v", rev, srv.Name(), err)
			}
		}

		want := tt.wantIssuerBase + "/clusters-oidc/" + tt.cluster
		for _, srv := range []*server{a, b} {
			d, err := srv.eks().DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(tt.cluster)})
			if err != nil {
				t.Fatalf("DescribeCluster %s through %s: %v", tt.cluster, srv.Name(), err)
			}
			if got := aws.ToString(d.Cluster.Identity.Oidc.Issuer); got != want {
				t.Errorf("DescribeCluster %s through %s: issuer %s, want %s", tt.cluster, srv.Name(), got, want)
			}
			var doc struct {
				Issuer  string `json:"issuer"`
				JWKSURI string `json:"jwks_uri"`
			}
			if err := srv.adminCall(ctx, http.MethodGet, "/clusters-oidc/"+url.PathEscape(tt.cluster)+"/.well-known/openid-configuration", nil, &doc); err != nil {
				t.Fatalf("OIDC discovery of %s through %s: %v", tt.cluster, srv.Name(), err)
			}
			if doc.Issuer != want || doc.JWKSURI != want+"/keys" {
				t.Errorf("OIDC discovery of %s through %s: issuer %s, jwks_uri %s; want %s", tt.cluster, srv.Name(), doc.Issuer, doc.JWKSURI, want)
			}
		}

		// Minted through the replica that made the cluster, used
		// through the other, and the other way round.
		for _, pair := range [][2]*server{{tt.create, tt.other}, {tt.other, tt.create}} {
			minter, user := pair[0], pair[1]
			token := minter.token(t, tt.cluster, "ns", "app")
			if got, err := user.assumedRole(ctx, tt.cluster, token); err != nil || got != "issuer-role" {
				t.Errorf("%s: token minted through %s, credentials through %s: %q, %v; want role issuer-role",
					tt.cluster, minter.Name(), user.Name(), got, err)
			}
		}
	}
}
