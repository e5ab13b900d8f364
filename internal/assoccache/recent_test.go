package assoccache_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podid/podid/internal/assoccache"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
)

// feedCounter counts the store's change feed reads.
type feedCounter struct {
	*sqlite.Store
	reads atomic.Int64
}

func (f *feedCounter) ChangesSince(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	f.reads.Add(1)
	return f.Store.ChangesSince(ctx, after, limit)
}

// TestFollowsRecentChanges: woken by its store's signal, the cache takes
// this process's writes from the store's memory of them
// (store.RecentChanges) without reading the change feed; another process's
// write to the same file, which does not signal here, is read from the
// feed at this process's next commit, which the memory cannot answer
// across.
func TestFollowsRecentChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "podid.db")
	open := func() *sqlite.Store {
		st, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st, other := &feedCounter{Store: open()}, open()
	createCluster(t, st, "c1")
	c := startCache(t, st, assoccache.Options{PollInterval: time.Hour, MinSignalInterval: -1})
	applied := func(rev int64) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for c.AppliedRevision() < rev {
			select {
			case <-deadline:
				t.Fatalf("revision %d not applied within 10s of its signal (applied %d)", rev, c.AppliedRevision())
			case <-tick.C:
			}
		}
	}

	loaded := st.reads.Load()
	x := create(t, st, newAssoc("c1", "ns", "x", "arn:aws:iam::000000000000:role/x"))
	applied(x.Revision)
	x2, err := st.UpdateAssociation(context.Background(), "us-east-1", "c1", x.ID, func(a *store.Association) error {
		a.RoleARN = "arn:aws:iam::000000000000:role/x2"
		return nil
	}, store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	applied(x2.Revision)
	if got, ok := c.Lookup("us-east-1", "c1", "ns", "x"); !ok || got != want(x2) {
		t.Errorf("Lookup = %+v, %v; want %+v", got, ok, want(x2))
	}
	if n := st.reads.Load() - loaded; n != 0 {
		t.Errorf("the cache read the change feed %d times for this process's own writes; want none", n)
	}

	y := create(t, other, newAssoc("c1", "ns", "y", "arn:aws:iam::000000000000:role/y"))
	z := create(t, st, newAssoc("c1", "ns", "z", "arn:aws:iam::000000000000:role/z"))
	applied(z.Revision)
	for _, a := range []store.Association{y, z} {
		if got, ok := c.Lookup("us-east-1", "c1", "ns", a.ServiceAccount); !ok || got != want(a) {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v", a.ServiceAccount, got, ok, want(a))
		}
	}
	if _, err := st.DeleteAssociation(context.Background(), "us-east-1", "c1", x.ID); err != nil {
		t.Fatal(err)
	}
	applied(currentRevision(t, st))
	if got, ok := c.Lookup("us-east-1", "c1", "ns", "x"); ok {
		t.Errorf("Lookup after the delete = %+v; want none", got)
	}
}
