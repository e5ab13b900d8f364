package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/postgres/pgtest"
)

// The writer's row cache (an update of an association the replica's own
// last commits wrote does not read it) must never hand an update a row
// that another replica has changed since, nor skip a client request
// token's record.
func TestRowCacheAcrossReplicas(t *testing.T) {
	setRole := func(role string, saw *string) func(*store.Association) error {
		return func(a *store.Association) error {
			if saw != nil {
				*saw = a.RoleARN
			}
			a.RoleARN = role
			return nil
		}
	}
	// open returns two replicas on one new schema, with cluster c1 and
	// association id in it, which a has updated (so cached).
	open := func(t *testing.T, id string) (a, b store.Store) {
		t.Helper()
		dsn := pgtest.Schema(t, pgtest.DSN(t))
		a, b = pgtest.Open(t, dsn), pgtest.Open(t, dsn)
		ctx := t.Context()
		if _, err := a.CreateCluster(ctx, cluster("c1"), store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.CreateAssociation(ctx, association(id, "c1", "ns", "sa"), store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if _, err := a.UpdateAssociation(ctx, "", "c1", id, setRole(fmt.Sprint("arn:aws:iam::000000000000:role/a", i), nil), store.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		return a, b
	}
	const id = "a-00000000000000001"

	t.Run("update elsewhere", func(t *testing.T) {
		a, b := open(t, id)
		ctx := t.Context()
		byB, err := b.UpdateAssociation(ctx, "", "c1", id, setRole("arn:aws:iam::000000000000:role/b", nil), store.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var saw string
		byA, err := a.UpdateAssociation(ctx, "", "c1", id, setRole("arn:aws:iam::000000000000:role/a-again", &saw), store.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if saw != byB.RoleARN {
			t.Errorf("replica a's update saw role %q, want replica b's %q", saw, byB.RoleARN)
		}
		if byA.Revision <= byB.Revision {
			t.Errorf("replica a's update has revision %d, want after replica b's %d", byA.Revision, byB.Revision)
		}
		got, err := b.GetAssociation(ctx, "", "c1", id)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, byA); diff != "" {
			t.Errorf("stored after both (-got +want replica a's result):\n%s", diff)
		}
	})

	t.Run("delete elsewhere", func(t *testing.T) {
		a, b := open(t, id)
		ctx := t.Context()
		if _, err := b.DeleteAssociation(ctx, "", "c1", id); err != nil {
			t.Fatal(err)
		}
		_, err := a.UpdateAssociation(ctx, "", "c1", id, setRole("arn:aws:iam::000000000000:role/x", nil), store.WriteOptions{})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("updating on replica a what replica b deleted: %v, want ErrNotFound", err)
		}
	})

	t.Run("token used elsewhere", func(t *testing.T) {
		a, b := open(t, id)
		ctx := t.Context()
		idem := &store.Idempotency{Key: "UpdatePodIdentityAssociation/c1/tok", Hash: "h"}
		first, err := b.UpdateAssociation(ctx, "", "c1", id, setRole("arn:aws:iam::000000000000:role/b", nil), store.WriteOptions{Idempotency: idem})
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		again, err := a.UpdateAssociation(ctx, "", "c1", id, func(x *store.Association) error {
			calls++
			return nil
		}, store.WriteOptions{Idempotency: idem})
		if err != nil || calls != 0 {
			t.Fatalf("replaying on replica a replica b's token: %v, fn called %d times; want a replay", err, calls)
		}
		if diff := cmp.Diff(again, first); diff != "" {
			t.Errorf("replay (-got +want replica b's result):\n%s", diff)
		}
	})

	t.Run("region adopted elsewhere", func(t *testing.T) {
		a, b := open(t, id)
		ctx := t.Context()
		if n, err := b.AdoptRegion(ctx, "us-west-2"); err != nil || n != 1 {
			t.Fatalf("AdoptRegion on replica b = %d, %v; want 1 cluster", n, err)
		}
		_, err := a.UpdateAssociation(ctx, "", "c1", id, setRole("arn:aws:iam::000000000000:role/x", nil), store.WriteOptions{})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("updating on replica a in the region that replica b adopted: %v, want ErrNotFound", err)
		}
		if _, err := a.UpdateAssociation(ctx, "us-west-2", "c1", id, setRole("arn:aws:iam::000000000000:role/x", nil), store.WriteOptions{}); err != nil {
			t.Errorf("updating on replica a in the adopting region: %v", err)
		}
	})

	// Both replicas increment a counter in the association's tags, each
	// from several goroutines (so in batches): no increment is lost.
	t.Run("concurrent increments", func(t *testing.T) {
		a, b := open(t, id)
		ctx := t.Context()
		const goroutines, increments = 4, 25
		var wg sync.WaitGroup
		for i := range 2 * goroutines {
			s := []store.Store{a, b}[i%2]
			wg.Go(func() {
				for range increments {
					if _, err := s.UpdateAssociation(ctx, "", "c1", id, increment, store.WriteOptions{}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		got, err := a.GetAssociation(context.Background(), "", "c1", id)
		if err != nil {
			t.Fatal(err)
		}
		if want := strconv.Itoa(2 * goroutines * increments); got.Tags["n"] != want {
			t.Errorf("counter = %q after %s increments, want %s", got.Tags["n"], want, want)
		}
	})
}

// increment adds one to the association's tag n.
func increment(a *store.Association) error {
	n, _ := strconv.Atoi(a.Tags["n"])
	if a.Tags == nil {
		a.Tags = map[string]string{}
	}
	a.Tags["n"] = strconv.Itoa(n + 1)
	return nil
}
