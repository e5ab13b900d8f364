package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
)

// writeChildEnv, when set, makes the test binary a process that makes one
// write (writeChildOpEnv: "update" or "delete") to the association of
// cluster c1 in the database it names, then exits (TestMain).
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
	a, _, err := s.ListAssociations(ctx, "", "c1", store.AssociationFilter{}, store.Page{Limit: 1})
	if err != nil || len(a) != 1 {
		fmt.Println("listing:", a, err)
		return 1
	}
	switch op {
	case "update":
		_, err = s.UpdateAssociation(ctx, "", "c1", a[0].ID, func(a *store.Association) error {
			a.RoleARN = "arn:aws:iam::000000000000:role/child"
			return nil
		}, store.WriteOptions{})
		if err == nil {
			_, err = s.UpdateCluster(ctx, "", "c1", func(c *store.Cluster) error {
				c.Tags = map[string]string{"by": "child"}
				return nil
			})
		}
	case "delete":
		_, err = s.DeleteAssociation(ctx, "", "c1", a[0].ID)
	default:
		err = fmt.Errorf("unknown op %q", op)
	}
	if err != nil {
		fmt.Println(op+":", err)
		return 1
	}
	return 0
}
