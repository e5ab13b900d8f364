package sqlite_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
)

// TestListClustersOddNames: ListClusters reads a page as one joined row;
// names holding the separator (a newline), or sorting differently as
// bytes than as letters, still list exactly, in byte order, page by page.
func TestListClustersOddNames(t *testing.T) {
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "podid.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, tt := range []struct {
		name  string
		names []string
	}{
		{"plain", []string{"b", "a", "c-1", "C", "Z9", "é", "a_b"}},
		{"newline", []string{"x\ny", "x", "x\n", "\n", "y"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, n := range tt.names {
				if _, err := s.CreateCluster(ctx, store.Cluster{Name: n, CreatedAt: time.Now(), Version: "1.34"}, store.WriteOptions{}); err != nil {
					t.Fatalf("CreateCluster(%q): %v", n, err)
				}
			}
			t.Cleanup(func() {
				for _, n := range tt.names {
					if _, err := s.DeleteCluster(ctx, "", n); err != nil {
						t.Errorf("DeleteCluster(%q): %v", n, err)
					}
				}
			})
			want := slices.Sorted(slices.Values(tt.names))
			for _, limit := range []int{1, 2, 3, len(want), 100} {
				var got []string
				p := store.Page{Limit: limit}
				for range len(want) + 1 {
					names, next, err := s.ListClusters(ctx, "", p)
					if err != nil {
						t.Fatalf("ListClusters(%+v): %v", p, err)
					}
					got = append(got, names...)
					if next == "" {
						break
					}
					p.After = next
				}
				if diff := cmp.Diff(got, want); diff != "" {
					t.Errorf("limit %d: names (-got +want):\n%s", limit, diff)
				}
			}
		})
	}
}
