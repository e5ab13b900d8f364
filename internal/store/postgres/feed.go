package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
)

// changesQuery reads live associations and tombstones after a revision in
// one statement, so both come from one snapshot (a deletion committed
// between two reads could otherwise hide an association from both). Each
// branch is an index range scan with its own limit; PostgreSQL merges them.
// Associations are indexed by revision_bucket (schema migration 9), which
// orders them as revision does, bucket by bucket: the scan sorts each
// bucket's rows (an incremental sort) and stops once it has the page.
const changesQuery = `
(SELECT false, ` + associationColumns + ` FROM associations
	WHERE revision_bucket >= $1::bigint >> ` + revisionBucketShift + ` AND revision > $1
	ORDER BY revision_bucket, revision LIMIT $2)
UNION ALL
(SELECT true, region, id, cluster_name, '', '', '', '', '', '', false, '', '{}'::jsonb, 0, 0, revision
	FROM tombstones WHERE revision > $1 ORDER BY revision LIMIT $2)
ORDER BY 16 LIMIT $2`

// revisionBucketShift is associations.revision_bucket's: revision >>
// 10, buckets of 1,024 revisions (schema migration 9, which spells it).
const revisionBucketShift = "10"

// ChangesSince implements store.Store.
func (s *Store) ChangesSince(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	return storecore.ChangesSince(ctx, after, limit, s.changesSince)
}

func (s *Store) changesSince(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	rows, err := s.pool.Query(ctx, changesQuery, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]store.Change, 0, min(limit, 256))
	for rows.Next() {
		var deleted bool
		var row storecore.AssociationRow
		if err := rows.Scan(append([]any{&deleted}, row.Dest()...)...); err != nil {
			return nil, err
		}
		a, err := row.Association()
		if err != nil {
			return nil, err
		}
		c := store.Change{Revision: a.Revision, Region: a.Region, ClusterName: a.ClusterName, AssociationID: a.ID, Deleted: deleted}
		if !deleted {
			c.Association = &a
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Revision implements store.Store.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.pool.QueryRow(ctx, "SELECT revision FROM revision_counter WHERE id = 1").Scan(&rev); err != nil {
		return 0, fmt.Errorf("reading revision: %w", err)
	}
	return rev, nil
}

// Secret implements store.Store (storecore.Secret's flow). A secret is
// not a change: it takes no revision and no counter lock.
func (s *Store) Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	read := func(ctx context.Context) ([]byte, bool, error) {
		var v []byte
		err := s.pool.QueryRow(ctx, "SELECT value FROM secrets WHERE name = $1", name).Scan(&v)
		if errNoRows(err) {
			return nil, false, nil
		}
		return v, err == nil, err
	}
	insert := func(ctx context.Context, fresh []byte, now int64) error {
		_, err := s.pool.Exec(ctx, "INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING", name, fresh, now)
		return err
	}
	return storecore.Secret(ctx, name, gen, read, insert, s.now())
}

// integrityChecks are queries that return one row per problem found, as
// text.
var integrityChecks = []string{
	// Foreign keys hold this; a check that they were not dropped.
	`SELECT 'association ' || a.id || ' belongs to missing cluster ' || a.cluster_name || ' in ' || a.region
	FROM associations a LEFT JOIN clusters c ON c.region = a.region AND c.name = a.cluster_name WHERE c.name IS NULL`,
	`SELECT 'associations ' || string_agg(id, ', ') || ' share cluster ' || cluster_name ||
	', namespace ' || namespace || ', service account ' || service_account || ' (region ' || region || ')'
	FROM associations GROUP BY region, cluster_name, namespace, service_account HAVING count(*) > 1`,
	`SELECT 'cluster ' || c.name || ' in ' || c.region || ' counts ' || c.association_count || ' associations but has ' || count(a.id)
	FROM clusters c LEFT JOIN associations a ON a.region = c.region AND a.cluster_name = c.name
	GROUP BY c.region, c.name, c.association_count HAVING c.association_count <> count(a.id)`,
	`SELECT 'revision counter ' || r.revision || ' is behind revision ' || m.revision
	FROM revision_counter r, (SELECT max(revision) AS revision FROM (
		SELECT max(revision) AS revision FROM associations
		UNION ALL SELECT max(revision) FROM clusters
		UNION ALL SELECT max(revision) FROM tombstones) x) m
	WHERE m.revision > r.revision`,
	`SELECT 'revision ' || revision || ' is used ' || count(*) || ' times' FROM (
		SELECT revision FROM associations UNION ALL SELECT revision FROM tombstones
		UNION ALL SELECT revision FROM clusters) x
	GROUP BY revision HAVING count(*) > 1`,
	`SELECT 'association ' || a.id || ' at revision ' || a.revision || ' has a later tombstone at ' || t.revision
	FROM associations a JOIN tombstones t ON t.region = a.region AND t.cluster_name = a.cluster_name AND t.id = a.id
	WHERE t.revision > a.revision`,
	`SELECT 'revision counter has ' || count(*) || ' rows' FROM revision_counter HAVING count(*) <> 1`,
}

// IntegrityCheck checks the invariants the store keeps (every association's
// cluster exists, (cluster, namespace, service account) is unique, each
// cluster's association count is right, revisions are unique and none is
// ahead of the counter, no deleted association is still live) and reports
// every violation found. Durability tests run it after a crash.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	var problems []error
	for _, q := range integrityChecks {
		rows, err := s.pool.Query(ctx, q)
		if err != nil {
			return fmt.Errorf("checking integrity: %w", err)
		}
		for rows.Next() {
			var msg string
			if err := rows.Scan(&msg); err != nil {
				rows.Close()
				return fmt.Errorf("checking integrity: %w", err)
			}
			problems = append(problems, errors.New(msg))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("checking integrity: %w", err)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("database is inconsistent: %w", errors.Join(problems...))
	}
	return nil
}
