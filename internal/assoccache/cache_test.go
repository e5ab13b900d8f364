package assoccache_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/podid/podid/internal/assoccache"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
)

func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "podid.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func startCache(t *testing.T, st store.Store, opts assoccache.Options) *assoccache.Cache {
	t.Helper()
	c := assoccache.New(st, opts)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

func createCluster(t testing.TB, st store.Store, name string) store.Cluster {
	t.Helper()
	c, err := st.CreateCluster(context.Background(), store.Cluster{Region: "us-east-1", Name: name, CreatedAt: time.Now()}, store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var idSeq int

func newAssoc(cluster, ns, sa, role string) store.Association {
	idSeq++
	now := time.Now()
	return store.Association{
		Region: "us-east-1", ID: fmt.Sprintf("a-%017d", idSeq), ClusterName: cluster, Namespace: ns, ServiceAccount: sa,
		RoleARN: role, CreatedAt: now, ModifiedAt: now,
	}
}

func create(t *testing.T, st store.Store, a store.Association) store.Association {
	t.Helper()
	a, err := st.CreateAssociation(context.Background(), a, store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func waitFor(t *testing.T, c *assoccache.Cache, rev int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitFor(ctx, rev); err != nil {
		t.Fatalf("WaitFor(%d): %v (applied %d)", rev, err, c.AppliedRevision())
	}
}

func currentRevision(t *testing.T, st store.Store) int64 {
	t.Helper()
	rev, err := st.Revision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

func want(a store.Association) assoccache.Association {
	return assoccache.Association{
		ID: a.ID, Region: a.Region, ClusterName: a.ClusterName, Namespace: a.Namespace, ServiceAccount: a.ServiceAccount,
		RoleARN: a.RoleARN, TargetRoleARN: a.TargetRoleARN, ExternalID: a.ExternalID, Policy: a.Policy,
		DisableSessionTags: a.DisableSessionTags, Revision: a.Revision,
	}
}

// pollOnly hides the store's Watcher, as a backend without signals.
type pollOnly struct{ store.Store }

func TestPropagation(t *testing.T) {
	for _, tt := range []struct {
		name string
		st   func(*sqlite.Store) store.Store
		poll time.Duration
	}{
		{"watcher", func(s *sqlite.Store) store.Store { return s }, time.Hour},
		// Without signals, a waiter's kick still makes the cache read
		// the feed at once rather than at the next poll.
		{"kick without watcher", func(s *sqlite.Store) store.Store { return pollOnly{s} }, time.Hour},
		{"poll", func(s *sqlite.Store) store.Store { return pollOnly{s} }, 20 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw := openStore(t)
			st := tt.st(raw)
			ctx := context.Background()
			createCluster(t, st, "c1")
			pre := create(t, st, newAssoc("c1", "ns", "before", "arn:aws:iam::111122223333:role/r0"))
			c := startCache(t, st, assoccache.Options{PollInterval: tt.poll})

			// The first load has what was there before Start.
			if got, ok := c.Lookup("us-east-1", "c1", "ns", "before"); !ok || !cmp.Equal(got, want(pre)) {
				t.Errorf("after load: Lookup = %+v, %v; want %+v", got, ok, want(pre))
			}

			a := create(t, st, newAssoc("c1", "ns", "sa", "arn:aws:iam::111122223333:role/r1"))
			if tt.name == "poll" {
				// Polling alone, no kick: wait on the condition.
				eventually(t, "create applied by polling", func() bool { return c.AppliedRevision() >= a.Revision })
			}
			waitFor(t, c, a.Revision)
			if got, ok := c.Lookup("us-east-1", "c1", "ns", "sa"); !ok || !cmp.Equal(got, want(a)) {
				t.Errorf("after create: Lookup = %+v, %v; want %+v", got, ok, want(a))
			}

			u, err := st.UpdateAssociation(ctx, "us-east-1", "c1", a.ID, func(x *store.Association) error {
				x.RoleARN = "arn:aws:iam::111122223333:role/r2"
				x.TargetRoleARN = "arn:aws:iam::444455556666:role/t"
				x.ExternalID = "us-west-2/111122223333/c1/ns/sa"
				x.Policy = `{"Version":"2012-10-17"}`
				x.ModifiedAt = time.Now()
				return nil
			}, store.WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, c, u.Revision)
			if got, _ := c.Lookup("us-east-1", "c1", "ns", "sa"); !cmp.Equal(got, want(u)) {
				t.Errorf("after update: Lookup = %+v; want %+v", got, want(u))
			}

			if _, err := st.DeleteAssociation(ctx, "us-east-1", "c1", a.ID); err != nil {
				t.Fatal(err)
			}
			waitFor(t, c, currentRevision(t, st))
			if got, ok := c.Lookup("us-east-1", "c1", "ns", "sa"); ok {
				t.Errorf("after delete: Lookup = %+v, want none", got)
			}
			// Re-create under the same key.
			b := create(t, st, newAssoc("c1", "ns", "sa", "arn:aws:iam::111122223333:role/r3"))
			waitFor(t, c, b.Revision)
			if got, _ := c.Lookup("us-east-1", "c1", "ns", "sa"); got.ID != b.ID {
				t.Errorf("after re-create: ID = %s, want %s", got.ID, b.ID)
			}
			// Deleting the cluster deletes its associations.
			if _, err := st.DeleteCluster(ctx, "us-east-1", "c1"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, c, currentRevision(t, st))
			if c.Len() != 0 {
				t.Errorf("after cluster delete: Len = %d, want 0", c.Len())
			}
		})
	}
}

func TestWaitForTimesOut(t *testing.T) {
	st := openStore(t)
	c := startCache(t, st, assoccache.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.WaitFor(ctx, currentRevision(t, st)+100); err != context.DeadlineExceeded {
		t.Errorf("WaitFor(future) = %v, want DeadlineExceeded", err)
	}
	// A revision that is not an association's (a cluster write) is
	// applied too.
	cl := createCluster(t, st, "c1")
	waitFor(t, c, cl.Revision)
}

func TestDelay(t *testing.T) {
	st := openStore(t)
	createCluster(t, st, "c1")
	const delay = 1500 * time.Millisecond
	reg := prometheus.NewRegistry()
	c := startCache(t, st, assoccache.Options{Delay: delay, Registerer: reg})

	a := create(t, st, newAssoc("c1", "ns", "sa", "arn:aws:iam::111122223333:role/r1"))
	c.Kick()
	if _, ok := c.Lookup("us-east-1", "c1", "ns", "sa"); ok {
		t.Errorf("create in effect before the delay")
	}
	waitFor(t, c, a.Revision)
	if since := time.Since(a.ModifiedAt); since < delay {
		t.Errorf("create applied %v after commit, want >= %v", since, delay)
	}
	if _, ok := c.Lookup("us-east-1", "c1", "ns", "sa"); !ok {
		t.Errorf("create not in effect after WaitFor")
	}
	p := c.Propagation()
	if p.Count != 1 || p.Max < delay || p.Max > delay+5*time.Second {
		t.Errorf("Propagation = %+v, want one sample of about %v", p, delay)
	}

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		switch {
		case m.Gauge != nil:
			got[mf.GetName()] = m.Gauge.GetValue()
		case m.Counter != nil:
			got[mf.GetName()] = m.Counter.GetValue()
		case m.Histogram != nil:
			got[mf.GetName()] = float64(m.Histogram.GetSampleCount())
		}
	}
	wantM := map[string]float64{
		"podid_assoccache_applied_revision":    float64(c.AppliedRevision()),
		"podid_assoccache_associations":        1,
		"podid_assoccache_delay_seconds":       delay.Seconds(),
		"podid_assoccache_loaded":              1,
		"podid_assoccache_propagation_seconds": 1,
		"podid_assoccache_read_through_total":  0,
		"podid_assoccache_resyncs_total":       1,
		"podid_assoccache_sync_errors_total":   0,
	}
	if diff := cmp.Diff(got, wantM); diff != "" {
		t.Errorf("metrics (-got +want):\n%s", diff)
	}
}

// lostTombstones drops deletions from the change feed after the first
// load, as a feed whose tombstones were pruned would.
type lostTombstones struct{ store.Store }

func (s lostTombstones) ChangesSince(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	ch, err := s.Store.ChangesSince(ctx, after, limit)
	if after == 0 {
		return ch, err
	}
	var out []store.Change
	for _, c := range ch {
		if !c.Deleted {
			out = append(out, c)
		}
	}
	return out, err
}

func TestResyncDropsMissedDeletes(t *testing.T) {
	raw := openStore(t)
	st := lostTombstones{raw}
	createCluster(t, st, "c1")
	a := create(t, st, newAssoc("c1", "ns", "sa", "arn:aws:iam::111122223333:role/r1"))
	c := startCache(t, st, assoccache.Options{ResyncInterval: 100 * time.Millisecond})
	if _, err := st.DeleteAssociation(context.Background(), "us-east-1", "c1", a.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "missed delete dropped by resync", func() bool {
		_, ok := c.Lookup("us-east-1", "c1", "ns", "sa")
		return !ok
	})
}

// eventually waits for cond, re-checking it every few milliseconds, for at
// most 10 s (for what has no revision to wait on: polling, resyncs).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		<-tick.C
	}
}

func TestClusterCache(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	createCluster(t, st, "c1")
	c := startCache(t, st, assoccache.Options{PollInterval: time.Hour})
	if _, err := c.Cluster(ctx, "us-east-1", "nope"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("Cluster(unknown) error = %v, want not found", err)
	}
	got, err := c.Cluster(ctx, "us-east-1", "c1")
	if err != nil || got.Issuer.URL != "" {
		t.Fatalf("Cluster = %+v, %v", got, err)
	}
	u, err := st.UpdateCluster(ctx, "us-east-1", "c1", func(cl *store.Cluster) error {
		cl.Issuer = store.Issuer{URL: "https://issuer.example", JWKS: []byte(`{"keys":[]}`)}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Once the cluster write's revision is applied, the cache serves it.
	waitFor(t, c, u.Revision)
	if got, _ := c.Cluster(ctx, "us-east-1", "c1"); got.Issuer.URL != "https://issuer.example" {
		t.Errorf("after update: issuer = %q", got.Issuer.URL)
	}
}

// feed is a generated change feed, for measuring memory without a store.
type feed struct {
	store.Store
	changes []store.Change
}

func (f *feed) Revision(context.Context) (int64, error) { return int64(len(f.changes)), nil }
func (f *feed) ChangesSince(_ context.Context, after int64, limit int) ([]store.Change, error) {
	end := min(int(after)+limit, len(f.changes))
	if int(after) >= end {
		return nil, nil
	}
	return f.changes[after:end], nil
}

func TestMemory100k(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100k associations")
	}
	const n = 100_000
	f := &feed{}
	now := time.Now()
	for i := range n {
		a := &store.Association{
			Region: "us-east-1", ID: fmt.Sprintf("a-%017d", i), ClusterName: fmt.Sprintf("cluster-%d", i%10),
			Namespace: fmt.Sprintf("ns-%d", i%100), ServiceAccount: fmt.Sprintf("sa-%d", i),
			RoleARN:   fmt.Sprintf("arn:aws:iam::111122223333:role/role-%d", i%1000),
			CreatedAt: now, ModifiedAt: now, Revision: int64(i + 1),
		}
		f.changes = append(f.changes, store.Change{Revision: a.Revision, Region: a.Region, ClusterName: a.ClusterName, AssociationID: a.ID, Association: a})
	}
	// The feed's own records would be garbage in a real store read; count
	// only what the cache keeps: measure with the feed retained in both.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := startCache(t, f, assoccache.Options{PollInterval: time.Hour})
	runtime.GC()
	runtime.ReadMemStats(&after)
	if c.Len() != n {
		t.Fatalf("Len = %d, want %d", c.Len(), n)
	}
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("cache heap: %.1f MiB for %d associations (%.0f B each)", float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), n, per)
	if per > 600 {
		t.Errorf("%.0f B per association, want <= 600", per)
	}
	runtime.KeepAlive(f)
}
