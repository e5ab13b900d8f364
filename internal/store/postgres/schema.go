package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/podid/podid/internal/store/storecore"
)

// migrationLock is the advisory lock key every migration transaction takes,
// so replicas starting at once apply each migration exactly once. Advisory
// locks are per database; stores in different schemas of one database only
// wait for each other briefly.
const migrationLock int64 = 0x706f646964 // "podid"

// migrations is the ordered schema history. Append only: a database records
// the versions it has applied in schema_migrations, and each runs once, in
// its own transaction.
//
// Times are microseconds since the Unix epoch (bigint), as in the SQLite
// backend, so both round-trip the same values. Keys compare bytewise
// (COLLATE "C") so listings order as Go strings do, whatever the database's
// default collation is.
var migrations = []string{
	// 1: the initial schema.
	`
CREATE TABLE revision_counter (
	id       integer PRIMARY KEY CHECK (id = 1),
	revision bigint NOT NULL -- the store-wide revision counter
);
INSERT INTO revision_counter (id, revision) VALUES (1, 0);

CREATE TABLE clusters (
	name                 text COLLATE "C" PRIMARY KEY,
	created_at           bigint NOT NULL,
	version              text NOT NULL,
	role_arn             text NOT NULL,
	client_request_token text NOT NULL,
	config               bytea,
	tags                 jsonb NOT NULL,
	issuer_url           text NOT NULL,
	issuer_jwks_url      text NOT NULL,
	issuer_jwks          bytea,
	issuer_signing_keys  bytea,
	association_count    integer NOT NULL DEFAULT 0,
	revision             bigint NOT NULL
);

-- A page of a cluster's associations is one range scan of the primary key.
CREATE TABLE associations (
	cluster_name         text COLLATE "C" NOT NULL REFERENCES clusters (name),
	id                   text COLLATE "C" NOT NULL,
	namespace            text COLLATE "C" NOT NULL,
	service_account      text COLLATE "C" NOT NULL,
	role_arn             text NOT NULL,
	target_role_arn      text NOT NULL,
	external_id          text NOT NULL,
	policy               text NOT NULL,
	disable_session_tags boolean NOT NULL,
	owner_arn            text NOT NULL,
	tags                 jsonb NOT NULL,
	created_at           bigint NOT NULL,
	modified_at          bigint NOT NULL,
	revision             bigint NOT NULL,
	PRIMARY KEY (cluster_name, id)
);
CREATE UNIQUE INDEX associations_key ON associations (cluster_name, namespace, service_account);
CREATE INDEX associations_revision ON associations (revision);

-- Deleted associations, for the change feed.
CREATE TABLE tombstones (
	revision     bigint PRIMARY KEY,
	cluster_name text NOT NULL,
	id           text NOT NULL,
	deleted_at   bigint NOT NULL
);
CREATE INDEX tombstones_deleted_at ON tombstones (deleted_at);

CREATE TABLE idempotency (
	key        text PRIMARY KEY,
	hash       text NOT NULL,
	result     bytea NOT NULL, -- the stored record, JSON
	created_at bigint NOT NULL
);
CREATE INDEX idempotency_created_at ON idempotency (created_at);

CREATE TABLE secrets (
	name       text PRIMARY KEY,
	value      bytea NOT NULL,
	created_at bigint NOT NULL
);
`,
	// 2: a cluster's own issuer URL, fixed at creation (store.Issuer's
	// PodidURL). Clusters stored before get '' and are backfilled by the
	// server from its configuration when it starts.
	`ALTER TABLE clusters ADD COLUMN issuer_podid_url text NOT NULL DEFAULT '';`,
	// 3: IAM (storecore.IAM): records as JSON documents keyed by kind and
	// key, and the revision of the newest IAM write.
	`
CREATE TABLE iam (
	kind text COLLATE "C" NOT NULL, -- role, user, policy, key
	key  text COLLATE "C" NOT NULL, -- the lower-cased name, or the access key ID
	doc  bytea NOT NULL,            -- the record, JSON
	PRIMARY KEY (kind, key)
);
ALTER TABLE revision_counter ADD COLUMN iam_revision bigint NOT NULL DEFAULT 0;
`,
	// 4: the audit trail (storecore's audit tables): events by
	// (time_us, event_id), indexed by each lookup attribute, and one row
	// per resource an event names.
	`
CREATE TABLE audit_events (
	event_id      text COLLATE "C" PRIMARY KEY,
	time_us       bigint NOT NULL,
	name          text NOT NULL,
	source        text NOT NULL,
	read_only     boolean NOT NULL,
	username      text NOT NULL,
	access_key_id text NOT NULL,
	resources     text NOT NULL, -- JSON array
	record        text NOT NULL  -- the CloudTrail event, JSON
);
CREATE INDEX audit_events_time ON audit_events (time_us, event_id);
CREATE INDEX audit_events_name ON audit_events (name, time_us);
CREATE INDEX audit_events_source ON audit_events (source, time_us);
CREATE INDEX audit_events_username ON audit_events (username, time_us);
CREATE INDEX audit_events_key ON audit_events (access_key_id, time_us);
CREATE TABLE audit_resources (
	event_id text COLLATE "C" NOT NULL,
	time_us  bigint NOT NULL,
	type     text NOT NULL,
	name     text NOT NULL
);
CREATE INDEX audit_resources_time ON audit_resources (time_us, event_id);
CREATE INDEX audit_resources_name ON audit_resources (name, time_us);
CREATE INDEX audit_resources_type ON audit_resources (type, time_us);
`,
	// 5: a cluster's registered Kubernetes API server (podid cluster
	// register): its URL and PEM CA.
	`
ALTER TABLE clusters ADD COLUMN api_server_endpoint text NOT NULL DEFAULT '';
ALTER TABLE clusters ADD COLUMN api_server_ca bytea;
`,
	// 6: clusters keyed by (region, name), as EKS's are; associations and
	// tombstones carry their cluster's region. Rows stored before get
	// region '' until the server adopts them (store.Store's AdoptRegion)
	// with its --region at start; the foreign key follows a cluster's
	// region to its associations (ON UPDATE CASCADE).
	`
ALTER TABLE associations DROP CONSTRAINT associations_cluster_name_fkey;
ALTER TABLE clusters ADD COLUMN region text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE clusters DROP CONSTRAINT clusters_pkey;
ALTER TABLE clusters ADD CONSTRAINT clusters_pkey PRIMARY KEY (region, name);
ALTER TABLE associations ADD COLUMN region text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE associations DROP CONSTRAINT associations_pkey;
ALTER TABLE associations ADD CONSTRAINT associations_pkey PRIMARY KEY (region, cluster_name, id);
DROP INDEX associations_key;
CREATE UNIQUE INDEX associations_key ON associations (region, cluster_name, namespace, service_account);
ALTER TABLE associations ADD CONSTRAINT associations_cluster_fkey FOREIGN KEY (region, cluster_name)
	REFERENCES clusters (region, name) ON UPDATE CASCADE;
ALTER TABLE tombstones ADD COLUMN region text NOT NULL DEFAULT '';
`,
	// 7: resource lookups from audit_keys (storecore's audit tables): a
	// resource's name and type are each a row keyed by all its columns,
	// where audit_resources held a row and three indexes. Pruning finds an
	// event's keys from its resources column, so no time index is kept.
	`
CREATE TABLE audit_keys (
	kind     text COLLATE "C" NOT NULL, -- 'name' or 'type'
	value    text NOT NULL,
	time_us  bigint NOT NULL,
	event_id text COLLATE "C" NOT NULL,
	PRIMARY KEY (kind, value, time_us, event_id)
);
INSERT INTO audit_keys (kind, value, time_us, event_id)
	SELECT 'name', name, time_us, event_id FROM audit_resources
	UNION SELECT 'type', type, time_us, event_id FROM audit_resources
	ON CONFLICT DO NOTHING;
DROP TABLE audit_resources;
`,
	// 8: audit_keys by the event's bucket first (keyBucketShift): an
	// event's keys go to the right edge of the primary key's b-tree,
	// beside the other recent events' keys, instead of each to its
	// value's leaf somewhere in the trail (a page read, dirtied and, after
	// each checkpoint, written to the WAL whole, per key). Events get a
	// seq, in insertion order; those stored before are numbered in
	// (time_us, event_id) order. A lookup by resource walks the buckets,
	// or for a frequent value probes each event's key (see LookupEvents).
	`
ALTER TABLE audit_events ADD COLUMN seq bigint;
UPDATE audit_events e SET seq = o.n
	FROM (SELECT event_id, row_number() OVER (ORDER BY time_us, event_id) AS n FROM audit_events) o
	WHERE o.event_id = e.event_id;
CREATE SEQUENCE audit_events_seq OWNED BY audit_events.seq;
SELECT setval('audit_events_seq', coalesce((SELECT max(seq) FROM audit_events), 0) + 1, false);
ALTER TABLE audit_events ALTER COLUMN seq SET DEFAULT nextval('audit_events_seq'), ALTER COLUMN seq SET NOT NULL;
CREATE UNIQUE INDEX audit_events_seq_key ON audit_events (seq);
CREATE TABLE audit_keys_by_bucket (
	bucket   bigint NOT NULL,              -- audit_events.seq >> 10 (keyBucketShift)
	kind     text COLLATE "C" NOT NULL,    -- 'name' or 'type'
	value    text NOT NULL,
	time_us  bigint NOT NULL,
	event_id text COLLATE "C" NOT NULL,
	PRIMARY KEY (bucket, kind, value, time_us, event_id)
);
INSERT INTO audit_keys_by_bucket (bucket, kind, value, time_us, event_id)
	SELECT e.seq >> 10, k.kind, k.value, k.time_us, k.event_id
	FROM audit_keys k JOIN audit_events e ON e.event_id = k.event_id;
DROP TABLE audit_keys;
ALTER TABLE audit_keys_by_bucket RENAME TO audit_keys;
ALTER INDEX audit_keys_by_bucket_pkey RENAME TO audit_keys_pkey;
`,
	// 9: the change feed finds associations by revision_bucket
	// (revision >> revisionBucketShift), not by revision, so that an
	// update can be a HOT update (a new row version on the same page,
	// no index entry): PostgreSQL makes one only when no indexed column
	// changes, and every update changes revision. Its bucket changes only
	// when the association's last revision is in an older bucket than
	// the new one; an association updated again and again (as the bench
	// does, and a controller might) stays in the newest bucket, where
	// every update of it but one a bucket is HOT. A non-HOT update wrote
	// a new entry into all three indexes. The feed reads a bucket's rows
	// and sorts them (changesQuery). The free tenth of each page
	// (fillfactor 90) is room for the new versions.
	`
ALTER TABLE associations ADD COLUMN revision_bucket bigint GENERATED ALWAYS AS (revision >> 10) STORED;
DROP INDEX associations_revision;
CREATE INDEX associations_revision_bucket ON associations (revision_bucket);
ALTER TABLE associations SET (fillfactor = 90);
`,
	// 10: audit_keys name their event by its seq (8 bytes), not by
	// (time_us, event_id) (45), as SQLite's do (its migration 12): an
	// Update's event has four keys, each a heap row and a primary-key
	// entry, and its WAL. Values compare bytewise (COLLATE "C"): a key
	// insert compares a dozen or so, and only equality is asked of them.
	`
CREATE TABLE audit_keys_by_seq (
	bucket bigint NOT NULL,                -- seq >> 10 (keyBucketShift)
	kind   text COLLATE "C" NOT NULL,      -- 'name' or 'type'
	value  text COLLATE "C" NOT NULL,
	seq    bigint NOT NULL,                -- the event's audit_events.seq
	PRIMARY KEY (bucket, kind, value, seq)
);
INSERT INTO audit_keys_by_seq (bucket, kind, value, seq)
	SELECT k.bucket, k.kind, k.value, e.seq FROM audit_keys k JOIN audit_events e ON e.event_id = k.event_id
	ON CONFLICT DO NOTHING;
DROP TABLE audit_keys;
ALTER TABLE audit_keys_by_seq RENAME TO audit_keys;
ALTER INDEX audit_keys_by_seq_pkey RENAME TO audit_keys_pkey;
`,
	// 11: an event's lookup keys are a column of its own row, keys, and
	// one GIN index on it (audit_events_keys) serves every lookup by
	// attribute but event ID and read-only (see auditKey and
	// LookupEvents): each key is the first 8 bytes of the MD5 of
	// "kind/value", for the event's name ('event'), source, username
	// ('user'), access key ID ('key') and each distinct resource name
	// ('name') and type ('type'). Per Update-shaped event this replaces
	// 4 audit_keys rows and their primary-key entries, and the four
	// b-trees on (name, time_us), (source, time_us), (username,
	// time_us) and (access_key_id, time_us): a GIN index collects new
	// entries in its pending list (up to 512 kB here) and merges them
	// into its tree sorted and compressed, a few bytes an entry, where a
	// b-tree insert writes a WAL record a key. seq served only the keys'
	// buckets and goes with them. The rows are rewritten once, under the
	// migration lock.
	`
CREATE FUNCTION pg_temp.audit_key(text) RETURNS bigint LANGUAGE sql IMMUTABLE
	AS $$SELECT ('x' || substr(md5($1), 1, 16))::bit(64)::bigint$$;
ALTER TABLE audit_events ADD COLUMN keys bigint[] NOT NULL DEFAULT '{}';
UPDATE audit_events e SET keys = ARRAY[pg_temp.audit_key('event/' || e.name), pg_temp.audit_key('source/' || e.source),
		pg_temp.audit_key('user/' || e.username), pg_temp.audit_key('key/' || e.access_key_id)] || coalesce(k.keys, '{}')
	FROM audit_events e2 LEFT JOIN (
		SELECT seq, array_agg(pg_temp.audit_key(kind || '/' || value)) AS keys FROM audit_keys GROUP BY seq
	) AS k ON k.seq = e2.seq
	WHERE e2.seq = e.seq;
DROP FUNCTION pg_temp.audit_key(text);
DROP TABLE audit_keys;
DROP INDEX audit_events_name, audit_events_source, audit_events_username, audit_events_key;
ALTER TABLE audit_events DROP COLUMN seq;
CREATE INDEX audit_events_keys ON audit_events USING gin (keys) WITH (gin_pending_list_limit = 512);
`,
	// 12: pruning finds expired idempotency records by a BRIN index on
	// created_at (the range of created_at of each 128 pages), not a
	// b-tree: records go in in created_at order, so a range summary
	// stays narrow, and a new record costs no index entry (a b-tree
	// insert and its WAL record per Update with a client request token),
	// only, now and then, a wider summary of the range it lands in. The
	// hourly prune reads the pages of the ranges old enough, and those
	// not summarized yet (autosummarize: autovacuum summarizes a range
	// once the next one starts).
	`
DROP INDEX idempotency_created_at;
CREATE INDEX idempotency_created_at ON idempotency USING brin (created_at) WITH (autosummarize = on);
`,
}

// migrate applies the migrations the database has not applied yet. A
// database that a newer podid has migrated further is refused: this one
// would not know what the newer schema requires of writers (during a rolling
// upgrade, old replicas keep running; restarted ones must be new).
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	for i, m := range migrations {
		version := i + 1
		if err := applyMigration(ctx, pool, version, m); err != nil {
			return fmt.Errorf("migration %d: %w", version, err)
		}
	}
	var newest int
	if err := pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&newest); err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	if newest > len(migrations) {
		return fmt.Errorf("the database's schema version %d is newer than this podid knows (%d); use a newer podid", newest, len(migrations))
	}
	return nil
}

// applyMigration runs one migration in its own transaction. The transaction
// first takes the migration advisory lock (released at commit or rollback),
// then creates schema_migrations if needed and rereads whether this version
// is applied: concurrent CREATE TABLE IF NOT EXISTS statements can
// themselves collide, so even that runs under the lock.
func applyMigration(ctx context.Context, pool *pgxpool.Pool, version int, stmts string) error {
	return pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
			return fmt.Errorf("taking the migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	applied_at bigint NOT NULL
)`); err != nil {
			return fmt.Errorf("creating schema_migrations: %w", err)
		}
		var applied bool
		err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", version).Scan(&applied)
		if err != nil || applied {
			return err
		}
		// No arguments: the simple protocol, which runs several
		// statements in one round trip.
		if _, err := tx.Exec(ctx, stmts, pgx.QueryExecModeSimpleProtocol); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", version, storecore.Micros(time.Now()))
		return err
	})
}
