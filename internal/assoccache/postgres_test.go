package assoccache_test

import (
	"context"
	"testing"
	"time"

	"github.com/podid/podid/internal/assoccache"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/postgres/pgtest"
)

// TestTwoReplicasPostgres: one replica writes, another's cache follows
// through the shared database (LISTEN/NOTIFY, else polling), and WaitFor
// with the writer's revision tells when a change is in effect there.
func TestTwoReplicasPostgres(t *testing.T) {
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	writer := pgtest.Open(t, dsn)
	reader := pgtest.Open(t, dsn)
	ctx := context.Background()
	cl := createCluster(t, writer, "c1")
	c := startCache(t, reader, assoccache.Options{PollInterval: time.Hour}) // signals or kicks only

	a := create(t, writer, newAssoc("c1", "ns", "sa", "arn:aws:iam::111122223333:role/r1"))
	waitFor(t, c, a.Revision)
	if got, ok := c.Lookup("us-east-1", "c1", "ns", "sa"); !ok || got.RoleARN != a.RoleARN {
		t.Errorf("after create on the other replica: %+v, %v", got, ok)
	}
	u, err := writer.UpdateAssociation(ctx, "us-east-1", "c1", a.ID, func(x *store.Association) error {
		x.RoleARN = "arn:aws:iam::111122223333:role/r2"
		x.ModifiedAt = time.Now()
		return nil
	}, store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, u.Revision)
	if got, _ := c.Lookup("us-east-1", "c1", "ns", "sa"); got.RoleARN != u.RoleARN {
		t.Errorf("after update: role %s, want %s", got.RoleARN, u.RoleARN)
	}
	// A cluster write on the writer is seen by the reader's cluster cache.
	if _, err := c.Cluster(ctx, "us-east-1", "c1"); err != nil {
		t.Fatal(err)
	}
	cu, err := writer.UpdateCluster(ctx, "us-east-1", cl.Name, func(x *store.Cluster) error {
		x.Issuer = store.Issuer{URL: "https://issuer.example", JWKSURL: "https://issuer.example/keys"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, cu.Revision)
	if got, _ := c.Cluster(ctx, "us-east-1", "c1"); got.Issuer.URL != "https://issuer.example" {
		t.Errorf("reader's cluster issuer %q after the writer's update", got.Issuer.URL)
	}
	if _, err := writer.DeleteAssociation(ctx, "us-east-1", "c1", a.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, currentRevision(t, writer))
	if _, ok := c.Lookup("us-east-1", "c1", "ns", "sa"); ok {
		t.Errorf("after delete on the other replica: still cached")
	}
}
