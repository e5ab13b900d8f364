package assoccache_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/podid/podid/internal/assoccache"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "assoccache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "podid.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	cache := assoccache.New(st, assoccache.Options{})
	if err := cache.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer cache.Stop()

	now := time.Now()
	if _, err := st.CreateCluster(ctx, store.Cluster{Region: "us-east-1", Name: "demo", CreatedAt: now}, store.WriteOptions{}); err != nil {
		log.Fatal(err)
	}
	a, err := st.CreateAssociation(ctx, store.Association{
		Region: "us-east-1", ID: "a-abcdefghij0123456", ClusterName: "demo", Namespace: "default", ServiceAccount: "app",
		RoleARN: "arn:aws:iam::111122223333:role/app", CreatedAt: now, ModifiedAt: now,
	}, store.WriteOptions{})
	if err != nil {
		log.Fatal(err)
	}
	// Wait until the create is in effect for credential requests.
	if err := cache.WaitFor(ctx, a.Revision); err != nil {
		log.Fatal(err)
	}
	got, ok := cache.Lookup("us-east-1", "demo", "default", "app")
	fmt.Println(ok, got.RoleARN)
	// Output: true arn:aws:iam::111122223333:role/app
}
