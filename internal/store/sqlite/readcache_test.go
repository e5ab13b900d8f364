package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
)

// writeChildEnv, when set, makes the test binary a process that makes one
// write (writeChildOpEnv: "update", "update-token KEY" with that client
// request token, or "delete") to the association of
// cluster c1 in the database it names, or ("create-cluster c0" or
// "delete-cluster c0") creates or deletes a cluster, then exits (TestMain).
const (
	writeChildEnv   = "PODID_SQLITE_WRITE_CHILD"
	writeChildOpEnv = "PODID_SQLITE_WRITE_CHILD_OP"
)

// TestGetSeesOtherProcessesWrites: GetAssociation and GetClusterPublic
// answer repeated reads from memory, yet see at once what another process
// wrote to the same file (updates, then a delete), and what this store
// wrote; a caller changing what it got does not change the store's.
func TestGetSeesOtherProcessesWrites(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "podid.db")
	s := openTemp(t, path)
	if _, err := s.CreateCluster(ctx, store.Cluster{Name: "c1", CreatedAt: time.Now()}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	created, err := s.CreateAssociation(ctx, store.Association{
		ID: "a-0123456789abcdefg", ClusterName: "c1", Namespace: "ns", ServiceAccount: "sa",
		RoleARN: "arn:aws:iam::000000000000:role/r0", Tags: map[string]string{"team": "a"},
		CreatedAt: time.Now(), ModifiedAt: time.Now(),
	}, store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	get := func() (store.Association, error) { return s.GetAssociation(ctx, "", "c1", created.ID) }
	getCluster := func() store.Cluster {
		t.Helper()
		c, err := s.GetClusterPublic(ctx, "", "c1")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for range 3 {
		c := getCluster()
		if c.Tags["by"] != "" {
			t.Fatalf("GetClusterPublic = %+v, want no tag by", c)
		}
		c.Tags["by"] = "the caller" // not the store's
	}
	if _, err := s.UpdateCluster(ctx, "", "c1", func(c *store.Cluster) error {
		c.Tags = map[string]string{"by": "parent"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if c := getCluster(); c.Tags["by"] != "parent" {
		t.Fatalf("GetClusterPublic after this store's update = %+v, want tag by=parent", c)
	}
	for range 3 { // the first read fills the cache, the others hit it
		a, err := get()
		if err != nil || a.RoleARN != created.RoleARN || a.Tags["team"] != "a" || a.Revision != created.Revision {
			t.Fatalf("GetAssociation = %+v, %v; want %+v", a, err, created)
		}
		a.Tags["team"] = "changed by the caller" // not the store's
	}

	// This store's own write: the next read sees it.
	updated, err := s.UpdateAssociation(ctx, "", "c1", created.ID, func(a *store.Association) error {
		a.RoleARN = "arn:aws:iam::000000000000:role/r1"
		return nil
	}, store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := get(); err != nil || a.RoleARN != updated.RoleARN || a.Revision != updated.Revision || a.Tags["team"] != "a" {
		t.Fatalf("GetAssociation after this store's update = %+v, %v; want %+v", a, err, updated)
	}

	// Another process's writes, on the same file.
	runChild(t, path, "update")
	a, err := get()
	if err != nil || a.RoleARN != "arn:aws:iam::000000000000:role/child" || a.Revision <= updated.Revision {
		t.Fatalf("GetAssociation after another process's update = %+v, %v; want its role, a revision after %d", a, err, updated.Revision)
	}
	if c := getCluster(); c.Tags["by"] != "child" {
		t.Fatalf("GetClusterPublic after another process's update = %+v, want tag by=child", c)
	}
	runChild(t, path, "delete")
	if a, err := get(); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetAssociation after another process's delete = %+v, %v; want ErrNotFound", a, err)
	}
}

// TestUpdateSeesOtherProcessesWrites: the writer answers an Update of an
// association it wrote from memory, yet an Update after another process
// updated it on the same file edits that process's record, and one after
// it deleted it finds none.
func TestUpdateSeesOtherProcessesWrites(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "podid.db")
	s, a := openWithAssociation(t, path)
	update := func() (seen store.Association, err error) {
		_, err = s.UpdateAssociation(ctx, "", "c1", a.ID, func(a *store.Association) error {
			seen = *a
			a.ExternalID = "parent"
			return nil
		}, store.WriteOptions{Idempotency: &store.Idempotency{Key: fmt.Sprint("token-", time.Now().UnixNano()), Hash: "h"}})
		return seen, err
	}
	last := a
	for range 2 { // the second from the writer's memory
		seen, err := update()
		if err != nil || seen.Revision != last.Revision {
			t.Fatalf("update saw %+v, %v; want revision %d", seen, err, last.Revision)
		}
		last, _ = s.GetAssociation(ctx, "", "c1", a.ID)
	}
	runChild(t, path, "update")
	seen, err := update()
	if err != nil || seen.RoleARN != "arn:aws:iam::000000000000:role/child" || seen.Revision <= last.Revision {
		t.Fatalf("update after another process's update saw %+v, %v; want its role, a revision after %d", seen, err, last.Revision)
	}
	runChild(t, path, "delete")
	if _, err := update(); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update after another process's delete: %v, want ErrNotFound", err)
	}
}

// TestTokenReplaySeesOtherProcessesRecords: once the writer knows which
// client request tokens have no record (and skips their lookups), a token
// another process stored on the same file replays, with its hash, and is
// refused with another.
func TestTokenReplaySeesOtherProcessesRecords(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "podid.db")
	s, a := openWithAssociation(t, path)
	update := func(key, hash string) (store.Association, error) {
		return s.UpdateAssociation(ctx, "", "c1", a.ID, func(a *store.Association) error {
			a.RoleARN = "arn:aws:iam::000000000000:role/parent"
			return nil
		}, store.WriteOptions{Idempotency: &store.Idempotency{Key: key, Hash: hash}})
	}
	deadline := time.Now().Add(time.Minute)
	for i := 0; sqlite.TokenLookupsSkipped(s) == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("after %d updates with fresh tokens, none was known to have no record", i)
		}
		if _, err := update(fmt.Sprint("fresh-", i), "h"); err != nil {
			t.Fatal(err)
		}
	}
	runChild(t, path, "update-token child-token")
	got, err := update("child-token", "h")
	if err != nil || got.RoleARN != "arn:aws:iam::000000000000:role/child" {
		t.Fatalf("the other process's token again = %+v, %v; want the replay of its update", got, err)
	}
	if _, err := update("child-token", "another hash"); !errors.Is(err, store.ErrIdempotencyMismatch) {
		t.Fatalf("the other process's token with another request = %v, want ErrIdempotencyMismatch", err)
	}
}

// TestListClustersSeesOtherProcessesWrites: ListClusters answers a page
// asked for again from memory, yet every page (the first and one after a
// page token) shows at once the clusters another process created or
// deleted on the same file, and this store's own; a caller changing the
// names it got does not change the store's.
func TestListClustersSeesOtherProcessesWrites(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "podid.db")
	s := openTemp(t, path)
	for _, name := range []string{"c1", "c3"} {
		if _, err := s.CreateCluster(ctx, store.Cluster{Name: name, CreatedAt: time.Now()}, store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// list reads every page of one name, by page tokens.
	list := func() []string {
		t.Helper()
		var all []string
		p := store.Page{Limit: 1}
		for range 10 {
			names, next, err := s.ListClusters(ctx, "", p)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, names...)
			if len(names) > 0 {
				names[0] = "changed by the caller" // not the store's
			}
			if next == "" {
				return all
			}
			p.After = next
		}
		t.Fatalf("ListClusters: more than 10 pages of %v", all)
		return nil
	}
	want := func(step string, names ...string) {
		t.Helper()
		for range 2 { // the first read fills the cache, the second hits it
			if got := list(); !slices.Equal(got, names) {
				t.Fatalf("ListClusters after %s = %q, want %q", step, got, names)
			}
		}
	}
	want("creating c1 and c3", "c1", "c3")
	runChild(t, path, "create-cluster c0")
	want("another process created c0", "c0", "c1", "c3")
	runChild(t, path, "create-cluster c2")
	want("another process created c2", "c0", "c1", "c2", "c3")
	if _, err := s.DeleteCluster(ctx, "", "c3"); err != nil {
		t.Fatal(err)
	}
	want("this store deleted c3", "c0", "c1", "c2")
	runChild(t, path, "delete-cluster c1")
	want("another process deleted c1", "c0", "c2")
	if names, _, err := s.ListClusters(ctx, "other-region", store.Page{Limit: 100}); err != nil || len(names) != 0 {
		t.Fatalf("ListClusters in another region = %q, %v; want none", names, err)
	}
}

// openWithAssociation opens a store at path holding cluster c1 and one
// association in it (the one childWrite writes), with role r0.
func openWithAssociation(t *testing.T, path string) (*sqlite.Store, store.Association) {
	t.Helper()
	ctx := t.Context()
	s := openTemp(t, path)
	if _, err := s.CreateCluster(ctx, store.Cluster{Name: "c1", CreatedAt: time.Now()}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	a, err := s.CreateAssociation(ctx, store.Association{
		ID: "a-0123456789abcdefg", ClusterName: "c1", Namespace: "ns", ServiceAccount: "sa",
		RoleARN: "arn:aws:iam::000000000000:role/r0", CreatedAt: time.Now(), ModifiedAt: time.Now(),
	}, store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s, a
}

// runChild runs the test binary as a process that makes write op on the
// database at path (writeChild).
func runChild(t *testing.T, path, op string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), writeChildEnv+"="+path, writeChildOpEnv+"="+op)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child process (%s): %v\n%s", op, err, out)
	}
}

// writeChild is the child process's part: its exit code.
func writeChild(path, op string) int {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer s.Close()
	if err := childWrite(ctx, s, op); err != nil {
		fmt.Println(op+":", err)
		return 1
	}
	return 0
}

// childWrite makes writeChild's write op.
func childWrite(ctx context.Context, s *sqlite.Store, op string) error {
	verb, name, _ := strings.Cut(op, " ")
	switch verb {
	case "create-cluster":
		_, err := s.CreateCluster(ctx, store.Cluster{Name: name, CreatedAt: time.Now()}, store.WriteOptions{})
		return err
	case "delete-cluster":
		_, err := s.DeleteCluster(ctx, "", name)
		return err
	case "update", "delete", "update-token":
	default:
		return fmt.Errorf("unknown op %q", op)
	}
	a, _, err := s.ListAssociations(ctx, "", "c1", store.AssociationFilter{}, store.Page{Limit: 1})
	if err != nil || len(a) != 1 {
		return fmt.Errorf("listing: %v, %v", a, err)
	}
	if op == "delete" {
		_, err = s.DeleteAssociation(ctx, "", "c1", a[0].ID)
		return err
	}
	var opts store.WriteOptions
	if verb == "update-token" {
		opts.Idempotency = &store.Idempotency{Key: name, Hash: "h"}
	}
	_, err = s.UpdateAssociation(ctx, "", "c1", a[0].ID, func(a *store.Association) error {
		a.RoleARN = "arn:aws:iam::000000000000:role/child"
		return nil
	}, opts)
	if err != nil {
		return err
	}
	_, err = s.UpdateCluster(ctx, "", "c1", func(c *store.Cluster) error {
		c.Tags = map[string]string{"by": "child"}
		return nil
	})
	return err
}
