package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/internal/store"
)

// testRecentChanges: a store's memory of its own commits
// (store.RecentChanges) tells what the change feed tells: applied in order
// to the state as of a revision, its changes since then leave what
// ChangesSince's leave, through the store's revision; writes that failed
// (the update function's refusal, its panic, a missing association) amid
// concurrent ones that commit are not in it. A write that changed
// associations the memory cannot list (a cluster deleted with its
// associations) makes it answer nothing for the revisions before.
func testRecentChanges(t *testing.T, s store.Store) {
	rc, ok := s.(store.RecentChanges)
	if !ok {
		t.Skip("the store does not implement store.RecentChanges")
	}
	ctx := t.Context()
	mustCreateCluster(t, s, "c1")
	r0, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if changes, through, ok := rc.RecentChanges(r0); !ok || len(changes) != 0 || through != r0 {
		t.Fatalf("RecentChanges(Revision() %d) after a write = %d changes through %d, %v; want none through %d, true",
			r0, len(changes), through, ok, r0)
	}

	const workers, each = 8, 12
	ids := make([]string, workers)
	for w := range workers {
		ids[w] = mustCreate(t, s, newAssociation("c1", "ns", fmt.Sprint("sa-", w))).ID
	}
	errRefused := errors.New("refused")
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range each {
				switch (w + i) % 6 {
				case 0:
					_, _ = s.UpdateAssociation(ctx, region, "c1", "a-missing", func(*store.Association) error { return nil }, store.WriteOptions{})
				case 1:
					_, _ = s.UpdateAssociation(ctx, region, "c1", ids[w], func(*store.Association) error { return errRefused }, store.WriteOptions{})
				case 2:
					func() {
						defer func() { _ = recover() }()
						_, _ = s.UpdateAssociation(ctx, region, "c1", ids[w], func(*store.Association) error { panic("boom") }, store.WriteOptions{})
					}()
				case 3:
					a := mustCreate(t, s, newAssociation("c1", "ns", fmt.Sprint("extra-", w, "-", i)))
					if _, err := s.DeleteAssociation(ctx, region, "c1", a.ID); err != nil {
						t.Errorf("DeleteAssociation: %v", err)
					}
				default:
					if _, err := s.UpdateAssociation(ctx, region, "c1", ids[w], func(a *store.Association) error {
						a.Tags["n"] = fmt.Sprint(i)
						a.RoleARN = fmt.Sprintf("arn:aws:iam::000000000000:role/r-%d", i)
						return nil
					}, store.WriteOptions{Idempotency: &store.Idempotency{Key: fmt.Sprint(idPrefix, "-recent-", w, "-", i), Hash: "h"}}); err != nil {
						t.Errorf("UpdateAssociation: %v", err)
					}
				}
			}
		}()
	}
	for range workers {
		<-done
	}
	mustCreateCluster(t, s, "c2") // a revision without a change to associations
	last, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	changes, through, ok := rc.RecentChanges(r0)
	if !ok || through != last {
		t.Fatalf("RecentChanges(%d) = through %d, %v; want through Revision() %d, true", r0, through, ok, last)
	}
	prev := r0
	for _, c := range changes {
		if c.Revision <= prev || c.Revision > through {
			t.Errorf("change at revision %d after one at %d, through %d: want increasing, within (%d, %d]", c.Revision, prev, through, r0, through)
		}
		prev = c.Revision
	}
	feed, err := s.ChangesSince(ctx, r0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(applyChanges(changes), applyChanges(feed)); diff != "" {
		t.Errorf("state from RecentChanges(%d) (-got) and from ChangesSince (+want):\n%s", r0, diff)
	}
	if mid := changes[len(changes)/2].Revision; true {
		tail, _, ok := rc.RecentChanges(mid)
		if !ok || len(tail) == 0 || tail[0].Revision <= mid {
			t.Errorf("RecentChanges(%d) = %d changes from %v, %v; want the changes after it", mid, len(tail), tail, ok)
		}
	}
	if _, _, ok := rc.RecentChanges(last + 1); ok {
		t.Errorf("RecentChanges(%d), past Revision() %d, answered", last+1, last)
	}

	// A cluster deleted with its associations: the memory cannot list
	// their tombstones, and answers for nothing before a later write.
	mustCreate(t, s, newAssociation("c2", "ns", "sa"))
	if _, err := s.DeleteCluster(ctx, region, "c2"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := rc.RecentChanges(last); ok {
		t.Errorf("RecentChanges(%d) answered across a cluster's deletion with its associations", last)
	}
	deleted, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := mustCreate(t, s, newAssociation("c1", "ns", "after"))
	changes, through, ok = rc.RecentChanges(deleted)
	if want := []store.Change{{Revision: a.Revision, Region: region, ClusterName: "c1", AssociationID: a.ID, Association: &a}}; !ok || through != a.Revision || !cmp.Equal(changes, want) {
		t.Errorf("RecentChanges(%d) after the next write = %v through %d, %v; want %v through %d", deleted, changes, through, ok, want, a.Revision)
	}
}

// applyChanges is the state changes leave, applied in order to an empty
// one: the associations by ID (nil: deleted).
func applyChanges(changes []store.Change) map[string]*store.Association {
	state := map[string]*store.Association{}
	for _, c := range changes {
		state[c.AssociationID] = c.Association
		if c.Deleted {
			state[c.AssociationID] = nil
		}
	}
	return state
}
