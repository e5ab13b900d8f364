package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/postgres"
	"github.com/podid/podid/internal/store/postgres/pgtest"
	"github.com/podid/podid/internal/store/storetest"
)

func openWithClock(t *testing.T, dsn string, now func() time.Time) *postgres.Store {
	t.Helper()
	s, err := postgres.OpenWithClock(t.Context(), dsn, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func countRows(t *testing.T, dsn, table string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestExpiry runs the conformance suite's expiry cases on PostgreSQL.
func TestExpiry(t *testing.T) {
	storetest.RunExpiry(t, func(t *testing.T, now func() time.Time) store.Store {
		return openWithClock(t, pgtest.Schema(t, pgtest.DSN(t)), now)
	})
}

func TestPruneRemovesExpiredRecords(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	c := storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := openWithClock(t, dsn, c.Now)
	if _, err := s.CreateCluster(ctx, cluster("c1"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		a, err := s.CreateAssociation(ctx, association(fmt.Sprintf("a-0000000000000000%d", i), "c1", "ns", fmt.Sprint("sa", i)),
			store.WriteOptions{Idempotency: &store.Idempotency{Key: fmt.Sprint("k", i), Hash: "h"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.DeleteAssociation(ctx, "", "c1", a.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		advance time.Duration
		want    int
	}{{12 * time.Hour, 3}, {13 * time.Hour, 0}} {
		c.Advance(step.advance)
		if err := s.Prune(ctx); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"idempotency", "tombstones"} {
			if got := countRows(t, dsn, table); got != step.want {
				t.Errorf("%s rows after %v more = %d, want %d", table, step.advance, got, step.want)
			}
		}
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	pgtest.Open(t, dsn)
	if got := countRows(t, dsn, "schema_migrations"); got != postgres.Migrations {
		t.Errorf("schema_migrations has %d rows, want %d", got, postgres.Migrations)
	}
	pgtest.Exec(t, dsn, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", postgres.Migrations+1)
	if s, err := postgres.Open(t.Context(), dsn); err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
}

// TestMigrationAddsPodidIssuerURL: a database written by a podid from
// before clusters kept their own issuer URL (schema version 1) opens with
// its clusters intact and that URL empty, for the server to backfill.
func TestMigrationAddsPodidIssuerURL(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	if err := postgres.MigrateTo(ctx, dsn, 1); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, dsn, `INSERT INTO clusters (name, created_at, version, role_arn, client_request_token, config, tags,
	issuer_url, issuer_jwks_url, issuer_jwks, issuer_signing_keys, revision)
	VALUES ('old', 0, '1.31', 'arn:aws:iam::000000000000:role/eks', '', NULL, '{}', '', '', NULL, '{"keys":[]}', 1)`)
	s := pgtest.Open(t, dsn)
	storetest.CheckMigratedCluster(t, s, "old")
}

// TestMigrationAddsRegions: a database written by a podid from before
// clusters had regions (schema version 5) opens with its clusters,
// associations and tombstones intact and region-less, for the server to
// adopt into its --region.
func TestMigrationAddsRegions(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	if err := postgres.MigrateTo(ctx, dsn, 5); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, dsn, `INSERT INTO clusters (name, created_at, version, role_arn, client_request_token, config, tags,
	issuer_url, issuer_jwks_url, issuer_jwks, issuer_signing_keys, revision, issuer_podid_url, association_count)
	VALUES ('old', 0, '1.31', 'arn:aws:iam::000000000000:role/eks', '', NULL, '{}', '', '', NULL, '{"keys":[]}', 1, 'http://127.0.0.1:8080/clusters-oidc/old', 1)`)
	pgtest.Exec(t, dsn, `INSERT INTO associations (cluster_name, id, namespace, service_account, role_arn, target_role_arn, external_id,
	policy, disable_session_tags, owner_arn, tags, created_at, modified_at, revision)
	VALUES ('old', 'a-old00000000000001', 'ns', 'sa', 'arn:aws:iam::000000000000:role/r', '', '', '', false, '', '{}', 0, 0, 2)`)
	pgtest.Exec(t, dsn, `INSERT INTO tombstones (revision, cluster_name, id, deleted_at) VALUES (3, 'old', 'a-old00000000000002', 0)`)
	pgtest.Exec(t, dsn, `UPDATE revision_counter SET revision = 3`)
	s := pgtest.Open(t, dsn)
	storetest.CheckMigratedRegions(t, s, "old", "a-old00000000000001")
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}

// TestMigrationAuditKeys: events stored with audit_resources rows (schema
// version 6) are found by resource name and type after migration 7, and
// a retried append of one of them stores it once; pruning takes their
// keys along.
func TestMigrationAuditKeys(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	if err := postgres.MigrateTo(ctx, dsn, 6); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		pgtest.Exec(t, dsn, fmt.Sprintf(`INSERT INTO audit_events (event_id, time_us, name, source, read_only, username, access_key_id, resources, record)
	VALUES ('ev-%d', %d, 'AssumeRoleForPodIdentity', 'eks-auth.amazonaws.com', false, 'node', 'ASIANODE',
	'[{"Type":"AWS::EKS::Cluster","Name":"c%d"},{"Type":"AWS::IAM::Role","Name":"r"}]', '{}')`, i, 1000000*(i+1), i%2))
		pgtest.Exec(t, dsn, fmt.Sprintf(`INSERT INTO audit_resources (event_id, time_us, type, name) VALUES
	('ev-%d', %d, 'AWS::EKS::Cluster', 'c%d'), ('ev-%d', %d, 'AWS::IAM::Role', 'r')`, i, 1000000*(i+1), i%2, i, 1000000*(i+1)))
	}
	s := pgtest.Open(t, dsn)
	storetest.CheckMigratedAuditKeys(t, s, time.UnixMicro(0), "ev-")
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}

// TestMigrationAuditKeyBuckets: 600 events stored with audit_keys of
// schema version 7 (by kind and value) are found after migration 8 (keys
// by bucket first) by a rare resource name across the buckets and by a
// type every event has (the frequent value's probe), page by page, and so
// is an event appended after it (storetest.CheckMigratedAuditKeyBuckets);
// pruning takes the pruned events (and, since migration 11, their keys
// with them).
func TestMigrationAuditKeyBuckets(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	if err := postgres.MigrateTo(ctx, dsn, 7); err != nil {
		t.Fatal(err)
	}
	// Event i (ev-0000 ...) at time i+1 names resource "rare" when
	// i%100 == 7, else "a<i>", of type T.
	const n = storetest.MigratedKeyBucketEvents
	const name = `CASE WHEN i % 100 = 7 THEN 'rare' ELSE 'a' || i END`
	const id = `'ev-' || lpad(i::text, 4, '0')`
	pgtest.Exec(t, dsn, `INSERT INTO audit_events (event_id, time_us, name, source, read_only, username, access_key_id, resources, record)
	SELECT `+id+`, i + 1, 'UpdatePodIdentityAssociation', 'eks.amazonaws.com', false, 'root', 'AKIA',
		'[{"Type":"T","Name":"' || `+name+` || '"}]', '{}'
	FROM generate_series(0, $1 - 1) AS i`, n)
	pgtest.Exec(t, dsn, `INSERT INTO audit_keys (kind, value, time_us, event_id)
	SELECT 'name', `+name+`, i + 1, `+id+` FROM generate_series(0, $1 - 1) AS i
	UNION ALL SELECT 'type', 'T', i + 1, `+id+` FROM generate_series(0, $1 - 1) AS i`, n)
	s := pgtest.Open(t, dsn)
	storetest.CheckMigratedAuditKeyBuckets(t, s)
	if events := countRows(t, dsn, "audit_events"); events != n+1-299 {
		t.Errorf("audit_events holds %d rows, want %d", events, n+1-299)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}

// TestMigrationRevisionBuckets: associations stored before the feed read
// them by revision_bucket (schema version 8), 3,000 across four buckets
// with revisions in the reverse order of their IDs, and a tombstone come
// back from ChangesSince after migration 9 page by page in revision order,
// each once, from the start and from a revision inside a bucket; an
// association updated after it moves to the feed's end.
func TestMigrationRevisionBuckets(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	if err := postgres.MigrateTo(ctx, dsn, 8); err != nil {
		t.Fatal(err)
	}
	const n = 3000
	pgtest.Exec(t, dsn, `INSERT INTO clusters (region, name, created_at, version, role_arn, client_request_token, tags,
	issuer_url, issuer_jwks_url, revision, association_count)
	VALUES ('us-east-1', 'old', 0, '1.31', 'arn:aws:iam::000000000000:role/eks', '', '{}', '', '', 1, $1)`, n)
	pgtest.Exec(t, dsn, `INSERT INTO associations (region, cluster_name, id, namespace, service_account, role_arn, target_role_arn,
	external_id, policy, disable_session_tags, owner_arn, tags, created_at, modified_at, revision)
	SELECT 'us-east-1', 'old', 'a-' || lpad(i::text, 17, '0'), 'ns', 'sa-' || i, 'arn:aws:iam::000000000000:role/r', '', '', '',
		false, '', '{}', 0, 0, $1 + 2 - i
	FROM generate_series(1, $1) AS i`, n)
	pgtest.Exec(t, dsn, `INSERT INTO tombstones (revision, region, cluster_name, id, deleted_at)
	VALUES ($1, 'us-east-1', 'old', 'a-gone', (extract(epoch FROM now()) * 1e6)::bigint)`, n+2) // young: not pruned
	pgtest.Exec(t, dsn, `UPDATE revision_counter SET revision = $1`, n+2)
	s := pgtest.Open(t, dsn)

	// feed reads every change after after, in pages of 700.
	feed := func(after int64) []int64 {
		t.Helper()
		var revs []int64
		for range n {
			page, err := s.ChangesSince(ctx, after, 700)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				revs = append(revs, c.Revision)
				after = c.Revision
			}
			if len(page) < 700 {
				return revs
			}
		}
		t.Fatal("the feed does not end")
		return nil
	}
	want := func(from, through int64) []int64 {
		var revs []int64
		for r := from; r <= through; r++ {
			revs = append(revs, r)
		}
		return revs
	}
	if diff := cmp.Diff(feed(0), want(2, n+2)); diff != "" {
		t.Errorf("ChangesSince from 0 (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(feed(1500), want(1501, n+2)); diff != "" {
		t.Errorf("ChangesSince from 1500 (-got +want):\n%s", diff)
	}
	id := fmt.Sprintf("a-%017d", n) // revision 2, the oldest
	for i := range 3 {
		if _, err := s.UpdateAssociation(ctx, "us-east-1", "old", id, func(a *store.Association) error {
			a.RoleARN = fmt.Sprint("arn:aws:iam::000000000000:role/u", i)
			return nil
		}, store.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(feed(0), append(want(3, n+2), n+5)); diff != "" {
		t.Errorf("ChangesSince from 0 after updates (-got +want):\n%s", diff)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}

// TestMigrationAuditKeysInRows: events stored with audit_keys rows (schema
// version 10), with a resource name every hundredth event has, a type
// every event has and four users, are found after migration 11 (keys in
// the events' rows, computed in SQL) by every attribute with a key, each
// value page by page, newest first, as the keys Go computes for a lookup
// find them; an event appended after it is found beside them, a name the
// key of another value does not find, and pruning leaves the rest
// findable.
func TestMigrationAuditKeysInRows(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	if err := postgres.MigrateTo(ctx, dsn, 10); err != nil {
		t.Fatal(err)
	}
	// Event i (ev-0000 ...) at time i+1 names resource "rare" when
	// i%100 == 7, else "a<i>", of type T, and is user-<i%4>'s.
	const n = 600
	const name = `CASE WHEN i % 100 = 7 THEN 'rare' ELSE 'a' || i END`
	pgtest.Exec(t, dsn, `INSERT INTO audit_events (event_id, time_us, name, source, read_only, username, access_key_id, resources, record, seq)
	SELECT 'ev-' || lpad(i::text, 4, '0'), i + 1, 'UpdatePodIdentityAssociation', 'eks.amazonaws.com', false, 'user-' || (i % 4),
		'AKIA' || (i % 4), '[{"Type":"T","Name":"' || `+name+` || '"}]', '{}', i + 1
	FROM generate_series(0, $1 - 1) AS i`, n)
	pgtest.Exec(t, dsn, `SELECT setval('audit_events_seq', $1 + 1, false)`, n)
	pgtest.Exec(t, dsn, `INSERT INTO audit_keys (bucket, kind, value, seq)
	SELECT (i + 1) >> 10, 'name', `+name+`, i + 1 FROM generate_series(0, $1 - 1) AS i
	UNION ALL SELECT (i + 1) >> 10, 'type', 'T', i + 1 FROM generate_series(0, $1 - 1) AS i`, n)
	s := pgtest.Open(t, dsn)
	later := store.Event{ID: "ev-9999", Time: time.UnixMicro(n + 1), Name: "UpdatePodIdentityAssociation", Source: "eks.amazonaws.com",
		Username: "user-3", AccessKeyID: "AKIA3", Resources: []store.EventResource{{Type: "T", Name: "rare"}}, Record: []byte("{}")}
	if err := s.AppendEvents(ctx, []store.Event{later}); err != nil {
		t.Fatal(err)
	}
	limit := 40
	all := func(attr, value string) []string {
		t.Helper()
		return storetest.LookupAll(t, s, attr, value, limit)
	}
	// want are the IDs of the events from n-1 down to 0 that keep, and
	// the later one first.
	want := func(keep func(i int) bool) []string {
		ids := []string{later.ID}
		for i := n - 1; i >= 0; i-- {
			if keep(i) {
				ids = append(ids, fmt.Sprintf("ev-%04d", i))
			}
		}
		return ids
	}
	every := func(int) bool { return true }
	check := func(setting string) {
		t.Helper()
		for _, c := range []struct {
			attr, value string
			want        []string
		}{
			{store.EventAttrResourceName, "rare", want(func(i int) bool { return i%100 == 7 })},
			{store.EventAttrResourceType, "T", want(every)},
			{store.EventAttrEventName, "UpdatePodIdentityAssociation", want(every)},
			{store.EventAttrEventSource, "eks.amazonaws.com", want(every)},
			{store.EventAttrUsername, "user-3", want(func(i int) bool { return i%4 == 3 })},
			{store.EventAttrAccessKeyID, "AKIA3", want(func(i int) bool { return i%4 == 3 })},
			{store.EventAttrResourceName, "a8", want(func(i int) bool { return i == 8 })[1:]},
			{store.EventAttrResourceName, "T", nil},
			{store.EventAttrUsername, "user-4", nil},
		} {
			if diff := cmp.Diff(all(c.attr, c.value), c.want); diff != "" {
				t.Errorf("%s %q after migration, %s (-got +want):\n%s", c.attr, c.value, setting, diff)
			}
		}
	}
	check("default")
	// Pages of 3 and a sample of the newest 8: the rare name's pages
	// (none in the sample) and user-3's (two) come from the index, page
	// after page after a cursor; the type's walk.
	limit = 3
	postgres.SetRecentEvents(t, 8)
	check("sample 8, pages of 3")
	if got, err := s.PruneEvents(ctx, time.UnixMicro(300), 0); err != nil || got != 299 {
		t.Fatalf("PruneEvents = %d, %v; want 299", got, err)
	}
	if diff := cmp.Diff(all(store.EventAttrResourceName, "rare"), want(func(i int) bool { return i%100 == 7 && i >= 299 })); diff != "" {
		t.Errorf("by name after pruning (-got +want):\n%s", diff)
	}
}

// TestMigrationIdempotencyBRIN: client request tokens remembered before
// pruning read idempotency by a BRIN index (schema version 11), 3,000 of
// them over 30 hours, are pruned after migration 12 as before, the
// expired ones and no others, beside records written after it; a kept
// token still replays its result.
func TestMigrationIdempotencyBRIN(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	if err := postgres.MigrateTo(ctx, dsn, 11); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 3000 // record i created at start + i*36 s: the last at 29h59m24s
	pgtest.Exec(t, dsn, `INSERT INTO idempotency (key, hash, result, created_at)
	SELECT 'k' || i, 'h', convert_to('{"ID":"a-' || i || '"}', 'UTF8'), $1 + i * 36000000::bigint FROM generate_series(0, $2 - 1) AS i`, start.UnixMicro(), n)
	c := storetest.NewClock(start.Add(30 * time.Hour))
	s := openWithClock(t, dsn, c.Now)
	if _, err := s.CreateCluster(ctx, cluster("c1"), store.WriteOptions{Idempotency: &store.Idempotency{Key: "new", Hash: "h"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	// Expired: created before 6h, records 0-599 (600 is at 6h exactly).
	if got, want := countRows(t, dsn, "idempotency"), n-600+1; got != want {
		t.Errorf("idempotency rows after pruning = %d, want %d", got, want)
	}
	var kept int
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM idempotency WHERE key IN ('k599', 'k600', 'k2999', 'new')").Scan(&kept); err != nil || kept != 3 {
		t.Errorf("kept of k599, k600, k2999, new: %d, %v; want 3 (all but k599)", kept, err)
	}
	a, err := s.CreateAssociation(ctx, association("a-00000000000000001", "c1", "ns", "sa"),
		store.WriteOptions{Idempotency: &store.Idempotency{Key: "k2999", Hash: "h"}})
	if err != nil || a.ID != "a-2999" {
		t.Errorf("CreateAssociation with token k2999 = %s, %v; want the replayed a-2999", a.ID, err)
	}
	c.Advance(24 * time.Hour)
	if err := s.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if got := countRows(t, dsn, "idempotency"); got != 1 {
		t.Errorf("idempotency rows a day later = %d, want 1 (the new one)", got)
	}
}
