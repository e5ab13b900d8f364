package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
)

const clusterColumns = storecore.ClusterColumns

func scanCluster(r pgx.Row, public bool) (store.Cluster, error) {
	var row storecore.ClusterRow
	if err := r.Scan(row.Dest(public)...); err != nil {
		return store.Cluster{}, err
	}
	return row.Cluster()
}

// CreateCluster implements store.Store.
func (s *Store) CreateCluster(ctx context.Context, c store.Cluster, opts store.WriteOptions) (store.Cluster, error) {
	return storecore.Do(ctx, s.write, func(t *wtx) (out store.Cluster, err error) {
		if replayed, err := s.replay(t, opts.Idempotency, &out); err != nil || replayed {
			return out, err
		}
		var exists bool
		if err := t.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM clusters WHERE region = $1 AND name = $2)", c.Region, c.Name).Scan(&exists); err != nil {
			return out, err
		}
		if exists {
			return out, &store.ExistsError{}
		}
		out = c
		out.Revision = t.revisions(1)
		storecore.NormalizeCluster(&out)
		v, err := storecore.ClusterValues(out)
		if err != nil {
			return out, err
		}
		_, err = t.Exec(ctx, `INSERT INTO clusters (`+clusterColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`, v...)
		if code, _ := pgCode(err); code == codeUniqueViolation {
			return out, &store.ExistsError{}
		}
		if err != nil {
			return out, err
		}
		return out, s.remember(t, opts.Idempotency, out)
	}, "creating cluster %q in %s", c.Name, c.Region)
}

// GetCluster implements store.Store.
func (s *Store) GetCluster(ctx context.Context, region, name string) (store.Cluster, error) {
	return s.getCluster(ctx, region, name, "SELECT "+clusterColumns+" FROM clusters WHERE region = $1 AND name = $2", false)
}

// GetClusterPublic implements store.Store.
func (s *Store) GetClusterPublic(ctx context.Context, region, name string) (store.Cluster, error) {
	return s.getCluster(ctx, region, name, "SELECT "+storecore.PublicClusterColumns+" FROM clusters WHERE region = $1 AND name = $2", true)
}

func (s *Store) getCluster(ctx context.Context, region, name, query string, public bool) (store.Cluster, error) {
	c, err := scanCluster(s.pool.QueryRow(ctx, query, region, name), public)
	if errNoRows(err) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Cluster{}, fmt.Errorf("getting cluster %q in %s: %w", name, region, err)
	}
	return c, nil
}

// lockCluster reads a cluster and locks its row until the transaction ends.
func lockCluster(t *wtx, region, name string) (store.Cluster, error) {
	c, err := scanCluster(t.QueryRow(t.ctx, "SELECT "+clusterColumns+" FROM clusters WHERE region = $1 AND name = $2 FOR UPDATE", region, name), false)
	if errNoRows(err) {
		return store.Cluster{}, store.ErrNotFound
	}
	return c, err
}

// UpdateCluster implements store.Store.
func (s *Store) UpdateCluster(ctx context.Context, region, name string, fn func(*store.Cluster) error) (store.Cluster, error) {
	return storecore.Do(ctx, s.write, func(t *wtx) (store.Cluster, error) {
		c, err := lockCluster(t, region, name)
		if err != nil {
			return c, err
		}
		if err := storecore.EditCluster(&c, fn); err != nil {
			return c, err
		}
		c.Revision = t.revisions(1)
		v, err := storecore.ClusterUpdateValues(c)
		if err != nil {
			return c, err
		}
		_, err = t.Exec(ctx, `UPDATE clusters SET created_at = $1, version = $2, role_arn = $3, client_request_token = $4,
	config = $5, tags = $6, issuer_url = $7, issuer_jwks_url = $8, issuer_podid_url = $9,
	api_server_endpoint = $10, api_server_ca = $11, issuer_jwks = $12,
	issuer_signing_keys = $13, revision = $14
	WHERE region = $15 AND name = $16`, v...)
		return c, err
	}, "updating cluster %q in %s", name, region)
}

// DeleteCluster implements store.Store. The cluster's associations are
// deleted with it, each leaving a tombstone (with its own revision) in the
// change feed.
func (s *Store) DeleteCluster(ctx context.Context, region, name string) (store.Cluster, error) {
	return storecore.Do(ctx, s.write, func(t *wtx) (store.Cluster, error) {
		c, err := lockCluster(t, region, name)
		if err != nil {
			return c, err
		}
		var n int
		if err := t.QueryRow(ctx, "SELECT count(*) FROM associations WHERE region = $1 AND cluster_name = $2", region, name).Scan(&n); err != nil {
			return c, err
		}
		// n revisions, one a tombstone; none when n is 0, but the
		// store's current revision for the result.
		first := t.revisions(n)
		c.Revision = first + int64(n) - 1
		if n > 0 {
			_, err = t.Exec(ctx, `INSERT INTO tombstones (revision, region, cluster_name, id, deleted_at)
	SELECT $1 + row_number() OVER (ORDER BY id) - 1, region, cluster_name, id, $2
	FROM associations WHERE region = $3 AND cluster_name = $4`, first, storecore.Micros(s.now()), region, name)
			if err != nil {
				return c, err
			}
			if _, err := t.Exec(ctx, "DELETE FROM associations WHERE region = $1 AND cluster_name = $2", region, name); err != nil {
				return c, err
			}
			t.changedUnlisted() // n tombstones, numbered by SQL
		}
		_, err = t.Exec(ctx, "DELETE FROM clusters WHERE region = $1 AND name = $2", region, name)
		return c, err
	}, "deleting cluster %q in %s", name, region)
}

// ListClusters implements store.Store.
func (s *Store) ListClusters(ctx context.Context, region string, p store.Page) ([]string, string, error) {
	return storecore.ListClusters(ctx, region, p, func(ctx context.Context, region string, p store.Page) ([]string, error) {
		rows, err := s.pool.Query(ctx, "SELECT name FROM clusters WHERE region = $1 AND name > $2 ORDER BY name LIMIT $3", region, p.After, p.Limit+1)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	})
}

// AdoptRegion implements store.Store. Associations follow their clusters'
// new key (ON UPDATE CASCADE); the update takes the clusters' rows, so
// replicas adopting at once adopt each row once. With nothing to adopt
// (every start but the first after the migration) it only reads: a write
// would wait for the revision counter, which a killed replica's
// transaction may hold until the server notices the dead connection.
func (s *Store) AdoptRegion(ctx context.Context, region string) (int, error) {
	var pending bool
	err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM clusters WHERE region = '') OR EXISTS (SELECT 1 FROM tombstones WHERE region = '')").Scan(&pending)
	if err != nil || !pending {
		return 0, storecore.WriteError(err, "adopting the records stored without a region into %s", region)
	}
	return storecore.Do(ctx, s.write, func(t *wtx) (int, error) {
		// A revision, though the feed lists nothing at it: the
		// counter moves with every write of associations, which
		// other replicas' row caches rely on (rowCache).
		t.revisions(1)
		t.changedUnlisted()
		tag, err := t.Exec(ctx, "UPDATE clusters SET region = $1 WHERE region = ''", region)
		if err != nil {
			return 0, err
		}
		if _, err := t.Exec(ctx, "UPDATE associations SET region = $1 WHERE region = ''", region); err != nil {
			return 0, err
		}
		_, err = t.Exec(ctx, "UPDATE tombstones SET region = $1 WHERE region = ''", region)
		return int(tag.RowsAffected()), err
	}, "adopting the records stored without a region into %s", region)
}

// replay looks up a client request token (if any) and decides on its
// record as storecore.Replay does.
func (s *Store) replay(t *wtx, idem *store.Idempotency, out any) (bool, error) {
	if idem == nil {
		return false, nil
	}
	var rec storecore.Record
	err := t.QueryRow(t.ctx, "SELECT hash, result, created_at FROM idempotency WHERE key = $1", idem.Key).Scan(&rec.Hash, &rec.Result, &rec.CreatedAt)
	if errNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading client request token: %w", err)
	}
	return storecore.Replay(idem, rec, s.now(), out)
}

// remember stores v as the result of a client request token
// (storecore.Remember): the write function's last statement, sent with its
// other deferred ones (wtx.later). It replaces an expired record of the
// token.
func (s *Store) remember(t *wtx, idem *store.Idempotency, v any) error {
	return storecore.Remember(idem, v, s.now(), func(key string, rec storecore.Record) error {
		t.later(`INSERT INTO idempotency (key, hash, result, created_at) VALUES ($1, $2, $3, $4)
	ON CONFLICT (key) DO UPDATE SET hash = excluded.hash, result = excluded.result, created_at = excluded.created_at`,
			key, rec.Hash, rec.Result, rec.CreatedAt)
		return nil
	})
}
