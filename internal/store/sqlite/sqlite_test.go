package sqlite_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
	"github.com/podid/podid/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTemp(t, filepath.Join(t.TempDir(), "podid.db"))
	})
}

func openTemp(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestPersistsAcrossReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "nested", "dir", "podid.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	c, err := s.CreateCluster(ctx, store.Cluster{Name: "c1", CreatedAt: time.Now(), Tags: map[string]string{"k": "v"}}, store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.CreateAssociation(ctx, store.Association{
		ID: "a-0123456789abcdefg", ClusterName: "c1", Namespace: "ns", ServiceAccount: "sa",
		RoleARN: "arn:aws:iam::000000000000:role/r", CreatedAt: time.Now(), ModifiedAt: time.Now(),
	}, store.WriteOptions{Idempotency: &store.Idempotency{Key: "k", Hash: "h"}})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := s.Secret(ctx, "signing", func() ([]byte, error) { return []byte("s3cret"), nil })
	if err != nil {
		t.Fatal(err)
	}
	rev, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.GetCluster(ctx, "", "c1"); err == nil {
		t.Error("GetCluster on a closed store succeeded")
	}
	if _, err := s.GetAssociation(ctx, "", "c1", a.ID); err == nil {
		t.Error("GetAssociation on a closed store succeeded")
	}

	s = openTemp(t, path)
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Errorf("IntegrityCheck: %v", err)
	}
	gotC, err := s.GetCluster(ctx, "", "c1")
	if err != nil {
		t.Fatalf("GetCluster after reopen: %v", err)
	}
	if diff := cmp.Diff(gotC, c); diff != "" {
		t.Errorf("cluster after reopen (-got +want):\n%s", diff)
	}
	gotA, err := s.GetAssociation(ctx, "", "c1", a.ID)
	if err != nil {
		t.Fatalf("GetAssociation after reopen: %v", err)
	}
	if diff := cmp.Diff(gotA, a); diff != "" {
		t.Errorf("association after reopen (-got +want):\n%s", diff)
	}
	if got, err := s.Revision(ctx); err != nil || got != rev {
		t.Errorf("Revision after reopen = %d, %v; want %d", got, err, rev)
	}
	// The idempotency record and the secret survive too.
	replay, err := s.CreateAssociation(ctx, store.Association{ID: "a-other0000000000000", ClusterName: "c1", Namespace: "ns", ServiceAccount: "sa"},
		store.WriteOptions{Idempotency: &store.Idempotency{Key: "k", Hash: "h"}})
	if err != nil || replay.ID != a.ID {
		t.Errorf("replay after reopen = %s, %v; want %s", replay.ID, err, a.ID)
	}
	if got, err := s.Secret(ctx, "signing", func() ([]byte, error) { return []byte("new"), nil }); err != nil || string(got) != string(secret) {
		t.Errorf("Secret after reopen = %q, %v; want %q", got, err, secret)
	}
	// Writes keep working after reopen, with revisions continuing.
	c2, err := s.CreateCluster(ctx, store.Cluster{Name: "c2"}, store.WriteOptions{})
	if err != nil || c2.Revision <= rev {
		t.Errorf("CreateCluster after reopen: revision %d, %v; want > %d", c2.Revision, err, rev)
	}
}

// TestTwoHandlesOnOneFile: two Stores on one file (two processes, say)
// serialize their writes through SQLite's file lock: concurrent
// read-modify-write increments through both lose nothing.
func TestTwoHandlesOnOneFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "podid.db")
	a, b := openTemp(t, path), openTemp(t, path)
	if _, err := a.CreateCluster(ctx, store.Cluster{Name: "c1"}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	created, err := b.CreateAssociation(ctx, store.Association{ID: "a-00000000000000001", ClusterName: "c1", Namespace: "ns", ServiceAccount: "sa"}, store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const each = 30
	var wg sync.WaitGroup
	errs := make(chan error, 4*each)
	for _, s := range []*sqlite.Store{a, b, a, b} {
		wg.Go(func() {
			for range each {
				_, err := s.UpdateAssociation(ctx, "", "c1", created.ID, func(x *store.Association) error {
					n, _ := strconv.Atoi(x.Tags["n"])
					x.Tags["n"] = strconv.Itoa(n + 1)
					return nil
				}, store.WriteOptions{})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("UpdateAssociation: %v", err)
	}
	for name, s := range map[string]*sqlite.Store{"a": a, "b": b} {
		got, err := s.GetAssociation(ctx, "", "c1", created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Tags["n"] != strconv.Itoa(4*each) {
			t.Errorf("store %s: counter = %s after %d increments through two handles", name, got.Tags["n"], 4*each)
		}
	}
	revA, _ := a.Revision(ctx)
	revB, _ := b.Revision(ctx)
	if revA != revB || revA != created.Revision+4*each {
		t.Errorf("revisions %d and %d, want both %d (one counter in the file)", revA, revB, created.Revision+4*each)
	}
}

// TestRecentChangesAcrossHandles: a Store's memory of its own commits
// (RecentChanges, KnownRevisions) does not answer across another process's
// writes to the same file, which take revisions in between: a reader then
// reads the feed, which has them. From the first commit after them it
// answers again, and knows the IAM revision the other process left.
func TestRecentChangesAcrossHandles(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "podid.db")
	a, b := openTemp(t, path), openTemp(t, path)
	if _, err := a.CreateCluster(ctx, store.Cluster{Name: "c1"}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	create := func(s *sqlite.Store, n int) store.Association {
		t.Helper()
		as, err := s.CreateAssociation(ctx, store.Association{ID: fmt.Sprintf("a-%017d", n), ClusterName: "c1", Namespace: "ns", ServiceAccount: fmt.Sprint("sa", n)}, store.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return as
	}
	x1 := create(a, 1)
	if changes, through, ok := a.RecentChanges(x1.Revision - 1); !ok || through != x1.Revision || len(changes) != 1 || changes[0].AssociationID != x1.ID {
		t.Fatalf("RecentChanges(%d) = %v through %d, %v; want %s's creation", x1.Revision-1, changes, through, ok, x1.ID)
	}
	y := create(b, 2)
	role, err := b.CreateRole(ctx, store.Role{Name: "r", Path: "/", ID: "AROA00000000000000001", ARN: "arn:aws:iam::000000000000:role/r", MaxSessionDuration: 3600})
	if err != nil {
		t.Fatal(err)
	}
	iamRev, err := b.IAMRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := a.RecentChanges(x1.Revision); !ok {
		t.Error("RecentChanges before this handle learned of the other's writes: not answered")
	}
	x2 := create(a, 3)
	if changes, through, ok := a.RecentChanges(x1.Revision); ok {
		t.Errorf("RecentChanges(%d) across the other handle's writes (%s, role %s) = %v through %d; want no answer", x1.Revision, y.ID, role.Name, changes, through)
	}
	if changes, through, ok := a.RecentChanges(x2.Revision - 1); !ok || through != x2.Revision || len(changes) != 1 || changes[0].AssociationID != x2.ID {
		t.Errorf("RecentChanges(%d) = %v through %d, %v; want %s's creation", x2.Revision-1, changes, through, ok, x2.ID)
	}
	if rev, gotIAM, ok := a.KnownRevisions(); !ok || rev != x2.Revision || gotIAM != iamRev {
		t.Errorf("KnownRevisions = %d, %d, %v; want %d, %d (the other handle's IAM write), true", rev, gotIAM, ok, x2.Revision, iamRev)
	}
}
