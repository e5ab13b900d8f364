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
		if err := t.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM clusters WHERE name = $1)", c.Name).Scan(&exists); err != nil {
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
		_, err = t.Exec(ctx, `INSERT INTO clusters (`+clusterColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`, v...)
		if code, _ := pgCode(err); code == codeUniqueViolation {
			return out, &store.ExistsError{}
		}
		if err != nil {
			return out, err
		}
		return out, s.remember(t, opts.Idempotency, out)
	}, "creating cluster %q", c.Name)
}

// GetCluster implements store.Store.
func (s *Store) GetCluster(ctx context.Context, name string) (store.Cluster, error) {
	return s.getCluster(ctx, name, "SELECT "+clusterColumns+" FROM clusters WHERE name = $1", false)
}

// GetClusterPublic implements store.Store.
func (s *Store) GetClusterPublic(ctx context.Context, name string) (store.Cluster, error) {
	return s.getCluster(ctx, name, "SELECT "+storecore.PublicClusterColumns+" FROM clusters WHERE name = $1", true)
}

func (s *Store) getCluster(ctx context.Context, name, query string, public bool) (store.Cluster, error) {
	c, err := scanCluster(s.pool.QueryRow(ctx, query, name), public)
	if errNoRows(err) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Cluster{}, fmt.Errorf("getting cluster %q: %w", name, err)
	}
	return c, nil
}

// lockCluster reads a cluster and locks its row until the transaction ends.
func lockCluster(t *wtx, name string) (store.Cluster, error) {
	c, err := scanCluster(t.QueryRow(t.ctx, "SELECT "+clusterColumns+" FROM clusters WHERE name = $1 FOR UPDATE", name), false)
	if errNoRows(err) {
		return store.Cluster{}, store.ErrNotFound
	}
	return c, err
}

// UpdateCluster implements store.Store.
func (s *Store) UpdateCluster(ctx context.Context, name string, fn func(*store.Cluster) error) (store.Cluster, error) {
	return storecore.Do(ctx, s.write, func(t *wtx) (store.Cluster, error) {
		c, err := lockCluster(t, name)
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
	WHERE name = $15`, v...)
		return c, err
	}, "updating cluster %q", name)
}

// DeleteCluster implements store.Store. The cluster's associations are
// deleted with it, each leaving a tombstone (with its own revision) in the
// change feed.
func (s *Store) DeleteCluster(ctx context.Context, name string) (store.Cluster, error) {
	return storecore.Do(ctx, s.write, func(t *wtx) (store.Cluster, error) {
		c, err := lockCluster(t, name)
		if err != nil {
			return c, err
		}
		var n int
		if err := t.QueryRow(ctx, "SELECT count(*) FROM associations WHERE cluster_name = $1", name).Scan(&n); err != nil {
			return c, err
		}
		// n revisions, one a tombstone; none when n is 0, but the
		// store's current revision for the result.
		first := t.revisions(n)
		c.Revision = first + int64(n) - 1
		if n > 0 {
			_, err = t.Exec(ctx, `INSERT INTO tombstones (revision, cluster_name, id, deleted_at)
	SELECT $1 + row_number() OVER (ORDER BY id) - 1, cluster_name, id, $2
	FROM associations WHERE cluster_name = $3`, first, storecore.Micros(s.now()), name)
			if err != nil {
				return c, err
			}
			if _, err := t.Exec(ctx, "DELETE FROM associations WHERE cluster_name = $1", name); err != nil {
				return c, err
			}
		}
		_, err = t.Exec(ctx, "DELETE FROM clusters WHERE name = $1", name)
		return c, err
	}, "deleting cluster %q", name)
}

// ListClusters implements store.Store.
func (s *Store) ListClusters(ctx context.Context, p store.Page) ([]string, string, error) {
	return storecore.ListClusters(ctx, p, func(ctx context.Context, p store.Page) ([]string, error) {
		rows, err := s.pool.Query(ctx, "SELECT name FROM clusters WHERE name > $1 ORDER BY name LIMIT $2", p.After, p.Limit+1)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	})
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
// other deferred ones (wtx.later).
func (s *Store) remember(t *wtx, idem *store.Idempotency, v any) error {
	return storecore.Remember(idem, v, s.now(), func(key string, rec storecore.Record) error {
		t.later(`INSERT INTO idempotency (key, hash, result, created_at) VALUES ($1, $2, $3, $4)
	ON CONFLICT (key) DO UPDATE SET hash = excluded.hash, result = excluded.result, created_at = excluded.created_at`,
			key, rec.Hash, rec.Result, rec.CreatedAt)
		return nil
	})
}
