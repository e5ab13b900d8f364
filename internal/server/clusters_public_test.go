package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/servertest"
	"github.com/podid/podid/internal/store"
)

// plainStore reads clusters with their key sets even through
// GetClusterPublic, as a backend without a cheaper read may.
type plainStore struct{ store.Store }

func (p plainStore) GetClusterPublic(ctx context.Context, region, name string) (store.Cluster, error) {
	return p.GetCluster(ctx, region, name)
}

// TestDescribeClusterWithoutPublicGetter: DescribeCluster answers the same
// bytes whether the store reads clusters without their keys
// (GetClusterPublic) or with them (GetCluster).
func TestDescribeClusterWithoutPublicGetter(t *testing.T) {
	issuer := func(cfg *server.Config) {
		cfg.NewClusterIssuer = func(_ context.Context, name string) (store.Issuer, error) {
			return store.Issuer{SigningKeys: []byte(`{"keys":[{"kty":"EC","d":"secret"}]}`)}, nil
		}
	}
	a := servertest.New(t, servertest.WithConfig(issuer))
	b := servertest.New(t, servertest.WithStore(plainStore{a.Store}), servertest.WithConfig(issuer))
	createCluster(t, a.EKS(t), "c1")

	get := func(srv *servertest.Server) string {
		t.Helper()
		res, err := http.Get(srv.URL + "/clusters/c1")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s/clusters/c1: %d %s %v", srv.URL, res.StatusCode, body, err)
		}
		// Either server's URL (the issuer is the creating server's).
		return strings.NewReplacer(a.URL, "{url}", b.URL, "{url}").Replace(string(body))
	}
	got, want := get(a), get(b)
	if got != want {
		t.Errorf("DescribeCluster through GetClusterPublic:\n%s\nthrough GetCluster:\n%s", got, want)
	}
	if strings.Contains(got, "secret") {
		t.Errorf("DescribeCluster shows key material: %s", got)
	}
}
