package storetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/podid/podid/internal/store"
)

// The audit trail's cases of the suite (store.Audit).
var auditTests = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"AuditLookup", testAuditLookup},
	{"AuditPaging", testAuditPaging},
	{"AuditPrune", testAuditPrune},
	{"AuditDuplicates", testAuditDuplicates},
}

// auditEvent is the i-th event of a test trail: one second apart from
// base, alternating sources, every third one read-only.
func auditEvent(i int) store.Event {
	e := store.Event{
		ID:          fmt.Sprintf("ev-%04d", i),
		Time:        base.Add(time.Duration(i) * time.Second),
		Name:        "CreatePodIdentityAssociation",
		Source:      "eks.amazonaws.com",
		ReadOnly:    i%3 == 0,
		Username:    "root",
		AccessKeyID: "AKIAADMIN",
		Resources:   []store.EventResource{{Type: "AWS::EKS::Cluster", Name: "arn:aws:eks:us-east-1:000000000000:cluster/c" + fmt.Sprint(i%2)}},
		Record:      []byte(fmt.Sprintf(`{"eventID":"ev-%04d"}`, i)),
	}
	if i%2 == 1 {
		e.Name, e.Source, e.Username, e.AccessKeyID = "AssumeRoleForPodIdentity", "eks-auth.amazonaws.com", "node", "ASIANODE"
		e.Resources = append(e.Resources, store.EventResource{Type: "AWS::IAM::Role", Name: "arn:aws:iam::000000000000:role/r"})
	}
	return e
}

func appendTrail(t *testing.T, s store.Store, n int) []store.Event {
	t.Helper()
	var all []store.Event
	for i := range n {
		all = append(all, auditEvent(i))
	}
	if err := s.AppendEvents(t.Context(), all); err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
	return all
}

func ids(events []store.Event) []string {
	out := []string{}
	for _, e := range events {
		out = append(out, e.ID)
	}
	return out
}

func testAuditLookup(t *testing.T, s store.Store) {
	all := appendTrail(t, s, 10)
	// A retried batch stores each event once.
	if err := s.AppendEvents(t.Context(), all[:3]); err != nil {
		t.Fatalf("AppendEvents again: %v", err)
	}
	got, next, err := s.LookupEvents(t.Context(), store.EventQuery{Limit: 100})
	if err != nil {
		t.Fatalf("LookupEvents: %v", err)
	}
	if next != "" || len(got) != 10 {
		t.Fatalf("LookupEvents: %d events, next %q; want 10, none", len(got), next)
	}
	if diff := cmp.Diff(got[0], all[9]); diff != "" {
		t.Errorf("newest event (-got +want):\n%s", diff)
	}
	cases := []struct {
		q    store.EventQuery
		want []string
	}{
		{store.EventQuery{Attribute: store.EventAttrEventID, Value: "ev-0004"}, []string{"ev-0004"}},
		{store.EventQuery{Attribute: store.EventAttrEventName, Value: "AssumeRoleForPodIdentity"}, []string{"ev-0009", "ev-0007", "ev-0005", "ev-0003", "ev-0001"}},
		{store.EventQuery{Attribute: store.EventAttrEventSource, Value: "eks.amazonaws.com"}, []string{"ev-0008", "ev-0006", "ev-0004", "ev-0002", "ev-0000"}},
		{store.EventQuery{Attribute: store.EventAttrReadOnly, Value: "true"}, []string{"ev-0009", "ev-0006", "ev-0003", "ev-0000"}},
		{store.EventQuery{Attribute: store.EventAttrUsername, Value: "node"}, []string{"ev-0009", "ev-0007", "ev-0005", "ev-0003", "ev-0001"}},
		{store.EventQuery{Attribute: store.EventAttrAccessKeyID, Value: "AKIAADMIN"}, []string{"ev-0008", "ev-0006", "ev-0004", "ev-0002", "ev-0000"}},
		{store.EventQuery{Attribute: store.EventAttrResourceType, Value: "AWS::IAM::Role"}, []string{"ev-0009", "ev-0007", "ev-0005", "ev-0003", "ev-0001"}},
		{store.EventQuery{Attribute: store.EventAttrResourceName, Value: "arn:aws:eks:us-east-1:000000000000:cluster/c0"}, []string{"ev-0008", "ev-0006", "ev-0004", "ev-0002", "ev-0000"}},
		{store.EventQuery{Attribute: store.EventAttrUsername, Value: "nobody"}, []string{}},
		{store.EventQuery{Start: base.Add(3 * time.Second), End: base.Add(5 * time.Second)}, []string{"ev-0005", "ev-0004", "ev-0003"}},
		{store.EventQuery{Attribute: store.EventAttrEventName, Value: "AssumeRoleForPodIdentity", Start: base.Add(6 * time.Second)}, []string{"ev-0009", "ev-0007"}},
	}
	for _, tc := range cases {
		tc.q.Limit = 100
		got, _, err := s.LookupEvents(t.Context(), tc.q)
		if err != nil {
			t.Errorf("LookupEvents(%+v): %v", tc.q, err)
			continue
		}
		if diff := cmp.Diff(ids(got), tc.want); diff != "" {
			t.Errorf("LookupEvents(%+v) (-got +want):\n%s", tc.q, diff)
		}
	}
	for _, q := range []store.EventQuery{{Limit: 0}, {Limit: 10, After: "nonsense"}, {Limit: 10, Attribute: "Colour", Value: "x"}} {
		if _, _, err := s.LookupEvents(t.Context(), q); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("LookupEvents(%+v): %v, want ErrBadCursor", q, err)
		}
	}
}

func testAuditPaging(t *testing.T, s store.Store) {
	all := appendTrail(t, s, 25)
	// Two events in the same microsecond: the ID orders them.
	twin := auditEvent(30)
	twin.ID, twin.Time = "ev-0012b", all[12].Time
	if err := s.AppendEvents(t.Context(), []store.Event{twin}); err != nil {
		t.Fatal(err)
	}
	var got []string
	q := store.EventQuery{Limit: 4}
	for range 20 {
		page, next, err := s.LookupEvents(t.Context(), q)
		if err != nil {
			t.Fatalf("LookupEvents: %v", err)
		}
		if len(page) > 4 {
			t.Fatalf("page of %d events, limit 4", len(page))
		}
		got = append(got, ids(page)...)
		if next == "" {
			break
		}
		q.After = next
	}
	var want []string
	for i := 24; i >= 0; i-- {
		want = append(want, all[i].ID)
		if i == 12 {
			want = append(want[:len(want)-1], "ev-0012b", "ev-0012")
		}
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("pages (-got +want):\n%s", diff)
	}
}

// testAuditDuplicates stores an event twice in one batch, and one that
// names the same resource twice: each is found once, by each attribute.
func testAuditDuplicates(t *testing.T, s store.Store) {
	e := auditEvent(1)
	twice := auditEvent(2)
	twice.Resources = append(twice.Resources, twice.Resources...)
	if err := s.AppendEvents(t.Context(), []store.Event{e, e, twice}); err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
	if err := s.AppendEvents(t.Context(), []store.Event{twice, e}); err != nil {
		t.Fatalf("AppendEvents again: %v", err)
	}
	for _, c := range []struct {
		attr, value string
		want        []string
	}{
		{"", "", []string{"ev-0002", "ev-0001"}},
		{store.EventAttrResourceName, "arn:aws:eks:us-east-1:000000000000:cluster/c0", []string{"ev-0002"}},
		{store.EventAttrResourceType, "AWS::EKS::Cluster", []string{"ev-0002", "ev-0001"}},
		{store.EventAttrEventID, "ev-0001", []string{"ev-0001"}},
	} {
		got, _, err := s.LookupEvents(t.Context(), store.EventQuery{Attribute: c.attr, Value: c.value, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ids(got), c.want); diff != "" {
			t.Errorf("%s %s (-got +want):\n%s", c.attr, c.value, diff)
		}
	}
}

func testAuditPrune(t *testing.T, s store.Store) {
	appendTrail(t, s, 20)
	// By age: events before base+5s go.
	n, err := s.PruneEvents(t.Context(), base.Add(5*time.Second), 0)
	if err != nil || n != 5 {
		t.Fatalf("PruneEvents by age = %d, %v; want 5", n, err)
	}
	// By count: the newest 6 stay.
	n, err = s.PruneEvents(t.Context(), base, 6)
	if err != nil || n != 9 {
		t.Fatalf("PruneEvents by count = %d, %v; want 9", n, err)
	}
	got, _, err := s.LookupEvents(t.Context(), store.EventQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids(got), []string{"ev-0019", "ev-0018", "ev-0017", "ev-0016", "ev-0015", "ev-0014"}); diff != "" {
		t.Errorf("after pruning (-got +want):\n%s", diff)
	}
	// The pruned events' resources went with them.
	got, _, err = s.LookupEvents(t.Context(), store.EventQuery{Attribute: store.EventAttrResourceType, Value: "AWS::IAM::Role", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids(got), []string{"ev-0019", "ev-0017", "ev-0015"}); diff != "" {
		t.Errorf("resource lookup after pruning (-got +want):\n%s", diff)
	}
	// Nothing left to prune.
	if n, err := s.PruneEvents(t.Context(), base, 6); err != nil || n != 0 {
		t.Errorf("PruneEvents again = %d, %v; want 0", n, err)
	}
	// A pruned event's resource keys went too: its ID stored again with
	// other resources is not found by the old ones.
	again := auditEvent(1)
	again.Time = base.Add(30 * time.Second)
	again.Resources = []store.EventResource{{Type: "AWS::EKS::Nodegroup", Name: "ng"}}
	if err := s.AppendEvents(t.Context(), []store.Event{again}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []store.EventQuery{
		{Attribute: store.EventAttrResourceType, Value: "AWS::IAM::Role", Limit: 100},
		{Attribute: store.EventAttrResourceName, Value: "arn:aws:eks:us-east-1:000000000000:cluster/c1", Limit: 100},
	} {
		got, _, err = s.LookupEvents(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ids(got), []string{"ev-0019", "ev-0017", "ev-0015"}); diff != "" {
			t.Errorf("%s lookup after pruning and storing ev-0001 again (-got +want):\n%s", q.Attribute, diff)
		}
	}
	got, _, err = s.LookupEvents(t.Context(), store.EventQuery{Attribute: store.EventAttrResourceName, Value: "ng", Limit: 100})
	if err != nil || len(got) != 1 || got[0].ID != "ev-0001" {
		t.Errorf("lookup of ev-0001's new resource = %v, %v; want ev-0001", ids(got), err)
	}
	// More than a batch.
	var many []store.Event
	for i := range 4500 {
		e := auditEvent(100 + i)
		e.Time = base.Add(time.Hour + time.Duration(i)*time.Millisecond)
		many = append(many, e)
	}
	if err := s.AppendEvents(t.Context(), many); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneEvents(t.Context(), base, 10); err != nil || n != 4497 {
		t.Errorf("PruneEvents of 4507 keeping 10 = %d, %v; want 4497", n, err)
	}
}

// CheckMigratedAuditKeys checks a store migrated with four events stored
// before audit_keys: prefix+"0".."3", one second apart from epoch+1s,
// each naming cluster "c0" or "c1" (by parity) and role "r". They are
// found by resource name and type, newest first; storing one again keeps
// one copy; pruning the first two leaves the others found by resource.
func CheckMigratedAuditKeys(t *testing.T, s store.Store, epoch time.Time, prefix string) {
	t.Helper()
	ctx := t.Context()
	look := func(attr, value string) []string {
		t.Helper()
		got, _, err := s.LookupEvents(ctx, store.EventQuery{Attribute: attr, Value: value, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return ids(got)
	}
	p := func(n ...int) []string {
		var out []string
		for _, i := range n {
			out = append(out, prefix+fmt.Sprint(i))
		}
		return out
	}
	again, _, err := s.LookupEvents(ctx, store.EventQuery{Attribute: store.EventAttrEventID, Value: prefix + "1", Limit: 1})
	if err != nil || len(again) != 1 {
		t.Fatalf("looking up %s1: %v, %v", prefix, ids(again), err)
	}
	if err := s.AppendEvents(ctx, again); err != nil {
		t.Fatalf("appending a migrated event again: %v", err)
	}
	for _, c := range []struct {
		attr, value string
		want        []string
	}{
		{store.EventAttrResourceName, "c1", p(3, 1)},
		{store.EventAttrResourceName, "r", p(3, 2, 1, 0)},
		{store.EventAttrResourceType, "AWS::EKS::Cluster", p(3, 2, 1, 0)},
	} {
		if diff := cmp.Diff(look(c.attr, c.value), c.want); diff != "" {
			t.Errorf("%s %s after migration (-got +want):\n%s", c.attr, c.value, diff)
		}
	}
	if n, err := s.PruneEvents(ctx, epoch.Add(2500*time.Millisecond), 0); err != nil || n != 2 {
		t.Fatalf("PruneEvents = %d, %v; want 2", n, err)
	}
	if diff := cmp.Diff(look(store.EventAttrResourceType, "AWS::IAM::Role"), p(3, 2)); diff != "" {
		t.Errorf("by type after pruning (-got +want):\n%s", diff)
	}
}

// EventRecord is a CloudTrail record of an update's size (about 1 KB),
// for benchmarks.
func EventRecord() []byte {
	return []byte(`{"eventVersion":"1.09",` + strings.Repeat(`"x":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",`, 30) + `"z":1}`)
}

// UpdateEvents is a batch of n events of the Update path's shape, for
// benchmarks: the (from+i)-th names its own association (a resource name
// no other event has) and one of 200 clusters, with one of 7 callers.
func UpdateEvents(n, from int, record []byte) []store.Event {
	events := make([]store.Event, n)
	for i := range events {
		k := from + i
		events[i] = store.Event{
			ID: uuid.Must(uuid.NewV7()).String(), Time: time.Now(), Name: "UpdatePodIdentityAssociation", Source: "eks.amazonaws.com",
			Username: fmt.Sprintf("user-%d", k%7), AccessKeyID: fmt.Sprintf("AKIA%016d", k%7),
			Resources: []store.EventResource{
				{Type: "AWS::EKS::Cluster", Name: fmt.Sprintf("arn:aws:eks:us-east-1:000000000000:cluster/c%03d", k%200)},
				{Type: "AWS::EKS::PodIdentityAssociation", Name: fmt.Sprintf("arn:aws:eks:us-east-1:000000000000:podidentityassociation/c%03d/a-%017d", k%200, k)},
			},
			Record: record,
		}
	}
	return events
}

// SeedEvents stores existing UpdateEvents in st, 1,000 at a time, before
// an AppendEventsAt benchmark. A trail of events already there takes
// minutes to store, so it is stored only with PODID_AUDIT_SCALE=1;
// otherwise the benchmark skips.
func SeedEvents(ctx context.Context, b *testing.B, st interface {
	AppendEvents(context.Context, []store.Event) error
}, existing int, record []byte) {
	b.Helper()
	if existing > 0 && os.Getenv("PODID_AUDIT_SCALE") == "" {
		b.Skipf("set PODID_AUDIT_SCALE=1 to store %d events first", existing)
	}
	for i := 0; i < existing; i += 1000 {
		if err := st.AppendEvents(ctx, UpdateEvents(1000, i, record)); err != nil {
			b.Fatal(err)
		}
	}
}

// MigratedKeyBucketEvents is how many events CheckMigratedAuditKeyBuckets
// expects stored before the migration to audit_keys by bucket: event i
// (ID ev-%04d, time i+1 us, the Unix epoch's) names one resource of type T,
// "rare" when i%100 == 7, else "a<i>", with its keys in the old layout.
const MigratedKeyBucketEvents = 600

// CheckMigratedAuditKeyBuckets checks a store migrated to audit_keys by
// bucket with MigratedKeyBucketEvents events stored before: a later event
// is appended, both are found by the rare name across the buckets and by
// the type every event has, page by page, and pruning the oldest 299
// leaves the rest findable. The caller checks that the pruned keys are
// gone: 2*(MigratedKeyBucketEvents+1-299) rows remain.
func CheckMigratedAuditKeyBuckets(t *testing.T, s store.Audit) {
	t.Helper()
	ctx := t.Context()
	const n = MigratedKeyBucketEvents
	later := store.Event{ID: "ev-9999", Time: time.UnixMicro(n + 1), Name: "x", Source: "y",
		Resources: []store.EventResource{{Type: "T", Name: "rare"}}, Record: []byte("{}")}
	if err := s.AppendEvents(ctx, []store.Event{later}); err != nil {
		t.Fatal(err)
	}
	all := func(attr, value string) []string {
		t.Helper()
		return LookupAll(t, s, attr, value, 4)
	}
	want := []string{"ev-9999", "ev-0507", "ev-0407", "ev-0307", "ev-0207", "ev-0107", "ev-0007"}
	if diff := cmp.Diff(all(store.EventAttrResourceName, "rare"), want); diff != "" {
		t.Errorf("by name after migration (-got +want):\n%s", diff)
	}
	if got := all(store.EventAttrResourceType, "T"); len(got) != n+1 || got[0] != "ev-9999" || got[n] != "ev-0000" {
		t.Errorf("by type: %d events from %v, want %d from ev-9999 to ev-0000", len(got), got[:min(len(got), 2)], n+1)
	}
	if got, err := s.PruneEvents(ctx, time.UnixMicro(300), 0); err != nil || got != 299 {
		t.Fatalf("PruneEvents = %d, %v; want 299", got, err)
	}
	if diff := cmp.Diff(all(store.EventAttrResourceName, "rare"), want[:4]); diff != "" {
		t.Errorf("by name after pruning (-got +want):\n%s", diff)
	}
}

// BenchLookupEventsAt stores a trail of 100,000 Update-shaped events (a
// million with PODID_AUDIT_SCALE=1), calls stored (nil: nothing) and
// reads the newest page of 50 by a resource name ten events have (one in
// 10,000), by a resource type every event has, by a username one in seven
// has and one that one in a hundred has, by an event name ten events have,
// and with no attribute, each a sub-benchmark: a backend's BenchmarkLookupEventsAt.
func BenchLookupEventsAt(b *testing.B, st store.Audit, stored func()) {
	total := 100_000
	if os.Getenv("PODID_AUDIT_SCALE") != "" {
		total = 1_000_000
	}
	ctx := context.Background()
	record := EventRecord()
	for i := 0; i < total; i += 1000 {
		events := UpdateEvents(1000, i, record)
		events[0].Resources = append(events[0].Resources, store.EventResource{Type: "T", Name: fmt.Sprint("rare-", i/10_000)})
		if i >= 30_000 && i < 40_000 {
			events[0].Name = "rare"
		}
		for j := range 10 {
			events[j*100].Username = "user-1%"
		}
		if err := st.AppendEvents(ctx, events); err != nil {
			b.Fatal(err)
		}
	}
	if stored != nil {
		stored()
	}
	for _, q := range []struct {
		name, attr, value string
		want              int
	}{
		{"rare-name", store.EventAttrResourceName, "rare-3", 10},
		{"every-type", store.EventAttrResourceType, "AWS::EKS::Cluster", 50},
		{"user", store.EventAttrUsername, "user-3", 50},
		{"user-1%", store.EventAttrUsername, "user-1%", 50},
		{"rare-event-name", store.EventAttrEventName, "rare", 10},
		{"all", "", "", 50},
	} {
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				got, _, err := st.LookupEvents(ctx, store.EventQuery{Attribute: q.attr, Value: q.value, Limit: 50})
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != q.want {
					b.Fatalf("%d events, want %d", len(got), q.want)
				}
			}
		})
	}
}

// LookupAll pages through every event of a lookup by attr's value, limit
// a page, and returns their IDs, newest first.
func LookupAll(t *testing.T, s store.Audit, attr, value string, limit int) []string {
	t.Helper()
	var ids []string
	after := ""
	for range 1000 {
		page, next, err := s.LookupEvents(t.Context(), store.EventQuery{Attribute: attr, Value: value, Limit: limit, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			ids = append(ids, e.ID)
		}
		if next == "" {
			return ids
		}
		after = next
	}
	t.Fatal("paging did not end")
	return nil
}
