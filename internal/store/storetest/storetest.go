// Package storetest is the conformance suite every store.Store backend
// passes, shaped like dex's storage/conformance: a backend's test calls Run
// with a constructor, and Run checks every operation and error, paging,
// filters, tags, idempotency, limits, cascading deletes, the change feed,
// secrets, the Watcher (when implemented), the concurrency guarantees
// (one winner among concurrent creates, no lost update, keyset paging while
// rows are deleted) and IAM's records (iam.go).
//
// The suite uses only the store.Store contract, so SQLite and PostgreSQL run
// the same checks.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/podid/podid/internal/store"
)

// Run runs the conformance suite. newStore must return a new, empty store
// for each call and arrange its cleanup with t.Cleanup; Run calls it once per
// subtest.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Clusters", testClusters},
		{"ClusterIdempotency", testClusterIdempotency},
		{"ListClusters", testListClusters},
		{"PublicCluster", testPublicCluster},
		{"Associations", testAssociations},
		{"AssociationTimesAndTags", testTimesAndTags},
		{"ListAssociations", testListAssociations},
		{"ListAssociationsFilters", testListFilters},
		{"Limit", testLimit},
		{"CreateIdempotency", testCreateIdempotency},
		{"UpdateIdempotency", testUpdateIdempotency},
		{"CascadeDelete", testCascadeDelete},
		{"ChangeFeed", testChangeFeed},
		{"Secret", testSecret},
		{"Watch", testWatch},
		{"ConcurrentCreateSameKey", testConcurrentCreateSameKey},
		{"ConcurrentCreateLimit", testConcurrentCreateLimit},
		{"ConcurrentIdempotentCreate", testConcurrentIdempotentCreate},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ConcurrentMixedWrites", testConcurrentMixedWrites},
		{"DeleteWhileListing", testDeleteWhileListing},
		{"RecentChanges", testRecentChanges},
		{"Regions", testRegions},
		{"AdoptRegion", testAdoptRegion},
	}
	tests = append(tests, iamTests...)
	tests = append(tests, auditTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newStore(t))
		})
	}
}

// base is a timestamp with millisecond precision, the precision every
// backend must keep.
var base = time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC)

var (
	idSeq atomic.Int64
	// idPrefix keeps IDs from different test processes apart, for
	// backends whose tests share a database server.
	idPrefix = fmt.Sprintf("%05s", strconv.FormatInt(time.Now().UnixNano()%(36*36*36*36*36), 36))
)

// newID returns a fresh association ID: "a-" and 17 of [a-z0-9].
func newID() string {
	n := strconv.FormatInt(idSeq.Add(1), 36)
	return "a-" + strings.ReplaceAll(idPrefix, " ", "0") + strings.Repeat("0", 12-len(n)) + n
}

// region is the region the suite's records are in (testRegions adds
// another).
const region = "us-east-1"

func newCluster(name string) store.Cluster {
	return store.Cluster{
		Region:             region,
		Name:               name,
		CreatedAt:          base,
		Version:            "1.31",
		RoleARN:            "arn:aws:iam::000000000000:role/cluster",
		ClientRequestToken: "",
		Config:             []byte(`{"resourcesVpcConfig":{"subnetIds":["subnet-1"]}}`),
		Tags:               map[string]string{"team": "a"},
		Issuer: store.Issuer{
			URL:         "https://issuer.example/" + name,
			JWKSURL:     "https://issuer.example/" + name + "/keys",
			PodidURL:    "http://127.0.0.1:8080/clusters-oidc/" + name,
			JWKS:        []byte(`{"keys":[]}`),
			SigningKeys: []byte(`{"keys":[{"kty":"EC"}]}`),
		},
	}
}

// apiServer is a registered Kubernetes API server, as clusters get it.
var apiServer = store.APIServer{
	Endpoint: "https://k8s.example:6443",
	CAData:   []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
}

func newAssociation(cluster, namespace, sa string) store.Association {
	return store.Association{
		Region:         region,
		ID:             newID(),
		ClusterName:    cluster,
		Namespace:      namespace,
		ServiceAccount: sa,
		RoleARN:        "arn:aws:iam::000000000000:role/" + sa,
		OwnerARN:       "",
		Tags:           map[string]string{"k": "v"},
		CreatedAt:      base,
		ModifiedAt:     base,
	}
}

func mustCreateCluster(t *testing.T, s store.Store, name string) store.Cluster {
	t.Helper()
	c, err := s.CreateCluster(t.Context(), newCluster(name), store.WriteOptions{})
	if err != nil {
		t.Fatalf("CreateCluster(%q): %v", name, err)
	}
	return c
}

func mustCreate(t *testing.T, s store.Store, a store.Association) store.Association {
	t.Helper()
	got, err := s.CreateAssociation(t.Context(), a, store.WriteOptions{})
	if err != nil {
		t.Fatalf("CreateAssociation(%s/%s): %v", a.Namespace, a.ServiceAccount, err)
	}
	return got
}

// countAssociations counts a cluster's associations by listing them all
// (ErrNotFound for an unknown cluster).
func countAssociations(ctx context.Context, s store.Store, cluster string) (int, error) {
	n := 0
	p := store.Page{Limit: 100}
	for range 10_000 {
		items, next, err := s.ListAssociations(ctx, region, cluster, store.AssociationFilter{}, p)
		if err != nil {
			return 0, err
		}
		n += len(items)
		if next == "" {
			return n, nil
		}
		p.After = next
	}
	return 0, fmt.Errorf("listing cluster %q: no last page after 10,000 pages", cluster)
}

// findAssociation returns the association of (cluster, namespace, service
// account), through a filtered listing (ErrNotFound when there is none).
func findAssociation(ctx context.Context, s store.Store, cluster, namespace, serviceAccount string) (store.Association, error) {
	items, _, err := s.ListAssociations(ctx, region, cluster, store.AssociationFilter{Namespace: namespace, ServiceAccount: serviceAccount}, store.Page{Limit: 2})
	switch {
	case err != nil:
		return store.Association{}, err
	case len(items) != 1:
		return store.Association{}, fmt.Errorf("%d associations for %s/%s: %w", len(items), namespace, serviceAccount, store.ErrNotFound)
	}
	return items[0], nil
}

// wantErr reports (with t.Error) unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error = %v, want %v", what, err, want)
	}
}

func testClusters(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := newCluster("c1")
	got, err := s.CreateCluster(ctx, want, store.WriteOptions{})
	if err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	if got.Revision <= 0 {
		t.Errorf("CreateCluster: Revision = %d, want > 0", got.Revision)
	}
	want.Revision = got.Revision
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("CreateCluster (-got +want):\n%s", diff)
	}
	got, err = s.GetCluster(ctx, region, "c1")
	if err != nil {
		t.Fatalf("GetCluster: %v", err)
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("GetCluster (-got +want):\n%s", diff)
	}

	_, err = s.CreateCluster(ctx, newCluster("c1"), store.WriteOptions{})
	var exists *store.ExistsError
	if !errors.As(err, &exists) || !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("CreateCluster duplicate: error = %v, want an *ExistsError", err)
	}

	_, err = s.GetCluster(ctx, region, "nope")
	wantErr(t, "GetCluster missing", err, store.ErrNotFound)

	updated, err := s.UpdateCluster(ctx, region, "c1", func(c *store.Cluster) error {
		c.Name = "renamed"
		c.Version = "1.32"
		c.Tags["env"] = "prod"
		c.Issuer.SigningKeys = nil
		c.APIServer = apiServer
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateCluster: %v", err)
	}
	if updated.Revision <= want.Revision {
		t.Errorf("UpdateCluster: Revision = %d, want > %d", updated.Revision, want.Revision)
	}
	want.Version = "1.32"
	want.Tags = map[string]string{"team": "a", "env": "prod"}
	want.Issuer.SigningKeys = nil
	want.APIServer = apiServer
	want.Revision = updated.Revision
	if diff := cmp.Diff(updated, want); diff != "" {
		t.Errorf("UpdateCluster (-got +want):\n%s", diff)
	}
	got, err = s.GetCluster(ctx, region, "c1")
	if err != nil {
		t.Fatalf("GetCluster after update: %v", err)
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("GetCluster after update (-got +want):\n%s", diff)
	}
	if _, err := s.GetCluster(ctx, region, "renamed"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetCluster(renamed): error = %v, want ErrNotFound (the name cannot change)", err)
	}

	errFn := errors.New("fn says no")
	_, err = s.UpdateCluster(ctx, region, "c1", func(c *store.Cluster) error {
		c.Version = "9.99"
		return errFn
	})
	if err != errFn {
		t.Errorf("UpdateCluster with failing fn: error = %v, want fn's error as is", err)
	}
	if got, _ := s.GetCluster(ctx, region, "c1"); got.Version != "1.32" {
		t.Errorf("after failing UpdateCluster: Version = %q, want unchanged 1.32", got.Version)
	}
	_, err = s.UpdateCluster(ctx, region, "nope", func(*store.Cluster) error { return nil })
	wantErr(t, "UpdateCluster missing", err, store.ErrNotFound)

	deleted, err := s.DeleteCluster(ctx, region, "c1")
	if err != nil {
		t.Fatalf("DeleteCluster: %v", err)
	}
	// No associations: the delete is in effect as of the store's
	// revision then.
	if rev, err := s.Revision(ctx); err != nil || deleted.Revision != rev {
		t.Errorf("DeleteCluster: Revision = %d, want the store's revision %d (%v)", deleted.Revision, rev, err)
	}
	want.Revision = deleted.Revision
	if diff := cmp.Diff(deleted, want); diff != "" {
		t.Errorf("DeleteCluster returned (-got +want):\n%s", diff)
	}
	_, err = s.GetCluster(ctx, region, "c1")
	wantErr(t, "GetCluster after delete", err, store.ErrNotFound)
	_, err = s.DeleteCluster(ctx, region, "c1")
	wantErr(t, "DeleteCluster again", err, store.ErrNotFound)

	// Nil tags come back as an empty map, and the name is free again.
	c := newCluster("c1")
	c.Tags = nil
	c.Config = nil
	got, err = s.CreateCluster(ctx, c, store.WriteOptions{})
	if err != nil {
		t.Fatalf("CreateCluster after delete: %v", err)
	}
	if got.Tags == nil {
		t.Error("CreateCluster: Tags = nil, want an empty map")
	}
	if got, _ := s.GetCluster(ctx, region, "c1"); got.Tags == nil || len(got.Tags) != 0 {
		t.Errorf("GetCluster: Tags = %#v, want an empty map", got.Tags)
	}
}

func testClusterIdempotency(t *testing.T, s store.Store) {
	ctx := t.Context()
	idem := &store.Idempotency{Key: "CreateCluster/c1/tok", Hash: "h1"}
	first, err := s.CreateCluster(ctx, newCluster("c1"), store.WriteOptions{Idempotency: idem})
	if err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	if _, err := s.UpdateCluster(ctx, region, "c1", func(c *store.Cluster) error { c.Version = "1.40"; return nil }); err != nil {
		t.Fatalf("UpdateCluster: %v", err)
	}
	again, err := s.CreateCluster(ctx, newCluster("c1"), store.WriteOptions{Idempotency: idem})
	if err != nil {
		t.Fatalf("CreateCluster replay: %v", err)
	}
	if diff := cmp.Diff(again, first); diff != "" {
		t.Errorf("CreateCluster replay returned (-got +want) the stored result:\n%s", diff)
	}
	_, err = s.CreateCluster(ctx, newCluster("c1"), store.WriteOptions{Idempotency: &store.Idempotency{Key: idem.Key, Hash: "h2"}})
	wantErr(t, "CreateCluster with a reused token", err, store.ErrIdempotencyMismatch)
	_, err = s.CreateCluster(ctx, newCluster("c1"), store.WriteOptions{Idempotency: &store.Idempotency{Key: "CreateCluster/c1/other", Hash: "h1"}})
	wantErr(t, "CreateCluster with another token", err, store.ErrAlreadyExists)
}

// pageAll lists with the given page size until next is "", failing on a
// repeated item or more calls than the items need.
func pageAll[T any](t *testing.T, limit, total int, list func(p store.Page) ([]T, string, error), key func(T) string) []string {
	t.Helper()
	var keys []string
	p := store.Page{Limit: limit}
	maxCalls := total/limit + 2
	for calls := 1; ; calls++ {
		if calls > maxCalls {
			t.Fatalf("limit %d: still paging after %d calls for %d items", limit, calls-1, total)
		}
		items, next, err := list(p)
		if err != nil {
			t.Fatalf("limit %d, after %q: %v", limit, p.After, err)
		}
		if len(items) > limit {
			t.Fatalf("limit %d: page of %d items", limit, len(items))
		}
		for _, it := range items {
			keys = append(keys, key(it))
		}
		if next == "" {
			if want := max(1, (total+limit-1)/limit); calls != want && total > 0 {
				t.Errorf("limit %d: %d pages for %d items, want %d (no next token on the last page)", limit, calls, total, want)
			}
			return keys
		}
		if len(items) == 0 {
			t.Fatalf("limit %d: empty page with next token %q", limit, next)
		}
		if next != key(items[len(items)-1]) {
			t.Errorf("limit %d: next = %q, want the page's last key %q", limit, next, key(items[len(items)-1]))
		}
		p.After = next
	}
}

// testPublicCluster: GetClusterPublic reads what GetCluster
// reads, without the key sets, and follows updates and deletes.
func testPublicCluster(t *testing.T, s store.Store) {
	ctx := t.Context()
	check := func(what string) {
		t.Helper()
		full, err := s.GetCluster(ctx, region, "c1")
		if err != nil {
			t.Fatalf("%s: GetCluster: %v", what, err)
		}
		got, err := s.GetClusterPublic(ctx, region, "c1")
		if err != nil {
			t.Fatalf("%s: GetClusterPublic: %v", what, err)
		}
		want := full
		want.Issuer.JWKS, want.Issuer.SigningKeys = nil, nil
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("%s: GetClusterPublic (-got +want):\n%s", what, diff)
		}
	}
	mustCreateCluster(t, s, "c1")
	check("after create")
	if _, err := s.UpdateCluster(ctx, region, "c1", func(c *store.Cluster) error {
		c.Version = "1.32"
		c.Config = []byte(`{"logging":{}}`)
		c.APIServer = apiServer
		c.Tags = map[string]string{}
		c.Issuer = store.Issuer{SigningKeys: []byte(`{"keys":[{"kty":"RSA"}]}`)}
		return nil
	}); err != nil {
		t.Fatalf("UpdateCluster: %v", err)
	}
	check("after update")
	if _, err := s.DeleteCluster(ctx, region, "c1"); err != nil {
		t.Fatalf("DeleteCluster: %v", err)
	}
	_, err := s.GetClusterPublic(ctx, region, "c1")
	wantErr(t, "GetClusterPublic after delete", err, store.ErrNotFound)
}

func testListClusters(t *testing.T, s store.Store) {
	ctx := t.Context()
	names, next, err := s.ListClusters(ctx, region, store.Page{Limit: 10})
	if err != nil || len(names) != 0 || next != "" {
		t.Errorf("ListClusters on an empty store = %v, %q, %v; want none", names, next, err)
	}
	var want []string
	for i := range 23 {
		name := fmt.Sprintf("cluster-%02d", (i*7)%23) // created out of order
		mustCreateCluster(t, s, name)
		want = append(want, name)
	}
	slices.Sort(want)
	for _, limit := range []int{1, 5, 22, 23, 24, 100} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			got := pageAll(t, limit, len(want), func(p store.Page) ([]string, string, error) {
				return s.ListClusters(ctx, region, p)
			}, func(n string) string { return n })
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("names (-got +want):\n%s", diff)
			}
		})
	}
}

func testAssociations(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateCluster(t, s, "c1")
	mustCreateCluster(t, s, "c2")

	want := newAssociation("c1", "default", "app")
	want.TargetRoleARN = "arn:aws:iam::111111111111:role/target"
	want.ExternalID = "ext-1"
	want.Policy = `{"Version":"2012-10-17"}`
	want.DisableSessionTags = true
	want.OwnerARN = "arn:aws:eks:us-east-1:000000000000:addon/c1/x"
	got, err := s.CreateAssociation(ctx, want, store.WriteOptions{})
	if err != nil {
		t.Fatalf("CreateAssociation: %v", err)
	}
	if got.Revision <= 0 {
		t.Errorf("CreateAssociation: Revision = %d, want > 0", got.Revision)
	}
	want.Revision = got.Revision
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("CreateAssociation (-got +want):\n%s", diff)
	}
	for name, get := range map[string]func() (store.Association, error){
		"GetAssociation":  func() (store.Association, error) { return s.GetAssociation(ctx, region, "c1", want.ID) },
		"findAssociation": func() (store.Association, error) { return findAssociation(ctx, s, "c1", "default", "app") },
	} {
		got, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("%s (-got +want):\n%s", name, diff)
		}
	}

	notFound := []struct {
		name string
		err  func() error
	}{
		{"GetAssociation in another cluster", func() error { _, err := s.GetAssociation(ctx, region, "c2", want.ID); return err }},
		{"GetAssociation unknown id", func() error { _, err := s.GetAssociation(ctx, region, "c1", "a-00000000000000000"); return err }},
		{"CreateAssociation in unknown cluster", func() error {
			_, err := s.CreateAssociation(ctx, newAssociation("nope", "default", "app"), store.WriteOptions{})
			return err
		}},
		{"UpdateAssociation unknown id", func() error {
			_, err := s.UpdateAssociation(ctx, region, "c1", "a-00000000000000000", func(*store.Association) error { return nil }, store.WriteOptions{})
			return err
		}},
		{"UpdateAssociation in another cluster", func() error {
			_, err := s.UpdateAssociation(ctx, region, "c2", want.ID, func(*store.Association) error { return nil }, store.WriteOptions{})
			return err
		}},
		{"DeleteAssociation in another cluster", func() error { _, err := s.DeleteAssociation(ctx, region, "c2", want.ID); return err }},
	}
	for _, tt := range notFound {
		wantErr(t, tt.name, tt.err(), store.ErrNotFound)
	}

	// The same key again: an *ExistsError naming the existing ID.
	_, err = s.CreateAssociation(ctx, newAssociation("c1", "default", "app"), store.WriteOptions{})
	var exists *store.ExistsError
	if !errors.As(err, &exists) || !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("CreateAssociation duplicate: error = %v, want an *ExistsError", err)
	}
	if exists.ID != want.ID {
		t.Errorf("CreateAssociation duplicate: ExistsError.ID = %q, want %q", exists.ID, want.ID)
	}
	// The same namespace and service account in another cluster, and
	// another service account in the same namespace, are free.
	other := mustCreate(t, s, newAssociation("c2", "default", "app"))
	mustCreate(t, s, newAssociation("c1", "default", "app2"))
	if n, err := countAssociations(ctx, s, "c1"); err != nil || n != 2 {
		t.Errorf("countAssociations(c1) = %d, %v; want 2", n, err)
	}
	if n, err := countAssociations(ctx, s, "c2"); err != nil || n != 1 {
		t.Errorf("countAssociations(c2) = %d, %v; want 1", n, err)
	}

	// Update: fn edits in place; the key fields cannot move.
	modified := base.Add(time.Hour)
	updated, err := s.UpdateAssociation(ctx, region, "c1", want.ID, func(a *store.Association) error {
		if diff := cmp.Diff(*a, want); diff != "" {
			t.Errorf("UpdateAssociation fn got (-got +want):\n%s", diff)
		}
		a.RoleARN = "arn:aws:iam::000000000000:role/new"
		a.TargetRoleARN, a.ExternalID = "", ""
		a.DisableSessionTags = false
		a.Policy = ""
		a.Tags["k2"] = "v2"
		a.ModifiedAt = modified
		a.ID, a.ClusterName, a.Namespace, a.ServiceAccount = "a-zzzzzzzzzzzzzzzzz", "c2", "moved", "moved"
		return nil
	}, store.WriteOptions{})
	if err != nil {
		t.Fatalf("UpdateAssociation: %v", err)
	}
	if updated.Revision <= other.Revision {
		t.Errorf("UpdateAssociation: Revision = %d, want > %d (the last write's)", updated.Revision, other.Revision)
	}
	want.RoleARN = "arn:aws:iam::000000000000:role/new"
	want.TargetRoleARN, want.ExternalID, want.Policy, want.DisableSessionTags = "", "", "", false
	want.Tags = map[string]string{"k": "v", "k2": "v2"}
	want.ModifiedAt = modified
	want.Revision = updated.Revision
	if diff := cmp.Diff(updated, want); diff != "" {
		t.Errorf("UpdateAssociation (-got +want):\n%s", diff)
	}
	if got, err := s.GetAssociation(ctx, region, "c1", want.ID); err != nil {
		t.Errorf("GetAssociation after update: %v", err)
	} else if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("GetAssociation after update (-got +want):\n%s", diff)
	}

	errFn := errors.New("fn says no")
	_, err = s.UpdateAssociation(ctx, region, "c1", want.ID, func(a *store.Association) error {
		a.RoleARN = "arn:aws:iam::000000000000:role/never"
		return errFn
	}, store.WriteOptions{})
	if err != errFn {
		t.Errorf("UpdateAssociation with failing fn: error = %v, want fn's error as is", err)
	}
	if got, _ := s.GetAssociation(ctx, region, "c1", want.ID); got.RoleARN != want.RoleARN || got.Revision != want.Revision {
		t.Errorf("after failing UpdateAssociation: RoleARN %q revision %d, want unchanged %q %d", got.RoleARN, got.Revision, want.RoleARN, want.Revision)
	}

	deleted, err := s.DeleteAssociation(ctx, region, "c1", want.ID)
	if err != nil {
		t.Fatalf("DeleteAssociation: %v", err)
	}
	// The delete's own revision, the store's newest.
	if rev, err := s.Revision(ctx); err != nil || deleted.Revision != rev || deleted.Revision <= want.Revision {
		t.Errorf("DeleteAssociation: Revision = %d, want the store's revision %d (%v), after %d", deleted.Revision, rev, err, want.Revision)
	}
	want.Revision = deleted.Revision
	if diff := cmp.Diff(deleted, want); diff != "" {
		t.Errorf("DeleteAssociation returned (-got +want):\n%s", diff)
	}
	_, err = s.GetAssociation(ctx, region, "c1", want.ID)
	wantErr(t, "GetAssociation after delete", err, store.ErrNotFound)
	_, err = findAssociation(ctx, s, "c1", "default", "app")
	wantErr(t, "findAssociation after delete", err, store.ErrNotFound)
	_, err = s.DeleteAssociation(ctx, region, "c1", want.ID)
	wantErr(t, "DeleteAssociation again", err, store.ErrNotFound)
	if n, err := countAssociations(ctx, s, "c1"); err != nil || n != 1 {
		t.Errorf("countAssociations(c1) after delete = %d, %v; want 1", n, err)
	}
	// The key is free again.
	mustCreate(t, s, newAssociation("c1", "default", "app"))
}

func testTimesAndTags(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateCluster(t, s, "c1")
	zone := time.FixedZone("UTC+5", 5*3600)
	a := newAssociation("c1", "ns", "sa")
	a.Tags = nil
	a.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 123_000_000, zone)
	a.ModifiedAt = a.CreatedAt.Add(1500 * time.Millisecond)
	created := mustCreate(t, s, a)

	b := newAssociation("c1", "ns", "sb")
	b.Tags = map[string]string{"": "", "aws-like:key": "värde with spaces", "k=v&x": `"quoted"`}
	mustCreate(t, s, b)

	got, err := s.GetAssociation(ctx, region, "c1", a.ID)
	if err != nil {
		t.Fatalf("GetAssociation: %v", err)
	}
	listed, _, err := s.ListAssociations(ctx, region, "c1", store.AssociationFilter{ServiceAccount: "sa"}, store.Page{Limit: 10})
	if err != nil || len(listed) != 1 {
		t.Fatalf("ListAssociations = %d items, %v; want 1", len(listed), err)
	}
	for name, got := range map[string]store.Association{"CreateAssociation": created, "GetAssociation": got, "ListAssociations": listed[0]} {
		if got.Tags == nil || len(got.Tags) != 0 {
			t.Errorf("%s: Tags = %#v, want an empty map", name, got.Tags)
		}
		for field, tm := range map[string]time.Time{"CreatedAt": got.CreatedAt, "ModifiedAt": got.ModifiedAt} {
			if tm.Location() != time.UTC {
				t.Errorf("%s: %s in %v, want UTC", name, field, tm.Location())
			}
		}
		if !got.CreatedAt.Equal(a.CreatedAt) || !got.ModifiedAt.Equal(a.ModifiedAt) {
			t.Errorf("%s: times %v, %v; want %v, %v (millisecond precision kept)", name, got.CreatedAt, got.ModifiedAt, a.CreatedAt, a.ModifiedAt)
		}
	}
	gotB, err := s.GetAssociation(ctx, region, "c1", b.ID)
	if err != nil {
		t.Fatalf("GetAssociation: %v", err)
	}
	if diff := cmp.Diff(gotB.Tags, b.Tags); diff != "" {
		t.Errorf("tags round trip (-got +want):\n%s", diff)
	}
	// A write returns what a read returns, also for times finer than the
	// backend keeps (which must be at least milliseconds).
	fine := newAssociation("c1", "ns", "fine")
	fine.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 123_456_789, zone)
	fine.ModifiedAt = fine.CreatedAt.Add(time.Nanosecond)
	fineCreated := mustCreate(t, s, fine)
	fineGot, err := s.GetAssociation(ctx, region, "c1", fine.ID)
	if err != nil {
		t.Fatalf("GetAssociation: %v", err)
	}
	if diff := cmp.Diff(fineCreated, fineGot); diff != "" {
		t.Errorf("CreateAssociation result vs GetAssociation (-create +get):\n%s", diff)
	}
	if d := fine.CreatedAt.Sub(fineGot.CreatedAt); d < 0 || d >= time.Millisecond {
		t.Errorf("CreatedAt stored as %v for %v: off by %v, want less than a millisecond", fineGot.CreatedAt, fine.CreatedAt, d)
	}
	fineUpdated, err := s.UpdateAssociation(ctx, region, "c1", fine.ID, func(a *store.Association) error {
		a.ModifiedAt = a.ModifiedAt.Add(time.Second + time.Nanosecond)
		return nil
	}, store.WriteOptions{})
	if err != nil {
		t.Fatalf("UpdateAssociation: %v", err)
	}
	if fineGot, err = s.GetAssociation(ctx, region, "c1", fine.ID); err != nil {
		t.Fatalf("GetAssociation: %v", err)
	}
	if diff := cmp.Diff(fineUpdated, fineGot); diff != "" {
		t.Errorf("UpdateAssociation result vs GetAssociation (-update +get):\n%s", diff)
	}
	fineCluster := newCluster("fine")
	fineCluster.CreatedAt = fine.CreatedAt
	createdCluster, err := s.CreateCluster(ctx, fineCluster, store.WriteOptions{})
	if err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	if gotCluster, err := s.GetCluster(ctx, region, "fine"); err != nil {
		t.Errorf("GetCluster: %v", err)
	} else if diff := cmp.Diff(createdCluster, gotCluster); diff != "" {
		t.Errorf("CreateCluster result vs GetCluster (-create +get):\n%s", diff)
	}

	// Removing every tag leaves an empty map, not nil.
	cleared, err := s.UpdateAssociation(ctx, region, "c1", b.ID, func(a *store.Association) error { a.Tags = nil; return nil }, store.WriteOptions{})
	if err != nil {
		t.Fatalf("UpdateAssociation: %v", err)
	}
	if cleared.Tags == nil || len(cleared.Tags) != 0 {
		t.Errorf("UpdateAssociation clearing tags: Tags = %#v, want an empty map", cleared.Tags)
	}
	if gotB, _ := s.GetAssociation(ctx, region, "c1", b.ID); gotB.Tags == nil || len(gotB.Tags) != 0 {
		t.Errorf("GetAssociation after clearing tags: Tags = %#v, want an empty map", gotB.Tags)
	}
}

// populate creates n associations in cluster over three namespaces, with
// service accounts sa-0, sa-1, ..., and returns their IDs in order.
func populate(t *testing.T, s store.Store, cluster string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		a := mustCreate(t, s, newAssociation(cluster, fmt.Sprintf("ns-%d", i%3), fmt.Sprintf("sa-%d", i)))
		ids = append(ids, a.ID)
	}
	slices.Sort(ids)
	return ids
}

func testListAssociations(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateCluster(t, s, "c1")
	mustCreateCluster(t, s, "c2")
	mustCreateCluster(t, s, "empty")
	want := populate(t, s, "c1", 25)
	populate(t, s, "c2", 5)

	for _, limit := range []int{1, 7, 24, 25, 26, 100} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			got := pageAll(t, limit, len(want), func(p store.Page) ([]store.Association, string, error) {
				return s.ListAssociations(ctx, region, "c1", store.AssociationFilter{}, p)
			}, func(a store.Association) string { return a.ID })
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("IDs (-got +want):\n%s", diff)
			}
		})
	}
	items, next, err := s.ListAssociations(ctx, region, "empty", store.AssociationFilter{}, store.Page{Limit: 10})
	if err != nil || len(items) != 0 || next != "" {
		t.Errorf("ListAssociations(empty) = %d items, %q, %v; want none", len(items), next, err)
	}
	// Past the last item: no items, no error.
	items, next, err = s.ListAssociations(ctx, region, "c1", store.AssociationFilter{}, store.Page{After: want[len(want)-1], Limit: 10})
	if err != nil || len(items) != 0 || next != "" {
		t.Errorf("ListAssociations after the last ID = %d items, %q, %v; want none", len(items), next, err)
	}
	_, _, err = s.ListAssociations(ctx, region, "nope", store.AssociationFilter{}, store.Page{Limit: 10})
	wantErr(t, "ListAssociations unknown cluster", err, store.ErrNotFound)

	// Items are full records, equal to what Get returns.
	items, _, err = s.ListAssociations(ctx, region, "c1", store.AssociationFilter{}, store.Page{Limit: 3})
	if err != nil {
		t.Fatalf("ListAssociations: %v", err)
	}
	for _, it := range items {
		got, err := s.GetAssociation(ctx, region, "c1", it.ID)
		if err != nil {
			t.Fatalf("GetAssociation: %v", err)
		}
		if diff := cmp.Diff(it, got); diff != "" {
			t.Errorf("listed item vs GetAssociation (-listed +get):\n%s", diff)
		}
	}
}

func testListFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateCluster(t, s, "c1")
	mustCreateCluster(t, s, "c2")
	populate(t, s, "c1", 12)
	populate(t, s, "c2", 12)
	all, _, err := s.ListAssociations(ctx, region, "c1", store.AssociationFilter{}, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	match := func(f store.AssociationFilter) []string {
		var ids []string
		for _, a := range all {
			if (f.Namespace == "" || a.Namespace == f.Namespace) && (f.ServiceAccount == "" || a.ServiceAccount == f.ServiceAccount) {
				ids = append(ids, a.ID)
			}
		}
		return ids
	}
	tests := []struct {
		name    string
		f       store.AssociationFilter
		wantLen int
	}{
		{"namespace", store.AssociationFilter{Namespace: "ns-1"}, 4},
		{"service account", store.AssociationFilter{ServiceAccount: "sa-4"}, 1},
		{"both", store.AssociationFilter{Namespace: "ns-1", ServiceAccount: "sa-4"}, 1},
		{"both, no match", store.AssociationFilter{Namespace: "ns-0", ServiceAccount: "sa-4"}, 0},
		{"unknown namespace", store.AssociationFilter{Namespace: "ns-9"}, 0},
		{"prefix is not a match", store.AssociationFilter{Namespace: "ns"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, limit := range []int{1, 3, 100} {
				got := pageAll(t, limit, tt.wantLen, func(p store.Page) ([]store.Association, string, error) {
					return s.ListAssociations(ctx, region, "c1", tt.f, p)
				}, func(a store.Association) string { return a.ID })
				if len(got) != tt.wantLen {
					t.Errorf("limit %d: %d items, want %d", limit, len(got), tt.wantLen)
				}
				if diff := cmp.Diff(got, match(tt.f)); diff != "" {
					t.Errorf("limit %d: IDs (-got +want):\n%s", limit, diff)
				}
			}
		})
	}
}

func testLimit(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateCluster(t, s, "c1")
	mustCreateCluster(t, s, "c2")
	opts := store.WriteOptions{MaxPerCluster: 3}
	var ids []string
	for i := range 3 {
		a, err := s.CreateAssociation(ctx, newAssociation("c1", "ns", fmt.Sprint("sa-", i)), opts)
		if err != nil {
			t.Fatalf("CreateAssociation %d under the limit: %v", i, err)
		}
		ids = append(ids, a.ID)
	}
	_, err := s.CreateAssociation(ctx, newAssociation("c1", "ns", "sa-3"), opts)
	wantErr(t, "CreateAssociation over the limit", err, store.ErrLimitExceeded)
	// The limit is per cluster, and 0 means none.
	if _, err := s.CreateAssociation(ctx, newAssociation("c2", "ns", "sa-0"), opts); err != nil {
		t.Errorf("CreateAssociation in another cluster: %v", err)
	}
	if _, err := s.CreateAssociation(ctx, newAssociation("c1", "ns", "unlimited"), store.WriteOptions{}); err != nil {
		t.Errorf("CreateAssociation without a limit: %v", err)
	}
	if _, err := s.DeleteAssociation(ctx, region, "c1", ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteAssociation(ctx, region, "c1", ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAssociation(ctx, newAssociation("c1", "ns", "sa-3"), opts); err != nil {
		t.Errorf("CreateAssociation after deletes freed room: %v", err)
	}
}

func testCreateIdempotency(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateCluster(t, s, "c1")
	idem := &store.Idempotency{Key: "CreatePodIdentityAssociation/c1/tok-1", Hash: "h1"}
	opts := store.WriteOptions{Idempotency: idem, MaxPerCluster: 5}
	first, err := s.CreateAssociation(ctx, newAssociation("c1", "ns", "sa"), opts)
	if err != nil {
		t.Fatalf("CreateAssociation: %v", err)
	}
	// A retry carries a newly generated ID; the replay returns the stored
	// record, even after the association changed.
	if _, err := s.UpdateAssociation(ctx, region, "c1", first.ID, func(a *store.Association) error {
		a.RoleARN = "arn:aws:iam::000000000000:role/changed"
		return nil
	}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	again, err := s.CreateAssociation(ctx, newAssociation("c1", "ns", "sa"), opts)
	if err != nil {
		t.Fatalf("CreateAssociation replay: %v", err)
	}
	if diff := cmp.Diff(again, first); diff != "" {
		t.Errorf("CreateAssociation replay (-got +want the stored result):\n%s", diff)
	}
	if n, _ := countAssociations(ctx, s, "c1"); n != 1 {
		t.Errorf("countAssociations after replay = %d, want 1", n)
	}
	_, err = s.CreateAssociation(ctx, newAssociation("c1", "ns", "sa2"),
		store.WriteOptions{Idempotency: &store.Idempotency{Key: idem.Key, Hash: "h2"}})
	wantErr(t, "CreateAssociation with reused token", err, store.ErrIdempotencyMismatch)
	// A failed create stores no record: the token stays usable.
	idem2 := &store.Idempotency{Key: "CreatePodIdentityAssociation/c1/tok-2", Hash: "h3"}
	_, err = s.CreateAssociation(ctx, newAssociation("c1", "ns", "sa"), store.WriteOptions{Idempotency: idem2})
	wantErr(t, "CreateAssociation duplicate with token", err, store.ErrAlreadyExists)
	idem2.Hash = "h4"
	if _, err := s.CreateAssociation(ctx, newAssociation("c1", "ns", "sa3"), store.WriteOptions{Idempotency: idem2}); err != nil {
		t.Errorf("CreateAssociation reusing the token of a failed create: %v", err)
	}
}

func testUpdateIdempotency(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateCluster(t, s, "c1")
	a := mustCreate(t, s, newAssociation("c1", "ns", "sa"))
	idem := &store.Idempotency{Key: "UpdatePodIdentityAssociation/c1/tok", Hash: "h1"}
	calls := 0
	set := func(role string) func(*store.Association) error {
		return func(a *store.Association) error {
			calls++
			a.RoleARN = role
			return nil
		}
	}
	first, err := s.UpdateAssociation(ctx, region, "c1", a.ID, set("arn:aws:iam::000000000000:role/one"), store.WriteOptions{Idempotency: idem})
	if err != nil {
		t.Fatalf("UpdateAssociation: %v", err)
	}
	if _, err := s.UpdateAssociation(ctx, region, "c1", a.ID, set("arn:aws:iam::000000000000:role/two"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	calls = 0
	again, err := s.UpdateAssociation(ctx, region, "c1", a.ID, set("arn:aws:iam::000000000000:role/one"), store.WriteOptions{Idempotency: idem})
	if err != nil {
		t.Fatalf("UpdateAssociation replay: %v", err)
	}
	if calls != 0 {
		t.Errorf("UpdateAssociation replay called fn %d times, want 0", calls)
	}
	if diff := cmp.Diff(again, first); diff != "" {
		t.Errorf("UpdateAssociation replay (-got +want the stored result):\n%s", diff)
	}
	if got, _ := s.GetAssociation(ctx, region, "c1", a.ID); got.RoleARN != "arn:aws:iam::000000000000:role/two" {
		t.Errorf("after replay: RoleARN = %q, want role/two (a replay writes nothing)", got.RoleARN)
	}
	_, err = s.UpdateAssociation(ctx, region, "c1", a.ID, set("arn:aws:iam::000000000000:role/three"),
		store.WriteOptions{Idempotency: &store.Idempotency{Key: idem.Key, Hash: "h2"}})
	wantErr(t, "UpdateAssociation with reused token", err, store.ErrIdempotencyMismatch)

	// A token stays remembered when later updates of the same association
	// come with tokens of their own: a late retry of the older one
	// replays its result, not writes it again over the newer update.
	idem2 := &store.Idempotency{Key: "UpdatePodIdentityAssociation/c1/tok-2", Hash: "h3"}
	second, err := s.UpdateAssociation(ctx, region, "c1", a.ID, set("arn:aws:iam::000000000000:role/four"), store.WriteOptions{Idempotency: idem2})
	if err != nil {
		t.Fatalf("UpdateAssociation with a second token: %v", err)
	}
	calls = 0
	again, err = s.UpdateAssociation(ctx, region, "c1", a.ID, set("arn:aws:iam::000000000000:role/one"), store.WriteOptions{Idempotency: idem})
	if err != nil || calls != 0 {
		t.Fatalf("UpdateAssociation replay of the older token: %v, fn called %d times; want a replay", err, calls)
	}
	if diff := cmp.Diff(again, first); diff != "" {
		t.Errorf("replay of the older token (-got +want its stored result):\n%s", diff)
	}
	if got, _ := s.GetAssociation(ctx, region, "c1", a.ID); got.RoleARN != second.RoleARN || got.Revision != second.Revision {
		t.Errorf("after replaying the older token: role %q revision %d, want the newer update's %q %d", got.RoleARN, got.Revision, second.RoleARN, second.Revision)
	}
	// The same token on another association is another request.
	b := mustCreate(t, s, newAssociation("c1", "ns", "sa-b"))
	_, err = s.UpdateAssociation(ctx, region, "c1", b.ID, set("arn:aws:iam::000000000000:role/one"),
		store.WriteOptions{Idempotency: &store.Idempotency{Key: idem2.Key, Hash: "h4"}})
	wantErr(t, "UpdateAssociation of another association with a used token", err, store.ErrIdempotencyMismatch)

	// After a delete, a retry of an update made before it still gets
	// that update's result.
	if _, err := s.DeleteAssociation(ctx, region, "c1", a.ID); err != nil {
		t.Fatal(err)
	}
	calls = 0
	again, err = s.UpdateAssociation(ctx, region, "c1", a.ID, set("arn:aws:iam::000000000000:role/four"), store.WriteOptions{Idempotency: idem2})
	if err != nil || calls != 0 {
		t.Fatalf("UpdateAssociation replay after delete: %v, fn called %d times; want a replay", err, calls)
	}
	if diff := cmp.Diff(again, second); diff != "" {
		t.Errorf("replay after delete (-got +want the stored result):\n%s", diff)
	}
	_, err = s.UpdateAssociation(ctx, region, "c1", a.ID, set("arn:aws:iam::000000000000:role/five"),
		store.WriteOptions{Idempotency: &store.Idempotency{Key: "UpdatePodIdentityAssociation/c1/tok-3", Hash: "h5"}})
	wantErr(t, "UpdateAssociation of a deleted association with a new token", err, store.ErrNotFound)
}

func testCascadeDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateCluster(t, s, "c1")
	mustCreateCluster(t, s, "keep")
	ids := populate(t, s, "c1", 4)
	kept := populate(t, s, "keep", 2)
	before, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteCluster(ctx, region, "c1"); err != nil {
		t.Fatalf("DeleteCluster: %v", err)
	}
	for _, id := range ids {
		_, err := s.GetAssociation(ctx, region, "c1", id)
		wantErr(t, "GetAssociation after DeleteCluster", err, store.ErrNotFound)
	}
	_, _, err = s.ListAssociations(ctx, region, "c1", store.AssociationFilter{}, store.Page{Limit: 10})
	wantErr(t, "ListAssociations after DeleteCluster", err, store.ErrNotFound)
	_, err = countAssociations(ctx, s, "c1")
	wantErr(t, "countAssociations after DeleteCluster", err, store.ErrNotFound)

	changes, err := s.ChangesSince(ctx, before, 100)
	if err != nil {
		t.Fatalf("ChangesSince: %v", err)
	}
	var deleted []string
	for _, c := range changes {
		if !c.Deleted || c.ClusterName != "c1" || c.Association != nil {
			t.Errorf("change %+v, want a deletion in c1", c)
		}
		deleted = append(deleted, c.AssociationID)
	}
	slices.Sort(deleted)
	if diff := cmp.Diff(deleted, ids); diff != "" {
		t.Errorf("deleted IDs in the change feed (-got +want):\n%s", diff)
	}

	// A new cluster of the same name starts empty; the other is intact.
	mustCreateCluster(t, s, "c1")
	if n, err := countAssociations(ctx, s, "c1"); err != nil || n != 0 {
		t.Errorf("countAssociations(recreated c1) = %d, %v; want 0", n, err)
	}
	_, err = findAssociation(ctx, s, "c1", "ns-0", "sa-0")
	wantErr(t, "findAssociation in recreated cluster", err, store.ErrNotFound)
	mustCreate(t, s, newAssociation("c1", "ns-0", "sa-0"))
	if n, err := countAssociations(ctx, s, "keep"); err != nil || n != len(kept) {
		t.Errorf("countAssociations(keep) = %d, %v; want %d", n, err, len(kept))
	}
}

func testChangeFeed(t *testing.T, s store.Store) {
	ctx := t.Context()
	r0, err := s.Revision(ctx)
	if err != nil {
		t.Fatalf("Revision: %v", err)
	}
	if changes, err := s.ChangesSince(ctx, r0, 10); err != nil || len(changes) != 0 {
		t.Errorf("ChangesSince(now) = %v, %v; want none", changes, err)
	}
	mustCreateCluster(t, s, "c1")
	a := mustCreate(t, s, newAssociation("c1", "ns", "a"))
	b := mustCreate(t, s, newAssociation("c1", "ns", "b"))
	c := mustCreate(t, s, newAssociation("c1", "ns", "c"))
	if !(r0 < a.Revision && a.Revision < b.Revision && b.Revision < c.Revision) {
		t.Errorf("revisions %d, %d, %d after %d; want increasing", a.Revision, b.Revision, c.Revision, r0)
	}
	a2, err := s.UpdateAssociation(ctx, region, "c1", a.ID, func(x *store.Association) error { x.Tags["x"] = "y"; return nil }, store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteAssociation(ctx, region, "c1", b.ID); err != nil {
		t.Fatal(err)
	}
	last, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}

	changes, err := s.ChangesSince(ctx, r0, 100)
	if err != nil {
		t.Fatalf("ChangesSince: %v", err)
	}
	// Each association appears once, as of its latest write.
	want := []store.Change{
		{Revision: c.Revision, Region: region, ClusterName: "c1", AssociationID: c.ID, Association: &c},
		{Revision: a2.Revision, Region: region, ClusterName: "c1", AssociationID: a.ID, Association: &a2},
		{Region: region, ClusterName: "c1", AssociationID: b.ID, Deleted: true},
	}
	if len(changes) == 3 {
		want[2].Revision = changes[2].Revision
		if !(a2.Revision < changes[2].Revision && changes[2].Revision == last) {
			t.Errorf("deletion at revision %d; want after %d and equal to Revision() %d", changes[2].Revision, a2.Revision, last)
		}
	}
	if diff := cmp.Diff(changes, want); diff != "" {
		t.Errorf("ChangesSince(%d) (-got +want):\n%s", r0, diff)
	}

	// A limit gives a prefix; continuing from its last revision gives the rest.
	page, err := s.ChangesSince(ctx, r0, 2)
	if err != nil || len(page) != 2 {
		t.Fatalf("ChangesSince(limit 2) = %d changes, %v; want 2", len(page), err)
	}
	rest, err := s.ChangesSince(ctx, page[1].Revision, 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append(page, rest...), want); diff != "" {
		t.Errorf("ChangesSince in pages of 2 (-got +want):\n%s", diff)
	}
	if changes, err := s.ChangesSince(ctx, last, 10); err != nil || len(changes) != 0 {
		t.Errorf("ChangesSince(Revision()) = %v, %v; want none", changes, err)
	}
}

func testSecret(t *testing.T, s store.Store) {
	ctx := t.Context()
	calls := 0
	gen := func(v string) func() ([]byte, error) {
		return func() ([]byte, error) { calls++; return []byte(v), nil }
	}
	got, err := s.Secret(ctx, "key", gen("first"))
	if err != nil || string(got) != "first" {
		t.Fatalf("Secret first call = %q, %v; want first", got, err)
	}
	got, err = s.Secret(ctx, "key", gen("second"))
	if err != nil || string(got) != "first" {
		t.Errorf("Secret second call = %q, %v; want the stored first", got, err)
	}
	if calls != 1 {
		t.Errorf("gen called %d times, want 1", calls)
	}
	errGen := errors.New("no entropy")
	_, err = s.Secret(ctx, "other", func() ([]byte, error) { return nil, errGen })
	wantErr(t, "Secret with failing gen", err, errGen)
	if got, err := s.Secret(ctx, "other", gen("later")); err != nil || string(got) != "later" {
		t.Errorf("Secret after a failed gen = %q, %v; want later", got, err)
	}

	// Concurrent first calls all get one value.
	const n = 8
	var wg sync.WaitGroup
	vals := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			v, err := s.Secret(ctx, "raced", func() ([]byte, error) { return []byte(fmt.Sprint("v", i)), nil })
			vals[i], errs[i] = string(v), err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || vals[i] != vals[0] {
			t.Errorf("concurrent Secret %d = %q, %v; want %q like the first", i, vals[i], errs[i], vals[0])
		}
	}
}

func testWatch(t *testing.T, s store.Store) {
	w, ok := s.(store.Watcher)
	if !ok {
		t.Skip("the store does not implement store.Watcher")
	}
	ctx, cancel := context.WithCancel(t.Context())
	ch1, err := w.Watch(ctx)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	ch2, err := w.Watch(ctx)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	const deadline = 10 * time.Second
	// A watcher that never reads does not block writers; its signals
	// coalesce.
	for i := range 5 {
		mustCreateCluster(t, s, fmt.Sprint("c", i))
	}
	for _, ch := range []<-chan struct{}{ch1, ch2} {
		select {
		case _, ok := <-ch:
			if !ok {
				t.Fatal("watch channel closed early")
			}
		case <-time.After(deadline):
			t.Fatalf("no signal within %v of a committed write", deadline)
		}
	}
	// After the signal has been taken, the next write signals again.
	mustCreate(t, s, newAssociation("c0", "ns", "sa"))
	select {
	case <-ch1:
	case <-time.After(deadline):
		t.Fatalf("no signal within %v of a second write", deadline)
	}
	cancel()
	for _, ch := range []<-chan struct{}{ch1, ch2} {
		timeout := time.After(deadline)
	drain:
		for {
			select {
			case _, ok := <-ch:
				if !ok {
					break drain
				}
			case <-timeout:
				t.Fatalf("watch channel still open %v after its context ended", deadline)
			}
		}
	}
}

func testConcurrentCreateSameKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateCluster(t, s, "c1")
	for round := range 3 {
		const n = 16
		sa := fmt.Sprint("sa-", round)
		var wg sync.WaitGroup
		created := make([]store.Association, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				created[i], errs[i] = s.CreateAssociation(ctx, newAssociation("c1", "ns", sa), store.WriteOptions{MaxPerCluster: 100})
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err == nil {
				if winner >= 0 {
					t.Fatalf("round %d: creates %d and %d both succeeded", round, winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no create succeeded: %v", round, errs)
		}
		id := created[winner].ID
		for i, err := range errs {
			if i == winner {
				continue
			}
			var exists *store.ExistsError
			if !errors.As(err, &exists) || exists.ID != id {
				t.Errorf("round %d: create %d: error = %v, want an *ExistsError naming %s", round, i, err, id)
			}
		}
		got, err := findAssociation(ctx, s, "c1", "ns", sa)
		if err != nil || got.ID != id {
			t.Errorf("round %d: findAssociation = %s, %v; want %s", round, got.ID, err, id)
		}
	}
	if n, err := countAssociations(ctx, s, "c1"); err != nil || n != 3 {
		t.Errorf("countAssociations = %d, %v; want 3", n, err)
	}
}

func testConcurrentCreateLimit(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateCluster(t, s, "c1")
	const limit, n = 10, 24
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.CreateAssociation(ctx, newAssociation("c1", "ns", fmt.Sprint("sa-", i)), store.WriteOptions{MaxPerCluster: limit})
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrLimitExceeded):
			t.Errorf("create %d: error = %v, want nil or ErrLimitExceeded", i, err)
		}
	}
	if ok != limit {
		t.Errorf("%d concurrent creates succeeded, want exactly the limit %d", ok, limit)
	}
	if got, err := countAssociations(ctx, s, "c1"); err != nil || got != limit {
		t.Errorf("countAssociations = %d, %v; want %d", got, err, limit)
	}
}

func testConcurrentIdempotentCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateCluster(t, s, "c1")
	const n = 8
	idem := &store.Idempotency{Key: "CreatePodIdentityAssociation/c1/retried", Hash: "h"}
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			a, err := s.CreateAssociation(ctx, newAssociation("c1", "ns", "sa"), store.WriteOptions{Idempotency: idem})
			ids[i], errs[i] = a.ID, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Errorf("retry %d = %s, %v; want %s like the first (replayed)", i, ids[i], errs[i], ids[0])
		}
	}
	if got, err := countAssociations(ctx, s, "c1"); err != nil || got != 1 {
		t.Errorf("countAssociations = %d, %v; want 1", got, err)
	}
}

func testConcurrentUpdates(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateCluster(t, s, "c1")
	a := mustCreate(t, s, newAssociation("c1", "ns", "counter"))
	const workers, each = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				_, err := s.UpdateAssociation(ctx, region, "c1", a.ID, func(a *store.Association) error {
					n, _ := strconv.Atoi(a.Tags["n"])
					a.Tags["n"] = strconv.Itoa(n + 1)
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
	got, err := s.GetAssociation(ctx, region, "c1", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tags["n"] != strconv.Itoa(workers*each) {
		t.Errorf("counter = %s after %d increments; an update was lost", got.Tags["n"], workers*each)
	}
	if got.Revision <= a.Revision {
		t.Errorf("Revision = %d, want > %d", got.Revision, a.Revision)
	}
}

// testConcurrentMixedWrites: writes that fail (a missing association, a
// refusal of the update function, a panic in it) amid concurrent ones that
// succeed, as a group commit batches them: each failure reaches its own
// caller only, and every other write commits once.
func testConcurrentMixedWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateCluster(t, s, "c1")
	const workers, each = 8, 10
	ids := make([]string, workers)
	for w := range workers {
		ids[w] = mustCreate(t, s, newAssociation("c1", "ns", fmt.Sprint("sa-", w))).ID
	}
	errRefused := errors.New("refused")
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				var err error
				var want error
				switch (w + i) % 4 {
				case 0: // a missing association
					_, err = s.UpdateAssociation(ctx, region, "c1", "a-missing", func(*store.Association) error { return nil }, store.WriteOptions{})
					want = store.ErrNotFound
				case 1: // refused by the update function
					_, err = s.UpdateAssociation(ctx, region, "c1", ids[w], func(*store.Association) error { return errRefused }, store.WriteOptions{})
					want = errRefused
				case 2: // a panic in it, re-raised in the caller
					func() {
						defer func() {
							if v := recover(); v != "boom" {
								t.Errorf("worker %d: recovered %v, want the update function's panic", w, v)
							}
						}()
						_, _ = s.UpdateAssociation(ctx, region, "c1", ids[w], func(*store.Association) error { panic("boom") }, store.WriteOptions{})
					}()
					continue
				default: // counted
					_, err = s.UpdateAssociation(ctx, region, "c1", ids[w], func(a *store.Association) error {
						n, _ := strconv.Atoi(a.Tags["n"])
						a.Tags["n"] = strconv.Itoa(n + 1)
						return nil
					}, store.WriteOptions{})
				}
				if !errors.Is(err, want) || (want == nil && err != nil) {
					t.Errorf("worker %d write %d: %v, want %v", w, i, err, want)
				}
			}
		})
	}
	wg.Wait()
	for w := range workers {
		got, err := s.GetAssociation(ctx, region, "c1", ids[w])
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for i := range each {
			if (w+i)%4 == 3 {
				want++
			}
		}
		if got.Tags["n"] != strconv.Itoa(want) && !(want == 0 && got.Tags["n"] == "") {
			t.Errorf("association %d counted %q, want %d: a write was lost or applied twice", w, got.Tags["n"], want)
		}
	}
}

func testDeleteWhileListing(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateCluster(t, s, "c1")
	const n = 90
	var stable []string
	var doomed []store.Association
	for i := range n {
		a := mustCreate(t, s, newAssociation("c1", "ns", fmt.Sprint("sa-", i)))
		if i%3 == 0 {
			stable = append(stable, a.ID)
		} else {
			doomed = append(doomed, a)
		}
	}
	slices.Sort(stable)

	// One goroutine deletes the doomed associations (and creates new
	// ones) while the test lists page by page.
	done := make(chan error, 1)
	go func() {
		for i, a := range doomed {
			if _, err := s.DeleteAssociation(ctx, region, "c1", a.ID); err != nil {
				done <- err
				return
			}
			if _, err := s.CreateAssociation(ctx, newAssociation("c1", "new", fmt.Sprint("sa-", i)), store.WriteOptions{}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	finished := false
	for pass := 0; pass < 50 && !finished; pass++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("writer: %v", err)
			}
			finished = true
		default:
		}
		seen := map[string]bool{}
		p := store.Page{Limit: 7}
		for calls := 0; ; calls++ {
			if calls > 2*n {
				t.Fatalf("pass %d: still paging after %d calls", pass, calls)
			}
			items, next, err := s.ListAssociations(ctx, region, "c1", store.AssociationFilter{}, p)
			if err != nil {
				t.Fatalf("pass %d: ListAssociations: %v", pass, err)
			}
			for _, it := range items {
				if seen[it.ID] {
					t.Fatalf("pass %d: %s listed twice", pass, it.ID)
				}
				if it.ID <= p.After {
					t.Fatalf("pass %d: %s listed after %s (out of order)", pass, it.ID, p.After)
				}
				seen[it.ID] = true
			}
			if next == "" {
				break
			}
			p.After = next
		}
		for _, id := range stable {
			if !seen[id] {
				t.Fatalf("pass %d: %s, which existed throughout, was not listed", pass, id)
			}
		}
	}
	if !finished {
		if err := <-done; err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	if got, err := countAssociations(ctx, s, "c1"); err != nil || got != n {
		t.Errorf("countAssociations = %d, %v; want %d", got, err, n)
	}
}
