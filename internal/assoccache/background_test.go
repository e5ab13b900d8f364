package assoccache_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podid/podid/internal/assoccache"
	"github.com/podid/podid/internal/store"
)

// heldFeed is the SQLite store whose change feed waits for release: the
// cache's first load cannot finish until the test says so.
type heldFeed struct {
	store.Store
	release chan struct{}
}

func (h heldFeed) ChangesSince(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	select {
	case <-h.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return h.Store.ChangesSince(ctx, after, limit)
}

func TestStartBackgroundReadsThroughUntilLoaded(t *testing.T) {
	st := openStore(t)
	createCluster(t, st, "c1")
	a := newAssoc("c1", "ns", "sa", "arn:aws:iam::111122223333:role/r1")
	a.ExternalID, a.Policy, a.TargetRoleARN = "ext", `{"Version":"2012-10-17"}`, "arn:aws:iam::444455556666:role/t"
	a = create(t, st, a)

	held := heldFeed{Store: st, release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	c := assoccache.New(held, assoccache.Options{Logger: slog.New(slog.DiscardHandler), Registerer: reg})
	c.StartBackground(context.Background())
	t.Cleanup(c.Stop)

	if c.Loaded() {
		t.Fatal("Loaded before the feed was read")
	}
	ctx := context.Background()
	got, ok, err := c.Find(ctx, "us-east-1", "c1", "ns", "sa")
	if err != nil || !ok {
		t.Fatalf("Find before the load = %v, %v", ok, err)
	}
	want := assoccache.Association{
		ID: a.ID, Region: a.Region, ClusterName: "c1", Namespace: "ns", ServiceAccount: "sa", RoleARN: a.RoleARN,
		TargetRoleARN: a.TargetRoleARN, ExternalID: "ext", Policy: a.Policy, Revision: a.Revision,
	}
	if got != want {
		t.Fatalf("Find before the load = %+v, want %+v", got, want)
	}
	for _, k := range [][3]string{{"c1", "ns", "other"}, {"nope", "ns", "sa"}} {
		if _, ok, err := c.Find(ctx, "us-east-1", k[0], k[1], k[2]); ok || err != nil {
			t.Fatalf("Find(%v) before the load = %v, %v; want not found", k, ok, err)
		}
	}
	// A write while loading is seen at once (read through).
	if _, err := st.DeleteAssociation(ctx, "us-east-1", "c1", a.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Find(ctx, "us-east-1", "c1", "ns", "sa"); ok {
		t.Fatal("Find found a deleted association before the load")
	}

	close(held.release)
	select {
	case <-c.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("not loaded 10 s after the feed was released")
	}
	b := create(t, st, newAssoc("c1", "ns", "sa2", "arn:aws:iam::111122223333:role/r2"))
	waitFor(t, c, b.Revision)
	if n := gauge(t, reg, "podid_assoccache_read_through_total"); n != 4 {
		t.Errorf("read-through count %v, want >= 4", n)
	}
	if got, ok, err := c.Find(ctx, "us-east-1", "c1", "ns", "sa2"); err != nil || !ok || got.ID != b.ID {
		t.Fatalf("Find after the load = %+v, %v, %v", got, ok, err)
	}
	if _, ok, _ := c.Find(ctx, "us-east-1", "c1", "ns", "sa"); ok {
		t.Fatal("Find after the load found the deleted association")
	}
}

// BenchmarkLoadMemory loads N associations shaped like the scale run's
// (200 clusters, a few namespaces and roles, a service account each) and
// reports the cache's live heap per association.
func BenchmarkLoadMemory(b *testing.B) {
	const n = 20_000
	st := openStore(b)
	ctx := context.Background()
	for i := range 20 {
		createCluster(b, st, fmt.Sprintf("cluster-%03d", i))
	}
	for i := range n {
		a := newAssoc(fmt.Sprintf("cluster-%03d", i%20), fmt.Sprintf("ns-%d", i%10),
			fmt.Sprintf("sa-%07d", i), fmt.Sprintf("arn:aws:iam::111122223333:role/role-%d", i%50))
		if _, err := st.CreateAssociation(ctx, a, store.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		before := liveHeap()
		c := assoccache.New(st, assoccache.Options{})
		if err := c.Start(ctx); err != nil {
			b.Fatal(err)
		}
		after := liveHeap()
		b.ReportMetric(float64(after-before)/n, "B/association")
		c.Stop()
		runtime.KeepAlive(c)
	}
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// gauge returns the value of an unlabelled gauge or counter in reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if m.Counter != nil {
			return m.Counter.GetValue()
		}
		return m.Gauge.GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}
