package sqlite

import (
	"errors"
	"testing"
	"time"

	"github.com/podid/podid/internal/store"
)

// TestWriterCache: the writer answers an Update of an association it
// wrote or read from memory, yet every Update sees what the database
// holds: another connection's commit, a write rolled back with its
// transaction (a failed write run again without it) or with its savepoint,
// a deletion of the association or of its cluster, and a region adopted.
func TestWriterCache(t *testing.T) {
	ctx := t.Context()
	s := openWithClock(t, time.Now)
	if _, err := s.CreateCluster(ctx, store.Cluster{Name: "c1", CreatedAt: time.Now()}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	const id = "a-0123456789abcdefg"
	if _, err := s.CreateAssociation(ctx, store.Association{
		ID: id, ClusterName: "c1", Namespace: "ns", ServiceAccount: "sa", RoleARN: role("r0"),
		CreatedAt: time.Now(), ModifiedAt: time.Now(),
	}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A second writer on the file, driven from here: another connection
	// to the store's writer.
	w := testWriter(t, s, false)
	errRefused := errors.New("refused")
	// update is a write on w that sees the role in saw, sets it to to,
	// and then fails if fail says so (after its write).
	update := func(to string, saw *string, fail func() bool) *writeReq {
		return &writeReq{ctx: ctx, done: make(chan writeResult, 1), fn: func(tx *wtx) error {
			_, err := s.updateAssociation(tx, "", "c1", id, func(a *store.Association) error {
				*saw = a.RoleARN
				a.RoleARN = role(to)
				return nil
			}, walBenchToken("UpdatePodIdentityAssociation", "", "c1"))
			if err == nil && fail != nil && fail() {
				err = errRefused
			}
			return err
		}}
	}
	// batch runs reqs in one transaction of w and returns their errors.
	batch := func(reqs ...*writeReq) []error {
		t.Helper()
		for _, req := range reqs[1:] {
			w.reqs <- req
		}
		w.runBatch(reqs[0])
		w.awaitSync()
		errs := make([]error, len(reqs))
		for i, req := range reqs {
			res := <-req.done
			if res.panicked {
				t.Fatalf("write %d panicked: %v", i, res.panicVal)
			}
			errs[i] = res.err
		}
		return errs
	}
	// want runs an update on w that sets the role to to and checks that
	// it saw want, and how many updates the cache answered meanwhile.
	want := func(step, to, want string, hits int64) {
		t.Helper()
		var saw string
		before := w.cache.hits
		if err := batch(update(to, &saw, nil))[0]; err != nil {
			t.Fatalf("%s: update: %v", step, err)
		}
		if saw != role(want) || w.cache.hits-before != hits {
			t.Errorf("%s: the update saw role %s (%d from the cache), want %s (%d)", step, saw, w.cache.hits-before, role(want), hits)
		}
	}

	want("first update", "r1", "r0", 0)
	want("update of what it wrote", "r2", "r1", 1)
	if _, err := s.UpdateAssociation(ctx, "", "c1", id, func(a *store.Association) error {
		a.RoleARN = role("other")
		return nil
	}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	want("after another connection's update", "r3", "other", 0)
	want("update of what it wrote again", "r4", "r3", 1)

	// A batch: a sets r5; b sets r6, and on its second run r7 and fails;
	// c sets r8 and fails, so the batch runs again without c (a and b in
	// savepoints; b's is rolled back); d sees a's r5.
	var sawA, sawB, sawC, sawD string
	bRuns := 0
	a := update("r5", &sawA, nil)
	b := update("r6", &sawB, func() bool {
		bRuns++
		if bRuns == 2 {
			return true
		}
		return false
	})
	c := update("r8", &sawC, func() bool { return true })
	d := update("r9", &sawD, nil)
	errs := batch(a, b, c, d)
	if errs[0] != nil || !errors.Is(errs[1], errRefused) || !errors.Is(errs[2], errRefused) || errs[3] != nil {
		t.Fatalf("batch: errors %v, want nil, %v, %v, nil", errs, errRefused, errRefused)
	}
	if sawD != role("r5") {
		t.Errorf("after a write rolled back with its savepoint, the next update saw role %s, want %s", sawD, role("r5"))
	}
	got, err := s.GetAssociation(ctx, "", "c1", id)
	if err != nil || got.RoleARN != role("r9") {
		t.Fatalf("after the batch: %+v, %v; want role %s", got, err, role("r9"))
	}
	want("after the batch", "r10", "r9", 1)

	// Another: f sets r11; g sets r12 and fails, so f runs again alone;
	// h sees f's r11, from the cache.
	var sawF, sawG, sawH string
	hits := w.cache.hits
	errs = batch(update("r11", &sawF, nil), update("r12", &sawG, func() bool { return true }), update("r13", &sawH, nil))
	if errs[0] != nil || !errors.Is(errs[1], errRefused) || errs[2] != nil {
		t.Fatalf("batch: errors %v, want nil, %v, nil", errs, errRefused)
	}
	if sawF != role("r10") || sawH != role("r11") || w.cache.hits-hits != 4 { // every read: f, g, f again, h
		t.Errorf("after a write rolled back with its transaction, the updates run again saw role %s, the next %s (%d from the cache); want %s, %s (4)",
			sawF, sawH, w.cache.hits-hits, role("r10"), role("r11"))
	}

	// A write that fails after its update, alone in its transaction.
	var saw string
	if err := batch(update("r14", &saw, func() bool { return true }))[0]; !errors.Is(err, errRefused) {
		t.Fatalf("failing update: %v, want %v", err, errRefused)
	}
	want("after a transaction rolled back", "r15", "r13", 1)

	// Deletions, by the store's writer, which caches the association
	// once it updated it.
	up := func(region string) error {
		_, err := s.UpdateAssociation(ctx, region, "c1", id, func(*store.Association) error { return nil }, store.WriteOptions{})
		return err
	}
	for range 2 {
		if err := up(""); err != nil {
			t.Fatal(err)
		}
	}
	if s.w.cache.hits == 0 {
		t.Fatal("the store's writer did not cache the association it updated")
	}
	if _, err := s.AdoptRegion(ctx, "us-west-2"); err != nil {
		t.Fatal(err)
	}
	if err := up(""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after adopting a region: update in the old one = %v, want ErrNotFound", err)
	}
	if err := up("us-west-2"); err != nil {
		t.Errorf("after adopting a region: update in the new one = %v", err)
	}
	if _, err := s.DeleteAssociation(ctx, "us-west-2", "c1", id); err != nil {
		t.Fatal(err)
	}
	if err := up("us-west-2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after deleting the association: update = %v, want ErrNotFound", err)
	}
	if _, err := s.CreateAssociation(ctx, store.Association{
		Region: "us-west-2", ID: id, ClusterName: "c1", Namespace: "ns", ServiceAccount: "sa", RoleARN: role("r0"),
		CreatedAt: time.Now(), ModifiedAt: time.Now(),
	}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := up("us-west-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteCluster(ctx, "us-west-2", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := up("us-west-2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after deleting the cluster: update = %v, want ErrNotFound", err)
	}
}

// role is a role ARN named name.
func role(name string) string { return "arn:aws:iam::000000000000:role/" + name }
