package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/servertest"
	"github.com/podid/podid/internal/store"
)

func describeIssuer(t *testing.T, c *eks.Client, name string) string {
	t.Helper()
	out, err := c.DescribeCluster(context.Background(), &eks.DescribeClusterInput{Name: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeCluster(%s): %v", name, err)
	}
	return aws.ToString(out.Cluster.Identity.Oidc.Issuer)
}

// TestIssuerFixedAtCreation: a cluster's issuer URL is the one of the
// server that created it; another server on the same store, with another
// public URL, shows the same, and its own URL only for clusters it
// creates.
func TestIssuerFixedAtCreation(t *testing.T) {
	a := servertest.New(t)
	b := servertest.New(t, servertest.WithStore(a.Store))
	if a.URL == b.URL {
		t.Fatal("two test servers on one URL")
	}
	createCluster(t, a.EKS(t), "made-by-a")
	createCluster(t, b.EKS(t), "made-by-b")
	for _, tt := range []struct{ cluster, want string }{
		{"made-by-a", a.URL + "/clusters-oidc/made-by-a"},
		{"made-by-b", b.URL + "/clusters-oidc/made-by-b"},
	} {
		for _, srv := range []*servertest.Server{a, b} {
			if got := describeIssuer(t, srv.EKS(t), tt.cluster); got != tt.want {
				t.Errorf("DescribeCluster(%s) through %s: issuer %s, want %s", tt.cluster, srv.URL, got, tt.want)
			}
		}
	}
}

// TestBackfillIssuerURLs: a cluster stored without its own issuer URL (by
// a podid from before it kept one) gets the one the backfilling server's
// configuration gives it, once; clusters that have one keep it; a second
// backfill, by a server with another public URL, changes nothing.
func TestBackfillIssuerURLs(t *testing.T) {
	ctx := context.Background()
	a := servertest.New(t)
	b := servertest.New(t, servertest.WithStore(a.Store))
	createCluster(t, b.EKS(t), "current")
	for _, name := range []string{"old-1", "old-2"} {
		if _, err := a.Store.CreateCluster(ctx, store.Cluster{Region: "us-east-1", Name: name, CreatedAt: time.Now()}, store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := server.Config{PublicURL: a.URL}.Names().BackfillIssuerURLs(ctx, a.Store)
	if err != nil || n != 2 {
		t.Fatalf("BackfillIssuerURLs = %d, %v; want 2 clusters", n, err)
	}
	if n, err := (server.Config{PublicURL: b.URL}).Names().BackfillIssuerURLs(ctx, a.Store); err != nil || n != 0 {
		t.Errorf("second BackfillIssuerURLs = %d, %v; want none", n, err)
	}
	for cluster, want := range map[string]string{
		"old-1":   a.URL + "/clusters-oidc/old-1",
		"old-2":   a.URL + "/clusters-oidc/old-2",
		"current": b.URL + "/clusters-oidc/current",
	} {
		if got := describeIssuer(t, b.EKS(t), cluster); got != want {
			t.Errorf("DescribeCluster(%s) through B after the backfill: issuer %s, want %s", cluster, got, want)
		}
	}
}
