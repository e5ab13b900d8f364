package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/podid/podid/internal/privfs"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
	"github.com/podid/podid/internal/store/storetest"
)

func openWithClock(t *testing.T, now func() time.Time) *Store {
	t.Helper()
	s, err := open(t.Context(), filepath.Join(t.TempDir(), "podid.db"), now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func countRows(t *testing.T, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.rdb.QueryRowContext(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func testAssociation(id, sa string) store.Association {
	return store.Association{ID: id, ClusterName: "c1", Namespace: "ns", ServiceAccount: sa, RoleARN: "arn:aws:iam::000000000000:role/r"}
}

// TestExpiry runs the conformance suite's expiry cases on SQLite.
func TestExpiry(t *testing.T) {
	storetest.RunExpiry(t, func(t *testing.T, now func() time.Time) store.Store {
		return openWithClock(t, now)
	})
}

func TestPruneRemovesExpiredRecords(t *testing.T) {
	ctx := t.Context()
	c := storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := openWithClock(t, c.Now)
	if _, err := s.CreateCluster(ctx, store.Cluster{Name: "c1"}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		a, err := s.CreateAssociation(ctx, testAssociation(fmt.Sprintf("a-0000000000000000%d", i), fmt.Sprint("sa", i)),
			store.WriteOptions{Idempotency: &store.Idempotency{Key: fmt.Sprint("k", i), Hash: "h"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.DeleteAssociation(ctx, "", "c1", a.ID); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(12 * time.Hour)
	if err := s.prune(ctx); err != nil {
		t.Fatal(err)
	}
	if got := countRows(t, s, "idempotency"); got != 3 {
		t.Errorf("idempotency records after 12h = %d, want 3", got)
	}
	if got := countRows(t, s, "tombstones"); got != 3 {
		t.Errorf("tombstones after 12h = %d, want 3", got)
	}
	c.Advance(13 * time.Hour)
	if err := s.prune(ctx); err != nil {
		t.Fatal(err)
	}
	if got := countRows(t, s, "idempotency"); got != 0 {
		t.Errorf("idempotency records after 25h = %d, want 0", got)
	}
	if got := countRows(t, s, "tombstones"); got != 0 {
		t.Errorf("tombstones after 25h = %d, want 0", got)
	}
}

func TestCancelledWriteIsNotApplied(t *testing.T) {
	c := storetest.NewClock(time.Now())
	s := openWithClock(t, c.Now)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.CreateCluster(ctx, store.Cluster{Name: "c1"}, store.WriteOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("CreateCluster with a cancelled context: error = %v, want context.Canceled", err)
	}
	if _, err := s.GetCluster(t.Context(), "", "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetCluster after a cancelled create: error = %v, want ErrNotFound", err)
	}
}

func TestPanicInUpdateReachesTheCaller(t *testing.T) {
	ctx := t.Context()
	s := openWithClock(t, time.Now)
	if _, err := s.CreateCluster(ctx, store.Cluster{Name: "c1", Version: "1"}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("recovered %v, want the fn's panic value", v)
			}
		}()
		s.UpdateCluster(ctx, "", "c1", func(c *store.Cluster) error {
			c.Version = "2"
			panic("boom")
		})
	}()
	// The panicking write was rolled back and the writer still works.
	c, err := s.UpdateCluster(ctx, "", "c1", func(c *store.Cluster) error { c.RoleARN = "r"; return nil })
	if err != nil || c.Version != "1" {
		t.Errorf("UpdateCluster after a panic = version %q, %v; want 1, nil", c.Version, err)
	}
}

func TestCloseDuringWrites(t *testing.T) {
	ctx := t.Context()
	s, err := open(ctx, filepath.Join(t.TempDir(), "podid.db"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateCluster(ctx, store.Cluster{Name: "c1"}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	watch, err := s.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	acked := make(chan string, 8*50)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				id := fmt.Sprintf("a-%08d%09d", g, i)
				if _, err := s.CreateAssociation(ctx, testAssociation(id, id), store.WriteOptions{}); err != nil {
					return // closed
				}
				acked <- id
			}
		})
	}
	var ids []string
	for range 10 { // let some writes through first
		ids = append(ids, <-acked)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	wg.Wait()
	close(acked)
	if _, err := s.CreateCluster(ctx, store.Cluster{Name: "c2"}, store.WriteOptions{}); !errors.Is(err, errClosed) {
		t.Errorf("CreateCluster after Close: error = %v, want %v", err, errClosed)
	}
	if _, err := s.Watch(ctx); err == nil {
		t.Error("Watch after Close succeeded")
	}
	for range watch { // closed by Close; drains a pending signal
	}

	s, err = Open(ctx, s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for id := range acked {
		ids = append(ids, id)
	}
	for _, id := range ids {
		if _, err := s.GetAssociation(ctx, "", "c1", id); err != nil {
			t.Errorf("write %s acknowledged before Close is missing: %v", id, err)
		}
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "podid.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	err = s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)", len(migrations)+1)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(ctx, path); err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
}

func TestMigrationsRecorded(t *testing.T) {
	s := openWithClock(t, time.Now)
	if got := countRows(t, s, "schema_migrations"); got != len(migrations) {
		t.Errorf("schema_migrations has %d rows, want %d", got, len(migrations))
	}
}

// TestBatchRevisions runs batches of writes in one transaction, some of
// which reserve a revision (and some write a row) and then fail or panic:
// the writes that commit get consecutive revisions after the store's last
// one, meta.revision ends at the last of them, and the rows of the writes
// that failed are not stored while the others' are (a failure after a
// write makes the writer run the batch again without it).
func TestBatchRevisions(t *testing.T) {
	ctx := t.Context()
	s := openWithClock(t, time.Now)
	if _, err := s.CreateCluster(ctx, store.Cluster{Name: "c1"}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A second writer on the same file, driven from this goroutine so the
	// test decides what one batch holds.
	w := testWriter(t, s, false)

	errFail := errors.New("fails after reserving a revision")
	type step struct {
		fail, panics bool
		n            int  // revisions reserved
		writes       bool // inserts a row before failing or succeeding
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"all succeed", []step{{n: 1}, {n: 2}, {n: 1}}},
		{"middle fails", []step{{n: 1}, {n: 1, fail: true}, {n: 3}, {n: 1, panics: true}, {n: 1}}},
		{"first fails", []step{{n: 2, fail: true}, {n: 1}, {n: 1}}},
		{"only one fails", []step{{n: 1, fail: true}}},
		{"first panics", []step{{n: 1, panics: true}, {n: 2}}},
		{"last fails", []step{{n: 1}, {n: 1, fail: true}}},
		{"written then fails", []step{{n: 1, writes: true}, {n: 1, writes: true, fail: true}, {n: 2, writes: true},
			{n: 1, writes: true, panics: true}, {n: 1}, {n: 1, writes: true, fail: true}, {n: 1, writes: true}}},
		{"reserved first then fails", []step{{n: 0, writes: true}, {n: 1, fail: true}, {n: 1, writes: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, err := s.Revision(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]int64, len(tc.steps))
			var batch []*writeReq
			for i, st := range tc.steps {
				batch = append(batch, &writeReq{ctx: ctx, done: make(chan writeResult, 1), fn: func(tx *wtx) error {
					if st.n > 0 {
						first, err := tx.revisions(st.n)
						if err != nil {
							return err
						}
						got[i] = first
					}
					if st.writes {
						if _, err := tx.exec("INSERT INTO secrets (name, value, created_at) VALUES (?, x'00', 0)", fmt.Sprintf("%s/%d", tc.name, i)); err != nil {
							return err
						}
					}
					switch {
					case st.fail:
						return errFail
					case st.panics:
						panic("boom")
					}
					return nil
				}})
			}
			// Queued before the writer looks, they all join one
			// transaction, but for a failing first write, which is
			// rolled back alone (the rest start the next one).
			for _, req := range batch {
				w.reqs <- req
			}
			for len(w.reqs) > 0 {
				w.runBatch(<-w.reqs)
			}
			w.awaitSync()
			want := base
			for i, st := range tc.steps {
				res := <-batch[i].done
				switch {
				case st.fail:
					if res.err != errFail {
						t.Errorf("write %d: error %v, want %v", i, res.err, errFail)
					}
				case st.panics:
					if !res.panicked {
						t.Errorf("write %d: no panic reported", i)
					}
				default:
					if res.err != nil || res.panicked {
						t.Fatalf("write %d: %+v", i, res)
					}
					if st.n == 0 {
						break
					}
					if got[i] != want+1 {
						t.Errorf("write %d: first revision %d, want %d", i, got[i], want+1)
					}
					want += int64(st.n)
				}
			}
			if rev, err := s.Revision(ctx); err != nil || rev != want {
				t.Errorf("Revision() after the batch = %d, %v; want %d", rev, err, want)
			}
			for i, st := range tc.steps {
				var n int
				if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM secrets WHERE name = ?", fmt.Sprintf("%s/%d", tc.name, i)).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if want := st.writes && !st.fail && !st.panics; (n == 1) != want {
					t.Errorf("write %d: %d rows stored, want stored = %t", i, n, want)
				}
			}
		})
	}
}

// TestPruneKeepsLiveRecordsAcrossClockSteps: records are pruned in the
// order they were written; when the clock stepped back between two of them
// the older-looking one is pruned late, never a live one early.
func TestPruneKeepsLiveRecordsAcrossClockSteps(t *testing.T) {
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := storetest.NewClock(t0)
	s := openWithClock(t, c.Now)
	create := func(name string) store.Cluster {
		t.Helper()
		cl, err := s.CreateCluster(ctx, store.Cluster{Name: name}, store.WriteOptions{Idempotency: &store.Idempotency{Key: "CreateCluster/" + name, Hash: "h"}})
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	create("a")                              // written at t0
	c.Advance(-time.Hour)                    // the clock steps back
	create("b")                              // written second, stamped t0-1h
	c.Advance(24*time.Hour + 30*time.Minute) // t0+23h30: a live, b expired
	if err := s.prune(ctx); err != nil {
		t.Fatal(err)
	}
	if got := countRows(t, s, "idempotency"); got != 2 {
		t.Errorf("records after the first prune = %d, want 2 (b waits behind the live a)", got)
	}
	if got, err := s.CreateCluster(ctx, store.Cluster{Name: "other"}, store.WriteOptions{Idempotency: &store.Idempotency{Key: "CreateCluster/a", Hash: "h"}}); err != nil || got.Name != "a" {
		t.Errorf("replay of a's token after pruning = %q, %v; want cluster a", got.Name, err)
	}
	c.Advance(time.Hour) // both expired
	if err := s.prune(ctx); err != nil {
		t.Fatal(err)
	}
	if got := countRows(t, s, "idempotency"); got != 0 {
		t.Errorf("records after both expired = %d, want 0", got)
	}
}

// atVersion makes a database at schema version n, as an older podid left
// it, and returns its path and a connection (the caller closes it).
func atVersion(t *testing.T, n int) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "podid.db")
	if err := privfs.Touch(path); err != nil { // as podid made it
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= n; v++ {
		if err := applyMigration(t.Context(), db, v, migrations[v-1]); err != nil {
			t.Fatal(err)
		}
	}
	return path, db
}

// migrated closes db, a database atVersion left at an older schema with
// the rows a test put in, and opens it as podid does, migrating it.
func migrated(t *testing.T, db *sql.DB, path string) *Store {
	t.Helper()
	db.Close()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestMigrateIdempotencyRecords opens a database at schema version 1 with a
// token record: migration 2 keeps the record, which still replays.
func TestMigrateIdempotencyRecords(t *testing.T) {
	ctx := t.Context()
	path, db := atVersion(t, 1)
	first, err := json.Marshal(store.Cluster{Name: "c1", Tags: map[string]string{}, Revision: 7})
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.ExecContext(ctx, "INSERT INTO idempotency (key, hash, result, created_at) VALUES (?, ?, ?, ?)",
		"CreateCluster/c1/tok", "h1", first, time.Now().UnixMicro())
	if err != nil {
		t.Fatal(err)
	}
	s := migrated(t, db, path)
	got, err := s.CreateCluster(ctx, store.Cluster{Name: "c1"}, store.WriteOptions{Idempotency: &store.Idempotency{Key: "CreateCluster/c1/tok", Hash: "h1"}})
	if err != nil || got.Revision != 7 {
		t.Errorf("replay after migration = revision %d, %v; want the stored record (revision 7)", got.Revision, err)
	}
	_, err = s.CreateCluster(ctx, store.Cluster{Name: "c1"}, store.WriteOptions{Idempotency: &store.Idempotency{Key: "CreateCluster/c1/tok", Hash: "h2"}})
	if !errors.Is(err, store.ErrIdempotencyMismatch) {
		t.Errorf("reuse with other parameters after migration: %v, want ErrIdempotencyMismatch", err)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}

// TestMigrationAddsPodidIssuerURL: a database written by a podid from
// before clusters kept their own issuer URL (schema version 2) opens with
// its clusters intact and that URL empty, for the server to backfill.
func TestMigrationAddsPodidIssuerURL(t *testing.T) {
	ctx := t.Context()
	path, db := atVersion(t, 2)
	if _, err := db.ExecContext(ctx, `INSERT INTO clusters (name, created_at, version, role_arn, client_request_token, config, tags,
	issuer_url, issuer_jwks_url, issuer_jwks, issuer_signing_keys, revision)
	VALUES ('old', 0, '1.31', 'arn:aws:iam::000000000000:role/eks', '', NULL, '{}', '', '', NULL, '{"keys":[]}', 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s2, err := open(ctx, path, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	storetest.CheckMigratedCluster(t, s2, "old")
}

// TestMigrateAuditEvents: events stored before the audit table was ordered
// by insertion (schema version 6) are all there after migration 7, found
// by ID, attribute and resource, newest first; a retried append of one of
// them stores it once.
func TestMigrateAuditEvents(t *testing.T) {
	ctx := t.Context()
	path, db := atVersion(t, 6)
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var old []store.Event
	for i := range 5 {
		e := store.Event{
			ID: fmt.Sprintf("%02d-old", 5-i), Time: base.Add(time.Duration(i) * time.Second), Name: "UpdatePodIdentityAssociation",
			Source: "eks.amazonaws.com", Username: "admin", AccessKeyID: "AKIAOLD",
			Resources: []store.EventResource{{Type: "AWS::EKS::Cluster", Name: fmt.Sprint("cluster-", i%2)}},
			Record:    []byte(fmt.Sprintf(`{"n":%d}`, i)),
		}
		old = append(old, e)
		args, err := storecore.AppendAuditInsertArgs(nil, e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, storecore.AuditInsert(storecore.Question, 1), args...); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO audit_resources (event_id, time_us, type, name) VALUES (?, ?, ?, ?)", e.ID, storecore.Micros(e.Time), e.Resources[0].Type, e.Resources[0].Name); err != nil {
			t.Fatal(err)
		}
	}
	s := migrated(t, db, path)
	if err := s.AppendEvents(ctx, old[:1]); err != nil {
		t.Fatalf("appending a migrated event again: %v", err)
	}
	ids := func(q store.EventQuery) []string {
		t.Helper()
		q.Limit = 10
		evs, _, err := s.LookupEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	if got, want := ids(store.EventQuery{}), []string{"01-old", "02-old", "03-old", "04-old", "05-old"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("all events = %v, want %v (newest first)", got, want)
	}
	if got, want := ids(store.EventQuery{Attribute: store.EventAttrEventID, Value: "03-old"}), []string{"03-old"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("by ID = %v, want %v", got, want)
	}
	if got, want := ids(store.EventQuery{Attribute: store.EventAttrResourceName, Value: "cluster-1"}), []string{"02-old", "04-old"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("by resource = %v, want %v", got, want)
	}
	if got, want := ids(store.EventQuery{Attribute: store.EventAttrResourceType, Value: "AWS::EKS::Cluster"}), []string{"01-old", "02-old", "03-old", "04-old", "05-old"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("by resource type = %v, want %v", got, want)
	}
	if n := countRows(t, s, "audit_keys"); n != 10 {
		t.Errorf("%d resource keys, want 10 (a name and a type per event)", n)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}

// TestMigrationAddsRegions: a database written by a podid from before
// clusters had regions (schema version 7) opens with its clusters,
// associations and tombstones intact and region-less, for the server to
// adopt into its --region; the rebuilt tables keep their keys, foreign
// key and association counts.
func TestMigrationAddsRegions(t *testing.T) {
	ctx := t.Context()
	path, db := atVersion(t, 7)
	for _, q := range []string{
		`INSERT INTO clusters (name, created_at, version, role_arn, client_request_token, config, tags,
	issuer_url, issuer_jwks_url, issuer_jwks, issuer_signing_keys, revision, issuer_podid_url)
	VALUES ('old', 0, '1.31', 'arn:aws:iam::000000000000:role/eks', '', NULL, '{}', '', '', NULL, '{"keys":[]}', 1, 'http://127.0.0.1:8080/clusters-oidc/old')`,
		`INSERT INTO associations (cluster_name, id, namespace, service_account, role_arn, target_role_arn, external_id,
	policy, disable_session_tags, owner_arn, tags, created_at, modified_at, revision)
	VALUES ('old', 'a-old00000000000001', 'ns', 'sa', 'arn:aws:iam::000000000000:role/r', '', '', '', 0, '', '{}', 0, 0, 2)`,
		`INSERT INTO tombstones (revision, cluster_name, id, deleted_at) VALUES (3, 'old', 'a-old00000000000002', 0)`,
		`UPDATE meta SET revision = 3`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := open(ctx, path, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.associationCount(ctx, "", "old"); err != nil || n != 1 {
		t.Errorf("association count after the migration = %d, %v; want 1", n, err)
	}
	storetest.CheckMigratedRegions(t, s, "old", "a-old00000000000001")
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}

// TestMigrationAuditKeys: events stored with audit_resources rows (schema
// version 8) are found by resource name and type after migration 9, and
// pruning takes their keys along.
func TestMigrationAuditKeys(t *testing.T) {
	ctx := t.Context()
	path, db := atVersion(t, 8)
	for i := range 4 {
		if _, err := db.ExecContext(ctx, fmt.Sprintf(`INSERT INTO audit_events (event_id, time_us, name, source, read_only, username, access_key_id, resources, record)
	VALUES ('ev-%d', %d, 'AssumeRoleForPodIdentity', 'eks-auth.amazonaws.com', 0, 'node', 'ASIANODE',
	'[{"Type":"AWS::EKS::Cluster","Name":"c%d"},{"Type":"AWS::IAM::Role","Name":"r"}]', '{}');
	INSERT INTO audit_resources (event_id, time_us, type, name) VALUES
	('ev-%d', %d, 'AWS::EKS::Cluster', 'c%d'), ('ev-%d', %d, 'AWS::IAM::Role', 'r')`, i, 1000000*(i+1), i%2, i, 1000000*(i+1), i%2, i, 1000000*(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	s := migrated(t, db, path)
	storetest.CheckMigratedAuditKeys(t, s, time.UnixMicro(0), "ev-")
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}

// TestMigrationAuditKeyBuckets: 600 events stored with audit_keys of
// schema version 9 (by kind and value) are found after migration 10 (keys
// by bucket first) by resource name across the buckets, page by page, and
// so are events appended after it; pruning takes the pruned events' keys.
func TestMigrationAuditKeyBuckets(t *testing.T) {
	ctx := t.Context()
	path, db := atVersion(t, 9)
	const n = storetest.MigratedKeyBucketEvents
	for i := range n {
		rare := fmt.Sprintf("a%d", i)
		if i%100 == 7 {
			rare = "rare"
		}
		if _, err := db.ExecContext(ctx, fmt.Sprintf(`INSERT INTO audit_events (event_id, time_us, name, source, read_only, username, access_key_id, resources, record)
	VALUES ('ev-%04d', %d, 'UpdatePodIdentityAssociation', 'eks.amazonaws.com', 0, 'root', 'AKIA', '[{"Type":"T","Name":"%s"}]', '{}');
	INSERT INTO audit_keys (kind, value, time_us, event_id) VALUES ('name', '%s', %d, 'ev-%04d'), ('type', 'T', %d, 'ev-%04d')`,
			i, i+1, rare, rare, i+1, i, i+1, i)); err != nil {
			t.Fatal(err)
		}
	}
	s := migrated(t, db, path)
	storetest.CheckMigratedAuditKeyBuckets(t, s)
	var keys int
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM audit_keys").Scan(&keys); err != nil || keys != 2*(n+1-299) {
		t.Errorf("audit_keys holds %d rows (%v), want %d", keys, err, 2*(n+1-299))
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}

// TestAppendEventsKeyBuckets: every key AppendEvents stores is in its
// event's bucket and every event has its keys, whether the bucket came
// from the insert's rowids (all of a chunk stored) or from the table
// (some stored already), across chunk and bucket boundaries, after
// pruning, with the largest seq's row pruned first.
func TestAppendEventsKeyBuckets(t *testing.T) {
	ctx := t.Context()
	s := openWithClock(t, time.Now)
	event := func(i int) store.Event {
		return store.Event{ID: fmt.Sprintf("ev-%05d", i), Time: time.UnixMicro(int64(1000 + i)), Name: "n", Source: "s",
			Resources: []store.EventResource{{Type: "T", Name: fmt.Sprint("r", i%3)}, {Type: "U", Name: fmt.Sprint("u", i)}, {Type: "T", Name: "dup"}, {Type: "T", Name: "dup"}},
			Record:    []byte("{}")}
	}
	var batch []store.Event
	for i := range 700 {
		batch = append(batch, event(i))
		if len(batch) == 97 || i == 699 {
			if err := s.AppendEvents(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
	// A retried batch (all stored), one half stored, one with a repeat.
	for _, b := range [][]store.Event{{event(5), event(6)}, {event(7), event(700), event(8), event(701)}, {event(702), event(702), event(703)}} {
		if err := s.AppendEvents(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PruneEvents(ctx, time.UnixMicro(1000+300), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.exec("DELETE FROM audit_keys WHERE seq = (SELECT seq FROM audit_events WHERE event_id = 'ev-00703'); DELETE FROM audit_events WHERE event_id = 'ev-00703'")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var more []store.Event
	for i := 704; i < 800; i++ {
		more = append(more, event(i))
	}
	if err := s.AppendEvents(ctx, more); err != nil {
		t.Fatal(err)
	}
	var wrong, missing, keys int
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM audit_keys k LEFT JOIN audit_events e ON e.seq = k.seq WHERE e.seq IS NULL OR k.bucket != e.seq >> 8").Scan(&wrong); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM audit_events e WHERE (SELECT count(*) FROM audit_keys k WHERE k.bucket = e.seq >> 8 AND k.seq = e.seq) != 5").Scan(&missing); err != nil {
		t.Fatal(err)
	}
	if wrong != 0 || missing != 0 {
		t.Errorf("%d keys of no event or outside their event's bucket, %d events without their 5 keys", wrong, missing)
	}
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM audit_keys").Scan(&keys); err != nil || keys != 5*countRows(t, s, "audit_events") {
		t.Errorf("audit_keys holds %d rows (%v), want 5 per event", keys, err)
	}
	got, _, err := s.LookupEvents(ctx, store.EventQuery{Attribute: store.EventAttrResourceName, Value: "u799", Limit: 5})
	if err != nil || len(got) != 1 || got[0].ID != "ev-00799" {
		t.Errorf("lookup u799 = %v, %v; want ev-00799", got, err)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}

// TestMigrationAuditKeySeqs: 600 events stored with audit_keys of schema
// version 11 (naming their event by time and ID) are found after migration
// 12 (by seq) by resource name across the buckets, page by page, and so
// are events appended after it; pruning takes the pruned events' keys.
func TestMigrationAuditKeySeqs(t *testing.T) {
	ctx := t.Context()
	path, db := atVersion(t, 11)
	const n = storetest.MigratedKeyBucketEvents
	for i := range n {
		rare := fmt.Sprintf("a%d", i)
		if i%100 == 7 {
			rare = "rare"
		}
		bucket := (i + 1) >> keyBucketShift // seq i+1
		if _, err := db.ExecContext(ctx, fmt.Sprintf(`INSERT INTO audit_events (seq, event_id, time_us, name, source, read_only, username, access_key_id, resources, record)
	VALUES (%d, 'ev-%04d', %d, 'UpdatePodIdentityAssociation', 'eks.amazonaws.com', 0, 'root', 'AKIA', '[{"Type":"T","Name":"%s"}]', '{}');
	INSERT INTO audit_keys (bucket, kind, value, time_us, event_id) VALUES (%d, 'name', '%s', %d, 'ev-%04d'), (%d, 'type', 'T', %d, 'ev-%04d')`,
			i+1, i, i+1, rare, bucket, rare, i+1, i, bucket, i+1, i)); err != nil {
			t.Fatal(err)
		}
	}
	s := migrated(t, db, path)
	var keys int
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM audit_keys k JOIN audit_events e ON e.seq = k.seq AND k.bucket = e.seq >> 8").Scan(&keys); err != nil || keys != 2*n {
		t.Errorf("after migration audit_keys holds %d rows of their events (%v), want %d", keys, err, 2*n)
	}
	storetest.CheckMigratedAuditKeyBuckets(t, s)
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM audit_keys").Scan(&keys); err != nil || keys != 2*(n+1-299) {
		t.Errorf("audit_keys holds %d rows (%v), want %d", keys, err, 2*(n+1-299))
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}
