package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations is the ordered schema history. Append only: a database records
// how many it has applied, and each runs once, in its own transaction.
var migrations = []string{
	// 1: the initial schema.
	`
CREATE TABLE meta (
	id       INTEGER PRIMARY KEY CHECK (id = 1),
	revision INTEGER NOT NULL -- the store-wide revision counter
);
INSERT INTO meta (id, revision) VALUES (1, 0);

CREATE TABLE clusters (
	name                 TEXT NOT NULL UNIQUE,
	created_at           INTEGER NOT NULL, -- Unix microseconds
	version              TEXT NOT NULL,
	role_arn             TEXT NOT NULL,
	client_request_token TEXT NOT NULL,
	config               BLOB,
	tags                 TEXT NOT NULL, -- JSON object
	issuer_url           TEXT NOT NULL,
	issuer_jwks_url      TEXT NOT NULL,
	issuer_jwks          BLOB,
	issuer_signing_keys  BLOB,
	association_count    INTEGER NOT NULL DEFAULT 0,
	revision             INTEGER NOT NULL
);

-- Clustered by (cluster, id): a page of a cluster's associations is one
-- range of the primary b-tree.
CREATE TABLE associations (
	cluster_name         TEXT NOT NULL REFERENCES clusters (name) ON DELETE CASCADE,
	id                   TEXT NOT NULL,
	namespace            TEXT NOT NULL,
	service_account      TEXT NOT NULL,
	role_arn             TEXT NOT NULL,
	target_role_arn      TEXT NOT NULL,
	external_id          TEXT NOT NULL,
	policy               TEXT NOT NULL,
	disable_session_tags INTEGER NOT NULL,
	owner_arn            TEXT NOT NULL,
	tags                 TEXT NOT NULL, -- JSON object
	created_at           INTEGER NOT NULL,
	modified_at          INTEGER NOT NULL,
	revision             INTEGER NOT NULL,
	PRIMARY KEY (cluster_name, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX associations_key ON associations (cluster_name, namespace, service_account);
CREATE INDEX associations_revision ON associations (revision);

-- clusters.association_count follows the rows, in the same transaction, so
-- the per-cluster limit and CountAssociations read one row.
CREATE TRIGGER associations_count_insert AFTER INSERT ON associations BEGIN
	UPDATE clusters SET association_count = association_count + 1 WHERE name = NEW.cluster_name;
END;
CREATE TRIGGER associations_count_delete AFTER DELETE ON associations BEGIN
	UPDATE clusters SET association_count = association_count - 1 WHERE name = OLD.cluster_name;
END;

-- Deleted associations, for the change feed.
CREATE TABLE tombstones (
	revision     INTEGER PRIMARY KEY,
	cluster_name TEXT NOT NULL,
	id           TEXT NOT NULL,
	deleted_at   INTEGER NOT NULL
);
CREATE INDEX tombstones_deleted_at ON tombstones (deleted_at);

CREATE TABLE idempotency (
	key        TEXT PRIMARY KEY,
	hash       TEXT NOT NULL,
	result     BLOB NOT NULL, -- the stored record, JSON
	created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX idempotency_created_at ON idempotency (created_at);

CREATE TABLE secrets (
	name       TEXT PRIMARY KEY,
	value      BLOB NOT NULL,
	created_at INTEGER NOT NULL
);
`,
	// 2: idempotency records in insertion order. Keyed by the token, a
	// record (some 700 bytes) landed at a random place in the table's
	// b-tree: about every fifth insert split a leaf and rebalanced its
	// neighbours, and the created_at index took one more page, some four
	// WAL pages per write with a token. Appended by rowid, records share
	// the rightmost leaf; only the small entries of the key index land at
	// random. Pruning deletes a prefix of the rowid order (see prune), so
	// no created_at index is needed.
	`
CREATE TABLE idempotency_by_seq (
	seq        INTEGER PRIMARY KEY, -- rowid: insertion order
	key        TEXT NOT NULL UNIQUE,
	hash       TEXT NOT NULL,
	result     BLOB NOT NULL, -- the stored record, JSON
	created_at INTEGER NOT NULL
);
INSERT INTO idempotency_by_seq (key, hash, result, created_at)
	SELECT key, hash, result, created_at FROM idempotency ORDER BY created_at, key;
DROP TABLE idempotency;
ALTER TABLE idempotency_by_seq RENAME TO idempotency;
`,
	// 3: a cluster's own issuer URL, fixed at creation (store.Issuer's
	// PodidURL). Clusters stored before get '' and are backfilled by the
	// server from its configuration when it starts.
	`ALTER TABLE clusters ADD COLUMN issuer_podid_url TEXT NOT NULL DEFAULT '';`,
	// 4: IAM (storecore.IAM): records as JSON documents keyed by kind and
	// key, and the revision of the newest IAM write.
	`
CREATE TABLE iam (
	kind TEXT NOT NULL, -- role, user, policy, key
	key  TEXT NOT NULL, -- the lower-cased name, or the access key ID
	doc  BLOB NOT NULL, -- the record, JSON
	PRIMARY KEY (kind, key)
) WITHOUT ROWID;
ALTER TABLE meta ADD COLUMN iam_revision INTEGER NOT NULL DEFAULT 0;
`,
	// 5: the audit trail (storecore's audit tables): events by
	// (time_us, event_id), indexed by each lookup attribute, and one row
	// per resource an event names.
	`
CREATE TABLE audit_events (
	event_id      TEXT PRIMARY KEY,
	time_us       INTEGER NOT NULL,
	name          TEXT NOT NULL,
	source        TEXT NOT NULL,
	read_only     INTEGER NOT NULL,
	username      TEXT NOT NULL,
	access_key_id TEXT NOT NULL,
	resources     TEXT NOT NULL, -- JSON array
	record        TEXT NOT NULL  -- the CloudTrail event, JSON
) WITHOUT ROWID;
CREATE INDEX audit_events_time ON audit_events (time_us, event_id);
CREATE INDEX audit_events_name ON audit_events (name, time_us);
CREATE INDEX audit_events_source ON audit_events (source, time_us);
CREATE INDEX audit_events_username ON audit_events (username, time_us);
CREATE INDEX audit_events_key ON audit_events (access_key_id, time_us);
CREATE TABLE audit_resources (
	event_id TEXT NOT NULL,
	time_us  INTEGER NOT NULL,
	type     TEXT NOT NULL,
	name     TEXT NOT NULL
);
CREATE INDEX audit_resources_time ON audit_resources (time_us, event_id);
CREATE INDEX audit_resources_name ON audit_resources (name, time_us);
CREATE INDEX audit_resources_type ON audit_resources (type, time_us);
`,
	// 6: a cluster's registered Kubernetes API server (podid cluster
	// register): its URL and PEM CA.
	`
ALTER TABLE clusters ADD COLUMN api_server_endpoint TEXT NOT NULL DEFAULT '';
ALTER TABLE clusters ADD COLUMN api_server_ca BLOB;
`,
	// 7: audit events in insertion order. Clustered by event ID in a
	// WITHOUT ROWID table, an event's record (1-2 KB of JSON) went to a
	// leaf of its own and, beyond some 1 KB, to an overflow page besides:
	// about five WAL pages per event. Appended by rowid, records share
	// the rightmost leaves (two or three to a page) and the indexes'
	// entries are small; with time-ordered event IDs (the host's request
	// IDs are UUIDv7) every index appends too.
	`
CREATE TABLE audit_events_by_seq (
	seq           INTEGER PRIMARY KEY, -- rowid: insertion order
	event_id      TEXT NOT NULL UNIQUE,
	time_us       INTEGER NOT NULL,
	name          TEXT NOT NULL,
	source        TEXT NOT NULL,
	read_only     INTEGER NOT NULL,
	username      TEXT NOT NULL,
	access_key_id TEXT NOT NULL,
	resources     TEXT NOT NULL, -- JSON array
	record        TEXT NOT NULL  -- the CloudTrail event, JSON
);
INSERT INTO audit_events_by_seq (event_id, time_us, name, source, read_only, username, access_key_id, resources, record)
	SELECT event_id, time_us, name, source, read_only, username, access_key_id, resources, record
	FROM audit_events ORDER BY time_us, event_id;
DROP TABLE audit_events;
ALTER TABLE audit_events_by_seq RENAME TO audit_events;
CREATE INDEX audit_events_time ON audit_events (time_us, event_id);
CREATE INDEX audit_events_name ON audit_events (name, time_us);
CREATE INDEX audit_events_source ON audit_events (source, time_us);
CREATE INDEX audit_events_username ON audit_events (username, time_us);
CREATE INDEX audit_events_key ON audit_events (access_key_id, time_us);
`,
	// 8: clusters keyed by (region, name), as EKS's are; associations and
	// tombstones carry their cluster's region. SQLite cannot change a
	// table's keys in place: the two tables are rebuilt (associations
	// first kept aside, so dropping clusters cascades to nothing). Rows
	// stored before get region '' until the server adopts them
	// (store.Store's AdoptRegion) with its --region at start.
	`
CREATE TABLE associations_old AS SELECT * FROM associations;
DROP TABLE associations;

CREATE TABLE clusters_new (
	region               TEXT NOT NULL,
	name                 TEXT NOT NULL,
	created_at           INTEGER NOT NULL, -- Unix microseconds
	version              TEXT NOT NULL,
	role_arn             TEXT NOT NULL,
	client_request_token TEXT NOT NULL,
	config               BLOB,
	tags                 TEXT NOT NULL, -- JSON object
	issuer_url           TEXT NOT NULL,
	issuer_jwks_url      TEXT NOT NULL,
	issuer_jwks          BLOB,
	issuer_signing_keys  BLOB,
	association_count    INTEGER NOT NULL DEFAULT 0,
	revision             INTEGER NOT NULL,
	issuer_podid_url     TEXT NOT NULL DEFAULT '',
	api_server_endpoint  TEXT NOT NULL DEFAULT '',
	api_server_ca        BLOB,
	UNIQUE (region, name)
);
INSERT INTO clusters_new (region, name, created_at, version, role_arn, client_request_token, config, tags,
	issuer_url, issuer_jwks_url, issuer_jwks, issuer_signing_keys, association_count, revision,
	issuer_podid_url, api_server_endpoint, api_server_ca)
	SELECT '', name, created_at, version, role_arn, client_request_token, config, tags,
	issuer_url, issuer_jwks_url, issuer_jwks, issuer_signing_keys, association_count, revision,
	issuer_podid_url, api_server_endpoint, api_server_ca FROM clusters ORDER BY rowid;
DROP TABLE clusters;
ALTER TABLE clusters_new RENAME TO clusters;

-- Clustered by (region, cluster, id): a page of a cluster's associations
-- is one range of the primary b-tree.
CREATE TABLE associations (
	region               TEXT NOT NULL,
	cluster_name         TEXT NOT NULL,
	id                   TEXT NOT NULL,
	namespace            TEXT NOT NULL,
	service_account      TEXT NOT NULL,
	role_arn             TEXT NOT NULL,
	target_role_arn      TEXT NOT NULL,
	external_id          TEXT NOT NULL,
	policy               TEXT NOT NULL,
	disable_session_tags INTEGER NOT NULL,
	owner_arn            TEXT NOT NULL,
	tags                 TEXT NOT NULL, -- JSON object
	created_at           INTEGER NOT NULL,
	modified_at          INTEGER NOT NULL,
	revision             INTEGER NOT NULL,
	PRIMARY KEY (region, cluster_name, id),
	FOREIGN KEY (region, cluster_name) REFERENCES clusters (region, name) ON DELETE CASCADE ON UPDATE CASCADE
) WITHOUT ROWID;
INSERT INTO associations (region, cluster_name, id, namespace, service_account, role_arn, target_role_arn,
	external_id, policy, disable_session_tags, owner_arn, tags, created_at, modified_at, revision)
	SELECT '', cluster_name, id, namespace, service_account, role_arn, target_role_arn,
	external_id, policy, disable_session_tags, owner_arn, tags, created_at, modified_at, revision
	FROM associations_old;
DROP TABLE associations_old;
CREATE UNIQUE INDEX associations_key ON associations (region, cluster_name, namespace, service_account);
CREATE INDEX associations_revision ON associations (revision);

-- clusters.association_count follows the rows, in the same transaction, so
-- the per-cluster limit and CountAssociations read one row.
CREATE TRIGGER associations_count_insert AFTER INSERT ON associations BEGIN
	UPDATE clusters SET association_count = association_count + 1
	WHERE region = NEW.region AND name = NEW.cluster_name;
END;
CREATE TRIGGER associations_count_delete AFTER DELETE ON associations BEGIN
	UPDATE clusters SET association_count = association_count - 1
	WHERE region = OLD.region AND name = OLD.cluster_name;
END;

ALTER TABLE tombstones ADD COLUMN region TEXT NOT NULL DEFAULT '';
`,
	// 9: resource lookups from one WITHOUT ROWID b-tree, audit_keys
	// (storecore's audit tables): a resource's name and type are each an
	// entry of its primary key, where audit_resources held a row and three
	// index entries. Pruning finds an event's keys from its resources
	// column, so no time index is kept.
	`
CREATE TABLE audit_keys (
	kind     TEXT NOT NULL, -- 'name' or 'type'
	value    TEXT NOT NULL,
	time_us  INTEGER NOT NULL,
	event_id TEXT NOT NULL,
	PRIMARY KEY (kind, value, time_us, event_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO audit_keys (kind, value, time_us, event_id)
	SELECT 'name', name, time_us, event_id FROM audit_resources;
INSERT OR IGNORE INTO audit_keys (kind, value, time_us, event_id)
	SELECT 'type', type, time_us, event_id FROM audit_resources;
DROP TABLE audit_resources;
`,
	// 10: audit_keys by (bucket, ...) first, bucket = the event's seq >> 8
	// (keyBucketShift): an event's keys append to the b-tree's rightmost
	// pages instead of each landing on its value's leaf somewhere in the
	// trail. Keys of events no longer stored are not carried over.
	`
CREATE TABLE audit_keys_by_bucket (
	bucket   INTEGER NOT NULL, -- audit_events.seq >> 8
	kind     TEXT NOT NULL,    -- 'name' or 'type'
	value    TEXT NOT NULL,
	time_us  INTEGER NOT NULL,
	event_id TEXT NOT NULL,
	PRIMARY KEY (bucket, kind, value, time_us, event_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO audit_keys_by_bucket (bucket, kind, value, time_us, event_id)
	SELECT e.seq >> 8, k.kind, k.value, k.time_us, k.event_id
	FROM audit_keys k JOIN audit_events e ON e.event_id = k.event_id;
DROP TABLE audit_keys;
ALTER TABLE audit_keys_by_bucket RENAME TO audit_keys;
`,
	// 11: idempotency records found through idempotency_keys, a
	// log-structured merge of (level, key hash, seq) entries (see
	// idempotency.go), instead of a UNIQUE index on the key, where every
	// write with a (random) token took a leaf page at a random place. The
	// table is rebuilt without the constraint, its records keeping their
	// seq; their entries start in the last level.
	`
CREATE TABLE idempotency_by_seq (
	seq        INTEGER PRIMARY KEY, -- rowid: insertion order
	key        TEXT NOT NULL,
	hash       TEXT NOT NULL,
	result     BLOB NOT NULL, -- the stored record, JSON
	created_at INTEGER NOT NULL
);
INSERT INTO idempotency_by_seq (seq, key, hash, result, created_at)
	SELECT seq, key, hash, result, created_at FROM idempotency ORDER BY seq;
DROP TABLE idempotency;
ALTER TABLE idempotency_by_seq RENAME TO idempotency;
CREATE TABLE idempotency_keys (
	level INTEGER NOT NULL,
	h     INTEGER NOT NULL, -- podid_key_hash(key)
	seq   INTEGER NOT NULL, -- idempotency.seq
	PRIMARY KEY (level, h, seq)
) WITHOUT ROWID;
INSERT INTO idempotency_keys (level, h, seq) SELECT 3, podid_key_hash(key), seq FROM idempotency;
`,
	// 12: audit_keys name their event by its seq, where its time and ID
	// (some 45 of an entry's 120 bytes) did.
	`
CREATE TABLE audit_keys_by_seq (
	bucket INTEGER NOT NULL, -- audit_events.seq >> 8
	kind   TEXT NOT NULL,    -- 'name' or 'type'
	value  TEXT NOT NULL,
	seq    INTEGER NOT NULL, -- audit_events.seq
	PRIMARY KEY (bucket, kind, value, seq)
) WITHOUT ROWID;
INSERT OR IGNORE INTO audit_keys_by_seq (bucket, kind, value, seq)
	SELECT k.bucket, k.kind, k.value, e.seq FROM audit_keys k JOIN audit_events e ON e.event_id = k.event_id;
DROP TABLE audit_keys;
ALTER TABLE audit_keys_by_seq RENAME TO audit_keys;
`,
	// 13: idempotency_keys split into a table per level, so a level's
	// move into the next is an INSERT ... SELECT from another table and a
	// DELETE, where moving within one table (UPDATE of level, or INSERT
	// ... SELECT from itself) first copied the rows to a temporary table.
	`
CREATE TABLE idempotency_keys0 (h INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (h, seq)) WITHOUT ROWID;
CREATE TABLE idempotency_keys1 (h INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (h, seq)) WITHOUT ROWID;
CREATE TABLE idempotency_keys2 (h INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (h, seq)) WITHOUT ROWID;
CREATE TABLE idempotency_keys3 (h INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (h, seq)) WITHOUT ROWID;
INSERT INTO idempotency_keys0 (h, seq) SELECT h, seq FROM idempotency_keys WHERE level = 0 ORDER BY h, seq;
INSERT INTO idempotency_keys1 (h, seq) SELECT h, seq FROM idempotency_keys WHERE level = 1 ORDER BY h, seq;
INSERT INTO idempotency_keys2 (h, seq) SELECT h, seq FROM idempotency_keys WHERE level = 2 ORDER BY h, seq;
INSERT INTO idempotency_keys3 (h, seq) SELECT h, seq FROM idempotency_keys WHERE level >= 3 ORDER BY h, seq;
DROP TABLE idempotency_keys;
`,
}

// migrate applies the migrations db has not applied yet. Each runs in its
// own BEGIN IMMEDIATE transaction that first rereads the applied version,
// so two processes opening the same file at once apply each migration once.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_at INTEGER NOT NULL
)`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	var newest int
	if err := db.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&newest); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if newest > len(migrations) {
		return fmt.Errorf("the database's schema version %d is newer than this podid knows (%d); use a newer podid", newest, len(migrations))
	}
	for i, m := range migrations {
		version := i + 1
		if err := applyMigration(ctx, db, version, m); err != nil {
			return fmt.Errorf("migration %d: %w", version, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, version int, stmts string) error {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var applied int
	err = tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", version).Scan(&applied)
	if err != nil {
		return err
	}
	if applied > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, stmts); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", version, time.Now().UnixMicro())
	if err != nil {
		return err
	}
	return tx.Commit()
}
