package sqlite

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
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
	s := openWithAssociation(t)
	// A second writer on the file, driven from here: another connection
	// to the store's writer.
	w := testWriter(t, s, false)
	errRefused := errors.New("refused")
	// update is a write on w that sees the role in saw, sets it to to,
	// and then fails if fail says so (after its write).
	update := func(to string, saw *string, fail func() bool) *writeReq {
		return &writeReq{ctx: ctx, done: make(chan writeResult, 1), fn: func(tx *wtx) error {
			_, err := s.updateAssociation(tx, "", "c1", assocID, func(a *store.Association) error {
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
	batch := func(reqs ...*writeReq) []error {
		t.Helper()
		return runBatch(t, w, reqs...)
	}
	// revision checks that the association's revision grew since the
	// last check.
	var last int64
	revision := func(step string) {
		t.Helper()
		a, err := s.GetAssociation(ctx, "", "c1", assocID)
		if err != nil {
			t.Fatal(err)
		}
		if a.Revision <= last {
			t.Errorf("%s: revision %d, want more than %d", step, a.Revision, last)
		}
		last = a.Revision
	}
	// want runs an update on w that sets the role to to and checks that
	// it saw want, how many updates the cache answered meanwhile, and
	// that it took a new revision.
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
		revision(step)
	}

	want("first update", "r1", "r0", 0)
	want("update of what it wrote", "r2", "r1", 1)
	if _, err := s.UpdateAssociation(ctx, "", "c1", assocID, func(a *store.Association) error {
		a.RoleARN = role("other")
		return nil
	}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	revision("another connection's update")
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
	got, err := s.GetAssociation(ctx, "", "c1", assocID)
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
		_, err := s.UpdateAssociation(ctx, region, "c1", assocID, func(*store.Association) error { return nil }, store.WriteOptions{})
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
	if _, err := s.DeleteAssociation(ctx, "us-west-2", "c1", assocID); err != nil {
		t.Fatal(err)
	}
	if err := up("us-west-2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after deleting the association: update = %v, want ErrNotFound", err)
	}
	if _, err := s.CreateAssociation(ctx, store.Association{
		Region: "us-west-2", ID: assocID, ClusterName: "c1", Namespace: "ns", ServiceAccount: "sa", RoleARN: role("r0"),
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

// assocID is the association of openWithAssociation.
const assocID = "a-0123456789abcdefg"

// openWithAssociation opens a store holding cluster c1 and association assocID
// in it, with role r0.
func openWithAssociation(t *testing.T) *Store {
	t.Helper()
	ctx := t.Context()
	s := openWithClock(t, time.Now)
	if _, err := s.CreateCluster(ctx, store.Cluster{Name: "c1", CreatedAt: time.Now()}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAssociation(ctx, store.Association{
		ID: assocID, ClusterName: "c1", Namespace: "ns", ServiceAccount: "sa", RoleARN: role("r0"),
		CreatedAt: time.Now(), ModifiedAt: time.Now(),
	}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	return s
}

// runBatch runs reqs in one transaction of w (a testWriter) and returns
// their errors.
func runBatch(t *testing.T, w *writer, reqs ...*writeReq) []error {
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

// role is a role ARN named name.
func role(name string) string { return "arn:aws:iam::000000000000:role/" + name }

// TestTokenFilter: once its filter is built, the writer answers that a
// fresh client request token has no record without a lookup, yet replays
// every token stored: before the build, by the transaction in progress
// when the build started (before it started, and after), and after it.
func TestTokenFilter(t *testing.T) {
	ctx := t.Context()
	s := openWithAssociation(t)
	w := testWriter(t, s, false)
	f := &w.cache.tokens
	scanned := make(chan struct{})
	f.scan = func(ctx context.Context) (*bloom, error) {
		defer close(scanned)
		return s.scanKeyHashes(ctx)
	}
	f.started, f.wait = time.Now(), time.Hour // no build yet
	// update is a write on w with token key, which sets the role to to.
	update := func(key, to string, out *store.Association) *writeReq {
		return &writeReq{ctx: ctx, done: make(chan writeResult, 1), fn: func(tx *wtx) (err error) {
			*out, err = s.updateAssociation(tx, "", "c1", assocID, func(a *store.Association) error {
				a.RoleARN = role(to)
				return nil
			}, store.WriteOptions{Idempotency: &store.Idempotency{Key: key, Hash: "h"}})
			return err
		}}
	}
	then := func(fn func()) *writeReq {
		return &writeReq{ctx: ctx, done: make(chan writeResult, 1), fn: func(*wtx) error { fn(); return nil }}
	}
	batch := func(reqs ...*writeReq) {
		t.Helper()
		for i, err := range runBatch(t, w, reqs...) {
			if err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		}
	}
	first := map[string]store.Association{}
	var a store.Association
	batch(update("before", "r1", &a))
	first["before"] = a
	// In one transaction: "early" is stored while no build may start;
	// then "fresh" starts one, "late" is stored while it runs, and the
	// transaction waits for its read of the levels, which cannot see
	// them (not committed).
	var early, fresh, late store.Association
	batch(update("early", "r2", &early), then(func() { f.wait = 0 }), update("fresh", "r3", &fresh),
		update("late", "r4", &late), then(func() { <-scanned }))
	first["early"], first["late"] = early, late
	batch(update("after", "r5", &a))
	first["after"] = a
	if f.bloom == nil {
		t.Fatal("no filter after its build")
	}
	skipped := f.skipped
	batch(update("new", "r6", &a))
	if f.skipped == skipped {
		t.Errorf("a fresh token was looked up with the filter built")
	}
	for key, want := range first {
		var got store.Association
		batch(update(key, "replayed", &got))
		if got.RoleARN != want.RoleARN || got.Revision != want.Revision {
			t.Errorf("token %q again: %s at revision %d, want the replay of %s at %d", key, got.RoleARN, got.Revision, want.RoleARN, want.Revision)
		}
	}
}

// TestBloom: a filter holds every hash added, up to its capacity, and
// few others (about 1%).
func TestBloom(t *testing.T) {
	b := newBloom(1 << 16)
	r := rand.New(rand.NewPCG(1, 2))
	added := make([]int64, b.max)
	for i := range added {
		added[i] = int64(r.Uint64())
		if !b.add(added[i]) {
			t.Fatalf("full after %d of %d hashes", i, b.max)
		}
	}
	if b.add(1) {
		t.Errorf("took a hash past its capacity %d", b.max)
	}
	for _, h := range added {
		if !b.has(h) {
			t.Fatalf("lost hash %d", h)
		}
	}
	const others = 100_000
	positives := 0
	for range others {
		if b.has(int64(r.Uint64())) {
			positives++
		}
	}
	if rate := float64(positives) / others; rate > 0.02 {
		t.Errorf("false positives: %.3f, want about 0.01", rate)
	}
}

// TestTokenFilterBuildEndsWithStore: Close cancels the filter's build in
// flight and returns once it has ended (it reads the read pool, which
// Close closes next).
func TestTokenFilterBuildEndsWithStore(t *testing.T) {
	s := openWithClock(t, time.Now)
	var ended atomic.Bool
	started := make(chan struct{})
	s.w.cache.tokens.scan = func(ctx context.Context) (*bloom, error) {
		close(started)
		<-ctx.Done()
		time.Sleep(10 * time.Millisecond) // a build that takes a while to notice
		ended.Store(true)
		return nil, ctx.Err()
	}
	if _, err := s.CreateCluster(t.Context(), store.Cluster{Name: "c1", CreatedAt: time.Now()},
		store.WriteOptions{Idempotency: &store.Idempotency{Key: "k", Hash: "h"}}); err != nil {
		t.Fatal(err)
	}
	<-started
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !ended.Load() {
		t.Error("Close returned before the filter's build ended")
	}
}
