package postgres_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/postgres"
)

// Two replicas share one database: a write on one is read on the other, and
// the other's Watch channel is signalled. (Compiled, not run: it needs a
// server; TestReplicasShareWritesAndSignals runs the same steps.)
func Example() {
	ctx := context.Background()
	dsn := os.Getenv("TEST_POSTGRES_DSN") // e.g. postgres://podid:podid@127.0.0.1:25432/podid
	a, err := postgres.Open(ctx, dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	changed, err := b.Watch(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := a.CreateCluster(ctx, store.Cluster{Name: "demo", CreatedAt: time.Now()}, store.WriteOptions{}); err != nil {
		log.Fatal(err)
	}
	<-changed
	c, err := b.GetCluster(ctx, "", "demo")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Name, c.Revision > 0)
}
