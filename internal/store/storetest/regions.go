package storetest

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/podid/podid/internal/store"
)

// otherRegion is the second region of the region tests.
const otherRegion = "eu-west-1"

// inRegion is c moved to region r.
func inRegion[T store.Cluster | store.Association](v T, r string) T {
	switch x := any(&v).(type) {
	case *store.Cluster:
		x.Region = r
	case *store.Association:
		x.Region = r
	}
	return v
}

// testRegions: clusters are keyed by (region, name). One name in two
// regions is two clusters, each with its own associations (the same
// namespace and service account in both), listings, updates, deletion and
// change feed entries.
func testRegions(t *testing.T, s store.Store) {
	ctx := t.Context()
	east := mustCreateCluster(t, s, "dev")
	west, err := s.CreateCluster(ctx, inRegion(newCluster("dev"), otherRegion), store.WriteOptions{})
	if err != nil {
		t.Fatalf("CreateCluster(dev) in %s beside dev in %s: %v", otherRegion, region, err)
	}
	if west.Region != otherRegion {
		t.Errorf("created cluster's region = %q, want %q", west.Region, otherRegion)
	}
	if _, err := s.CreateCluster(ctx, inRegion(newCluster("dev"), otherRegion), store.WriteOptions{}); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("second CreateCluster(dev) in %s: %v, want ErrAlreadyExists", otherRegion, err)
	}
	mustCreateCluster(t, s, "east-only")
	for _, tc := range []struct {
		region string
		want   []string
	}{{region, []string{"dev", "east-only"}}, {otherRegion, []string{"dev"}}, {"ap-south-1", nil}} {
		names, next, err := s.ListClusters(ctx, tc.region, store.Page{Limit: 10})
		if err != nil || next != "" || !cmp.Equal(names, tc.want, cmpEmpty) {
			t.Errorf("ListClusters(%s) = %q, %q, %v; want %q", tc.region, names, next, err, tc.want)
		}
	}
	if _, err := s.GetCluster(ctx, otherRegion, "east-only"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetCluster(%s, east-only): %v, want ErrNotFound", otherRegion, err)
	}

	// The same (namespace, service account) in each region's dev.
	ea := mustCreate(t, s, newAssociation("dev", "ns", "app"))
	wa, err := s.CreateAssociation(ctx, inRegion(newAssociation("dev", "ns", "app"), otherRegion), store.WriteOptions{})
	if err != nil {
		t.Fatalf("CreateAssociation(dev/ns/app) in %s: %v", otherRegion, err)
	}
	if _, err := s.CreateAssociation(ctx, inRegion(newAssociation("east-only", "ns", "app"), otherRegion), store.WriteOptions{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreateAssociation in %s's missing east-only: %v, want ErrNotFound", otherRegion, err)
	}
	if _, err := s.GetAssociation(ctx, otherRegion, "dev", ea.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAssociation(%s, dev, %s's association): %v, want ErrNotFound", otherRegion, region, err)
	}
	for _, tc := range []struct {
		region string
		want   store.Association
	}{{region, ea}, {otherRegion, wa}} {
		items, _, err := s.ListAssociations(ctx, tc.region, "dev", store.AssociationFilter{}, store.Page{Limit: 10})
		if err != nil || len(items) != 1 || items[0].ID != tc.want.ID || items[0].Region != tc.region {
			t.Errorf("ListAssociations(%s, dev) = %+v, %v; want only %s", tc.region, items, err, tc.want.ID)
		}
	}
	if _, _, err := s.ListAssociations(ctx, otherRegion, "east-only", store.AssociationFilter{}, store.Page{Limit: 10}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ListAssociations(%s, east-only): %v, want ErrNotFound", otherRegion, err)
	}

	// Writes in one region leave the other's records alone.
	if _, err := s.UpdateCluster(ctx, otherRegion, "dev", func(c *store.Cluster) error {
		c.Region, c.Tags = region, map[string]string{"where": "west"} // the region cannot change
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if c, err := s.GetCluster(ctx, region, "dev"); err != nil || c.Tags["where"] != "" || c.Revision != east.Revision {
		t.Errorf("%s's dev after an update of %s's: %+v, %v; want unchanged", region, otherRegion, c, err)
	}
	if c, err := s.GetCluster(ctx, otherRegion, "dev"); err != nil || c.Tags["where"] != "west" || c.Region != otherRegion {
		t.Errorf("%s's dev after its update: %+v, %v", otherRegion, c, err)
	}
	if _, err := s.UpdateAssociation(ctx, otherRegion, "dev", ea.ID, func(*store.Association) error { return nil }, store.WriteOptions{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateAssociation of %s's association in %s: %v, want ErrNotFound", region, otherRegion, err)
	}
	if _, err := s.DeleteAssociation(ctx, otherRegion, "dev", ea.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteAssociation of %s's association in %s: %v, want ErrNotFound", region, otherRegion, err)
	}
	r0, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteCluster(ctx, otherRegion, "dev"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAssociation(ctx, region, "dev", ea.ID); err != nil {
		t.Errorf("%s's association after deleting %s's dev: %v", region, otherRegion, err)
	}
	changes, err := s.ChangesSince(ctx, r0, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Change{{Revision: r0 + 1, Region: otherRegion, ClusterName: "dev", AssociationID: wa.ID, Deleted: true}}
	if diff := cmp.Diff(changes, want); diff != "" {
		t.Errorf("change feed after deleting %s's dev (-got +want):\n%s", otherRegion, diff)
	}
}

// cmpEmpty treats nil and empty slices alike.
var cmpEmpty = cmp.Comparer(func(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || cmp.Equal(a, b))
})

// testAdoptRegion: records stored without a region (before podid kept
// regions) take the one AdoptRegion gives, once; records with a region
// keep it.
func testAdoptRegion(t *testing.T, s store.Store) {
	ctx := t.Context()
	old, err := s.CreateCluster(ctx, inRegion(newCluster("old"), ""), store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kept := mustCreate(t, s, inRegion(newAssociation("old", "ns", "kept"), ""))
	gone := mustCreate(t, s, inRegion(newAssociation("old", "ns", "gone"), ""))
	if _, err := s.DeleteAssociation(ctx, "", "old", gone.ID); err != nil {
		t.Fatal(err)
	}
	mustCreateCluster(t, s, "new")
	n, err := s.AdoptRegion(ctx, otherRegion)
	if err != nil || n != 1 {
		t.Fatalf("AdoptRegion(%s) = %d, %v; want 1 cluster", otherRegion, n, err)
	}
	if n, err := s.AdoptRegion(ctx, "ap-south-1"); err != nil || n != 0 {
		t.Errorf("second AdoptRegion = %d, %v; want 0", n, err)
	}
	c, err := s.GetCluster(ctx, otherRegion, "old")
	if err != nil || c.Region != otherRegion || c.Revision != old.Revision {
		t.Errorf("GetCluster(%s, old) = %+v, %v; want the cluster as stored, in %s", otherRegion, c, err, otherRegion)
	}
	if _, err := s.GetCluster(ctx, region, "new"); err != nil {
		t.Errorf("GetCluster(%s, new) after adopting: %v", region, err)
	}
	items, _, err := s.ListAssociations(ctx, otherRegion, "old", store.AssociationFilter{}, store.Page{Limit: 10})
	if err != nil || len(items) != 1 || items[0].ID != kept.ID || items[0].Region != otherRegion {
		t.Errorf("ListAssociations(%s, old) = %+v, %v; want %s", otherRegion, items, err, kept.ID)
	}
	changes, err := s.ChangesSince(ctx, kept.Revision-1, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range changes {
		if ch.ClusterName == "old" && ch.Region != otherRegion {
			t.Errorf("change %+v after adopting: region %q, want %q", ch, ch.Region, otherRegion)
		}
	}
	// The adopted cluster is whole: a new association counts toward it,
	// and deleting it takes its associations.
	mustCreate(t, s, inRegion(newAssociation("old", "ns", "more"), otherRegion))
	if _, err := s.DeleteCluster(ctx, otherRegion, "old"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAssociation(ctx, otherRegion, "old", kept.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("association of the deleted adopted cluster: %v, want ErrNotFound", err)
	}
}

// CheckMigratedRegions checks a store opened on a database written before
// clusters had regions, holding cluster name (as CheckMigratedCluster's
// row) with association id (namespace ns, service account sa): after
// AdoptRegion(region), they are that region's, and the name is free in
// another region.
func CheckMigratedRegions(t *testing.T, s store.Store, name, id string) {
	t.Helper()
	ctx := t.Context()
	if n, err := s.AdoptRegion(ctx, otherRegion); err != nil || n != 1 {
		t.Fatalf("AdoptRegion(%s) after the migration = %d, %v; want 1", otherRegion, n, err)
	}
	if _, err := s.GetCluster(ctx, otherRegion, name); err != nil {
		t.Errorf("GetCluster(%s, %s) after adopting: %v", otherRegion, name, err)
	}
	a, err := s.GetAssociation(ctx, otherRegion, name, id)
	if err != nil || a.Region != otherRegion {
		t.Errorf("GetAssociation(%s, %s, %s) after adopting: %+v, %v", otherRegion, name, id, a, err)
	}
	mustCreateCluster(t, s, name)
	if _, err := s.UpdateAssociation(ctx, otherRegion, name, id, func(a *store.Association) error { a.RoleARN += "2"; return nil }, store.WriteOptions{}); err != nil {
		t.Errorf("updating the migrated association: %v", err)
	}
	if _, err := s.DeleteCluster(ctx, otherRegion, name); err != nil {
		t.Errorf("deleting the migrated cluster: %v", err)
	}
}
