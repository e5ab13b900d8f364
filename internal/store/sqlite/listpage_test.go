package sqlite

import (
	"database/sql/driver"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/internal/store"
)

// TestListPageMatchesRows: a List page read as one row holds what the rows
// hold, field for field, whatever the values (the format's own separators,
// digits, printf verbs, multi-byte text, newlines, a NUL, which SQLite's
// printf cannot carry and so sends the page row by row), filtered or not,
// in pages of any size.
func TestListPageMatchesRows(t *testing.T) {
	ctx := t.Context()
	s := openWithClock(t, time.Now)
	if _, err := s.CreateCluster(ctx, store.Cluster{Region: "eu-west-1", Name: "c1"}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	awkward := []string{"", "12:34,56", "%s%d%%", "ünï ☃ 字", "two\nlines\r\n", "a,b:c", "9:", ","}
	for i := range 40 {
		odd := awkward[i%len(awkward)]
		a := store.Association{
			Region: "eu-west-1", ID: fmt.Sprintf("a-%017d", 40-i), ClusterName: "c1",
			Namespace: []string{"ns", "other"}[i%2], ServiceAccount: fmt.Sprintf("sa-%d", i),
			RoleARN: "arn:aws:iam::000000000000:role/r" + odd, TargetRoleARN: odd, ExternalID: odd,
			Policy: `{"Statement":[{"Sid":"` + strings.ReplaceAll(odd, "\n", `\n`) + `"}]}`, DisableSessionTags: i%3 == 0,
			OwnerARN: odd, Tags: map[string]string{"k": odd, odd: "v"},
			CreatedAt: time.Now().Add(time.Duration(i) * time.Second), ModifiedAt: time.Now(),
		}
		if i == 6 { // in namespace ns
			a.ExternalID = "nul\x00inside"
		}
		if _, err := s.CreateAssociation(ctx, a, store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		f     store.AssociationFilter
		limit int
	}{
		{"all", store.AssociationFilter{}, 100},
		{"pages of 7", store.AssociationFilter{}, 7},
		{"namespace", store.AssociationFilter{Namespace: "other"}, 5},
		{"service account", store.AssociationFilter{Namespace: "ns", ServiceAccount: "sa-8"}, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got, want []store.Association
			p := store.Page{Limit: tc.limit}
			for range 50 {
				page, next, err := s.ListAssociations(ctx, "eu-west-1", "c1", tc.f, p)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, page...)
				if next == "" {
					break
				}
				p.After = next
			}
			// The same listing row by row.
			q := "SELECT " + associationColumns + " FROM associations WHERE region = ? AND cluster_name = ?"
			args := []any{"eu-west-1", "c1"}
			if tc.f.Namespace != "" {
				q += " AND namespace = ?"
				args = append(args, tc.f.Namespace)
			}
			if tc.f.ServiceAccount != "" {
				q += " AND service_account = ?"
				args = append(args, tc.f.ServiceAccount)
			}
			want, err := s.queryAssociations(ctx, 0, q+" ORDER BY id", args...)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 {
				t.Fatal("no associations to compare")
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("ListAssociations (-got +want):\n%s", diff)
			}
			// Only a page holding the NUL (in namespace ns) is read row by row.
			n, page, err := s.queryJoined(ctx, pageQuery(q), args...)
			if err != nil {
				t.Fatal(err)
			}
			_, decoded := decodeAssociationPage(page, n, 0)
			if wantDecoded := tc.f.Namespace == "other" || tc.f.ServiceAccount != ""; decoded != wantDecoded {
				t.Errorf("the listing as one row decodes: %v, want %v", decoded, wantDecoded)
			}
		})
	}
}

// FuzzDecodeAssociationPage: any text decodes without a panic, and what
// decodes is exactly n records.
func FuzzDecodeAssociationPage(f *testing.F) {
	rec := "9:eu-west-12:a12:c12:ns2:sa0:0:0:0:0,0:2:{}1,2,3,"
	f.Add(rec, 1)
	f.Add(rec+rec, 2)
	f.Add("99999999999999999999:x", 1)
	f.Add("-1:", 1)
	f.Add("", 0)
	f.Fuzz(func(t *testing.T, page string, n int) {
		n = min(max(n, 0), 1000)
		items, ok := decodeAssociationPage(page, n, 0)
		if ok && len(items) != n {
			t.Fatalf("decoded %d records, want %d", len(items), n)
		}
	})
}

// TestPointReadsMatchRows: the point reads that read an association as
// one record (GetAssociation's, and the writer's for Update, with a token
// and without) return what its columns hold, whatever the values; one
// holding a NUL, which SQLite's printf cannot carry, is read column by
// column.
func TestPointReadsMatchRows(t *testing.T) {
	ctx := t.Context()
	s := openWithClock(t, time.Now)
	if _, err := s.CreateCluster(ctx, store.Cluster{Region: "eu-west-1", Name: "c1"}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	awkward := []string{"", "12:34,56", "%s%d%%", "ünï ☃ 字", "two\nlines\r\n", "a,b:c", "9:", ",", "nul\x00inside"}
	for i, odd := range awkward {
		a := store.Association{
			Region: "eu-west-1", ID: fmt.Sprintf("a-%017d", i), ClusterName: "c1", Namespace: "ns", ServiceAccount: fmt.Sprintf("sa-%d", i),
			RoleARN: "arn:aws:iam::000000000000:role/r" + odd, TargetRoleARN: odd, ExternalID: odd,
			Policy: `{"Statement":[{"Sid":"` + strings.ReplaceAll(odd, "\n", `\n`) + `"}]}`, DisableSessionTags: i%2 == 0,
			OwnerARN: odd, Tags: map[string]string{"k": odd, odd: "v"}, CreatedAt: time.Now(), ModifiedAt: time.Now(),
		}
		if _, err := s.CreateAssociation(ctx, a, store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		read := func() store.Association {
			t.Helper()
			rows, err := s.queryAssociations(ctx, 1, "SELECT "+associationColumns+" FROM associations WHERE region = ? AND cluster_name = ? AND id = ?",
				a.Region, a.ClusterName, a.ID)
			if err != nil || len(rows) != 1 {
				t.Fatalf("reading %q's row: %d rows, %v", odd, len(rows), err)
			}
			return rows[0]
		}
		got, err := s.lookupAssociation(ctx, a.Region, a.ClusterName, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, read()); diff != "" {
			t.Errorf("lookupAssociation of %q (-got +want):\n%s", odd, diff)
		}
		for _, opts := range []store.WriteOptions{{}, {Idempotency: &store.Idempotency{Key: fmt.Sprint("token-", i), Hash: "h"}}} {
			var seen store.Association
			want := read()
			updated, err := s.UpdateAssociation(ctx, a.Region, a.ClusterName, a.ID, func(a *store.Association) error {
				seen = *a
				a.RoleARN += "x"
				return nil
			}, opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(seen, want); diff != "" {
				t.Errorf("the Update of %q (token %v) read (-got +want):\n%s", odd, opts.Idempotency != nil, diff)
			}
			if diff := cmp.Diff(updated, read()); diff != "" {
				t.Errorf("the Update of %q (token %v) returned (-got +want):\n%s", odd, opts.Idempotency != nil, diff)
			}
		}
		var v [1]driver.Value
		if _, err := s.raw.readRow(ctx, getAssociationQuery, keyArgs(a.Region, a.ClusterName, a.ID), v[:]); err != nil {
			t.Fatal(err)
		}
		if _, decoded := decodeAssociationRecord(v[0]); decoded != !strings.Contains(odd, "\x00") {
			t.Errorf("the record of %q decodes: %v", odd, decoded)
		}
	}
}

// TestUpdateStoresEachChange: an Update that changes any one field of an
// association (or several, or none) stores exactly the edited association
// (updateAssociationRow sets only the columns that may have changed).
func TestUpdateStoresEachChange(t *testing.T) {
	ctx := t.Context()
	s := openWithClock(t, time.Now)
	if _, err := s.CreateCluster(ctx, store.Cluster{Region: "eu-west-1", Name: "c1"}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	a, err := s.CreateAssociation(ctx, store.Association{
		Region: "eu-west-1", ID: "a-00000000000000001", ClusterName: "c1", Namespace: "ns", ServiceAccount: "sa",
		RoleARN: "arn:aws:iam::000000000000:role/r", OwnerARN: "arn:aws:iam::000000000000:root",
		Tags: map[string]string{"k": "v"}, CreatedAt: time.Now(), ModifiedAt: time.Now(),
	}, store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	edits := map[string]func(*store.Association){
		"nothing":      func(*store.Association) {},
		"role":         func(a *store.Association) { a.RoleARN += "2" },
		"target role":  func(a *store.Association) { a.TargetRoleARN = "arn:aws:iam::111111111111:role/t" },
		"external id":  func(a *store.Association) { a.ExternalID = "ext" },
		"policy":       func(a *store.Association) { a.Policy = `{"Version":"2012-10-17"}` },
		"session tags": func(a *store.Association) { a.DisableSessionTags = !a.DisableSessionTags },
		"owner":        func(a *store.Association) { a.OwnerARN = "arn:aws:iam::000000000000:user/u" },
		"tags in place": func(a *store.Association) {
			a.Tags["k"] += "2"
			a.Tags["new"] = "x"
		},
		"tags replaced": func(a *store.Association) { a.Tags = map[string]string{"only": "1"} },
		"created":       func(a *store.Association) { a.CreatedAt = a.CreatedAt.Add(-time.Hour) },
		"several": func(a *store.Association) {
			a.RoleARN, a.Policy, a.ModifiedAt = a.RoleARN+"3", "", time.Now()
		},
	}
	for name, edit := range edits {
		updated, err := s.UpdateAssociation(ctx, a.Region, a.ClusterName, a.ID, func(a *store.Association) error {
			edit(a)
			return nil
		}, store.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.queryAssociations(ctx, 1, "SELECT "+associationColumns+" FROM associations WHERE id = ?", a.ID)
		if err != nil || len(rows) != 1 {
			t.Fatalf("%s: reading the row: %d rows, %v", name, len(rows), err)
		}
		if diff := cmp.Diff(rows[0], updated); diff != "" {
			t.Errorf("%s: the stored row (-got +want):\n%s", name, diff)
		}
	}
}
