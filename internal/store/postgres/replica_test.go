package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/postgres"
	"github.com/podid/podid/internal/store/postgres/pgtest"
)

// signalDeadline bounds how long a test waits for a Watch signal. The
// notification normally arrives within milliseconds; the bound only keeps
// a broken listener from hanging the test.
const signalDeadline = 10 * time.Second

var created = time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC)

func cluster(name string) store.Cluster {
	return store.Cluster{Name: name, CreatedAt: created, Version: "1.31", RoleARN: "arn:aws:iam::000000000000:role/c"}
}

func association(id, cluster, namespace, sa string) store.Association {
	return store.Association{
		ID: id, ClusterName: cluster, Namespace: namespace, ServiceAccount: sa,
		RoleARN:   "arn:aws:iam::000000000000:role/" + sa,
		CreatedAt: created, ModifiedAt: created,
	}
}

// waitSignal waits for a value on ch, failing t after signalDeadline, and
// returns how long it took.
func waitSignal(t *testing.T, ch <-chan struct{}, what string) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: watch channel closed", what)
		}
	case <-time.After(signalDeadline):
		t.Fatalf("%s: no signal within %v", what, signalDeadline)
	}
	return time.Since(start)
}

// drain empties ch of a pending (coalesced) signal.
func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

func TestReplicasShareWritesAndSignals(t *testing.T) {
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	a, b := pgtest.Open(t, dsn), pgtest.Open(t, dsn)
	ctx := t.Context()

	watchB, err := b.Watch(ctx)
	if err != nil {
		t.Fatalf("Watch on replica b: %v", err)
	}
	if _, err := a.CreateCluster(ctx, cluster("c1"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, watchB, "cluster created on replica a")

	// Each write on a: b sees it at once, and b's watcher hears of it.
	const writes = 100
	var latencies []time.Duration
	for i := range writes {
		drain(watchB)
		start := time.Now()
		want, err := a.CreateAssociation(ctx, association(fmt.Sprintf("a-%017d", i), "c1", "ns", fmt.Sprint("sa-", i)), store.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitSignal(t, watchB, "association created on replica a")
		latencies = append(latencies, time.Since(start))
		got, err := b.GetAssociation(ctx, "", "c1", want.ID)
		if err != nil {
			t.Fatalf("replica b: GetAssociation(%s): %v", want.ID, err)
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("replica b reads (-got +want):\n%s", diff)
		}
	}
	slices.Sort(latencies)
	t.Logf("create on replica a to Watch signal on b, %d writes: p50 %v, p99 %v, max %v",
		writes, latencies[writes/2], latencies[writes*99/100], latencies[writes-1])

	// The change feed on b carries a's writes, in revision order, up to
	// the revision b reports.
	rev, err := b.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := b.ChangesSince(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != writes || changes[len(changes)-1].Revision != rev {
		t.Errorf("replica b: %d changes ending at revision %d, want %d ending at %d", len(changes), changes[len(changes)-1].Revision, writes, rev)
	}

	// Writes on b reach a's watcher too.
	watchA, err := a.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.DeleteAssociation(ctx, "", "c1", changes[0].AssociationID); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, watchA, "association deleted on replica b")
	if _, err := a.GetAssociation(ctx, "", "c1", changes[0].AssociationID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("replica a: GetAssociation of a deleted association: error = %v, want ErrNotFound", err)
	}
}

func TestReplicasConcurrentCreateSameKey(t *testing.T) {
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	replicas := []*postgres.Store{pgtest.Open(t, dsn), pgtest.Open(t, dsn), pgtest.Open(t, dsn)}
	ctx := t.Context()
	if _, err := replicas[0].CreateCluster(ctx, cluster("c1"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	const n = 12
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			a, err := replicas[i%len(replicas)].CreateAssociation(ctx, association(fmt.Sprintf("a-%017d", i), "c1", "ns", "sa"), store.WriteOptions{})
			ids[i], errs[i] = a.ID, err
		})
	}
	wg.Wait()
	var winners []string
	for i, err := range errs {
		if err == nil {
			winners = append(winners, ids[i])
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d creates of one key on %d replicas succeeded (%v), want exactly 1", len(winners), len(replicas), winners)
	}
	for i, err := range errs {
		var exists *store.ExistsError
		if err != nil && (!errors.As(err, &exists) || exists.ID != winners[0]) {
			t.Errorf("create %d: error = %v, want an *ExistsError naming %s", i, err, winners[0])
		}
	}
	for i, r := range replicas {
		if err := r.IntegrityCheck(ctx); err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
}

func TestConcurrentMigration(t *testing.T) {
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	const n = 6
	var wg sync.WaitGroup
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(t.Context(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d of %d at once: %v", i, n, err)
			continue
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	if t.Failed() {
		return
	}
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var versions, counters int
	if err := conn.QueryRow(ctx, "SELECT (SELECT count(*) FROM schema_migrations), (SELECT count(*) FROM revision_counter)").Scan(&versions, &counters); err != nil {
		t.Fatal(err)
	}
	if versions != postgres.Migrations || counters != 1 {
		t.Errorf("after %d concurrent Opens: %d migrations recorded and %d counter rows, want %d (each once) and 1", n, versions, counters, postgres.Migrations)
	}
	// Every store works on the one schema.
	for i, s := range stores {
		if _, err := s.CreateCluster(ctx, cluster(fmt.Sprint("c", i)), store.WriteOptions{}); err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
	names, _, err := stores[0].ListClusters(ctx, "", store.Page{Limit: 100})
	if err != nil || len(names) != n {
		t.Errorf("ListClusters = %v, %v; want %d clusters", names, err, n)
	}
}

func TestIntegrityCheck(t *testing.T) {
	tests := []struct {
		name    string
		damage  string
		wantMsg string
	}{
		{"count", "UPDATE clusters SET association_count = 7 WHERE name = 'c1'", "counts 7 associations but has 2"},
		{"counter", "UPDATE revision_counter SET revision = 1", "revision counter 1 is behind revision"},
		{"revived", "INSERT INTO tombstones (revision, cluster_name, id, deleted_at) SELECT 1000, 'c1', min(id), 0 FROM associations", "has a later tombstone at 1000"},
		{"unique key", "DROP INDEX associations_key; UPDATE associations SET service_account = 'same'", "share cluster c1, namespace ns, service account same"},
		{"orphan", "ALTER TABLE associations DROP CONSTRAINT associations_cluster_fkey; UPDATE associations SET cluster_name = 'gone'", "belongs to missing cluster gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := pgtest.Schema(t, pgtest.DSN(t))
			s := pgtest.Open(t, dsn)
			ctx := t.Context()
			if _, err := s.CreateCluster(ctx, cluster("c1"), store.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if _, err := s.CreateAssociation(ctx, association(fmt.Sprintf("a-%017d", i), "c1", "ns", fmt.Sprint("sa-", i)), store.WriteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.IntegrityCheck(ctx); err != nil {
				t.Fatalf("IntegrityCheck before damage: %v", err)
			}
			pgtest.Exec(t, dsn, tt.damage)
			err := s.IntegrityCheck(ctx)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("IntegrityCheck after %q: error = %v, want one saying %q", tt.damage, err, tt.wantMsg)
			}
		})
	}
}

// TestWatchReconnects kills the listener's connection from the server side:
// the watcher is signalled (notifications may have been lost), and after the
// reconnect, writes on another replica are signalled again.
func TestWatchReconnects(t *testing.T) {
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	a, b := pgtest.Open(t, dsn), pgtest.Open(t, dsn)
	ctx := t.Context()
	watch, err := b.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateCluster(ctx, cluster("c0"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, watch, "write before the connection is killed")

	// The listener is the one session LISTENing on this schema's channel
	// (the connection running this statement has the same search_path).
	pgtest.Exec(t, dsn, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE datname = current_database() AND query LIKE 'LISTEN %' AND query LIKE '%' || current_schema() || '%'`)
	waitSignal(t, watch, "listener connection killed")

	// The listener is back once a write on a signals b.
	deadline := time.Now().Add(signalDeadline)
	for i := 1; ; i++ {
		drain(watch)
		if _, err := a.CreateCluster(ctx, cluster(fmt.Sprint("c", i)), store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-watch:
			return
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no signal for writes within %v of killing the listener", signalDeadline)
		}
	}
}

// TestPanicInUpdateReleasesWriters: a panic in an update function rolls the
// transaction back (releasing the revision counter lock), so the next write
// goes through.
func TestPanicInUpdateReleasesWriters(t *testing.T) {
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	s := pgtest.Open(t, dsn)
	ctx, cancel := context.WithTimeout(t.Context(), signalDeadline)
	defer cancel()
	if _, err := s.CreateCluster(ctx, cluster("c1"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	a, err := s.CreateAssociation(ctx, association("a-00000000000000001", "c1", "ns", "sa"), store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the panic from fn", r)
			}
		}()
		s.UpdateAssociation(ctx, "", "c1", a.ID, func(a *store.Association) error {
			a.RoleARN = "changed"
			panic("boom")
		}, store.WriteOptions{})
	}()
	// A writer on another replica is not blocked by a lock left behind.
	other := pgtest.Open(t, dsn)
	if _, err := other.CreateCluster(ctx, cluster("c2"), store.WriteOptions{}); err != nil {
		t.Fatalf("write after a panicking update: %v", err)
	}
	got, err := other.GetAssociation(ctx, "", "c1", a.ID)
	if err != nil || got.RoleARN != a.RoleARN {
		t.Errorf("after the panic: RoleARN = %q, %v; want %q (rolled back)", got.RoleARN, err, a.RoleARN)
	}
}

// TestWatchWithoutNotifications: on a database without LISTEN/NOTIFY the
// writes notify no one and Watch polls the revision counter; a write on one
// replica still reaches the other's watcher.
func TestWatchWithoutNotifications(t *testing.T) {
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	ctx := t.Context()
	var replicas [2]*postgres.Store
	for i := range replicas {
		s, err := postgres.OpenWithoutNotifications(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		replicas[i] = s
	}
	a, b := replicas[0], replicas[1]
	watch, err := b.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := a.CreateCluster(ctx, cluster(fmt.Sprint("c", i)), store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		d := waitSignal(t, watch, "write on replica a, polled by b")
		if _, err := b.GetCluster(ctx, "", fmt.Sprint("c", i)); err != nil {
			t.Errorf("replica b after the signal: %v", err)
		}
		t.Logf("signal after %v", d)
	}
}

// TestKnownRevisions: a replica knows the revisions its Watch signals
// announce, its own commits' and, from the notifications' payload, other
// replicas', IAM revision included, so that readers woken by a signal
// need not read them back.
func TestKnownRevisions(t *testing.T) {
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	a, b := pgtest.Open(t, dsn), pgtest.Open(t, dsn)
	ctx := t.Context()
	watchB, err := b.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// check waits for b's signal of a's last write, then compares what
	// each replica knows with the counter.
	check := func(what string) {
		t.Helper()
		waitSignal(t, watchB, what)
		rev, err := a.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		iamRev, err := a.IAMRevision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for name, s := range map[string]*postgres.Store{"writer": a, "listener": b} {
			gotRev, gotIAM, ok := s.KnownRevisions()
			if !ok || gotRev != rev || gotIAM != iamRev {
				t.Errorf("%s: %s knows (%d, %d, %v), want (%d, %d, true)", what, name, gotRev, gotIAM, ok, rev, iamRev)
			}
		}
	}
	if _, err := a.CreateCluster(ctx, cluster("c1"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	check("cluster created")
	if _, err := a.CreateAssociation(ctx, association("a-1", "c1", "ns", "sa"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	check("association created")
	if _, err := a.CreateRole(ctx, store.Role{Name: "r1", ARN: "arn:aws:iam::000000000000:role/r1", AssumeRolePolicy: `{"Version":"2012-10-17","Statement":[]}`}); err != nil {
		t.Fatal(err)
	}
	check("role created")
	if _, err := a.UpdateAssociation(ctx, "", "c1", "a-1", func(x *store.Association) error { x.Namespace = "ns2"; return nil }, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	check("association updated")
}

// TestRecentChangesAcrossReplicas: a replica's memory of its own commits
// (RecentChanges) stops answering once another replica's notification
// arrives, before its watchers are signalled, so that a reader woken for
// the other's write reads the feed, which has it; and stops answering
// across the other's revisions when this replica's next commit shows them.
// From that commit on it answers again.
func TestRecentChangesAcrossReplicas(t *testing.T) {
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	a, b := pgtest.Open(t, dsn), pgtest.Open(t, dsn)
	ctx := t.Context()
	watchA, err := a.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateCluster(ctx, cluster("c1"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	x1, err := a.CreateAssociation(ctx, association("a-1", "c1", "ns", "sa1"), store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if changes, through, ok := a.RecentChanges(x1.Revision - 1); !ok || through != x1.Revision || len(changes) != 1 || changes[0].AssociationID != x1.ID {
		t.Fatalf("RecentChanges(%d) = %v through %d, %v; want %s's creation", x1.Revision-1, changes, through, ok, x1.ID)
	}
	drain(watchA)
	y, err := b.CreateAssociation(ctx, association("a-2", "c1", "ns", "sa2"), store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A signal may be a late one of a's own commit; b's follows.
	deadline := time.Now().Add(signalDeadline)
	for {
		waitSignal(t, watchA, "b's create")
		if _, _, ok := a.RecentChanges(x1.Revision); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("RecentChanges(%d) still answers after b's create of %s was signalled", x1.Revision, y.ID)
		}
	}
	x2, err := a.CreateAssociation(ctx, association("a-3", "c1", "ns", "sa3"), store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if changes, through, ok := a.RecentChanges(x1.Revision); ok {
		t.Errorf("RecentChanges(%d) across b's create (revision %d) = %v through %d; want no answer", x1.Revision, y.Revision, changes, through)
	}
	if changes, through, ok := a.RecentChanges(x2.Revision - 1); !ok || through != x2.Revision || len(changes) != 1 || changes[0].AssociationID != x2.ID {
		t.Errorf("RecentChanges(%d) = %v through %d, %v; want %s's creation", x2.Revision-1, changes, through, ok, x2.ID)
	}
}

// A replica's own commits stay in its RecentChanges however their
// notifications race the writer: one may reach the listener before the
// writer has read COMMIT's answer, which must not count as another
// replica's commit (readers behind by a commit would reread the feed).
func TestRecentChangesSpanOwnCommits(t *testing.T) {
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	s := pgtest.Open(t, dsn)
	ctx := t.Context()
	if _, err := s.Watch(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateCluster(ctx, cluster("c1"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	a, err := s.CreateAssociation(ctx, association("a-1", "c1", "ns", "sa1"), store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 150
	missed := 0
	for i := range rounds {
		from := a.Revision
		for j := range 2 {
			a, err = s.UpdateAssociation(ctx, "", "c1", a.ID, func(a *store.Association) error {
				a.RoleARN = fmt.Sprint("arn:aws:iam::000000000000:role/r", i, "-", j)
				return nil
			}, store.WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
		}
		if changes, through, ok := s.RecentChanges(from); !ok || through != a.Revision || len(changes) != 2 {
			missed++
		}
	}
	if missed > 0 {
		t.Errorf("RecentChanges across two of the replica's own commits answered nothing %d times in %d", missed, rounds)
	}
}
