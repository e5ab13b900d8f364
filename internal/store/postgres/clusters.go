package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/podid/podid/internal/store"
)

const clusterColumns = `name, created_at, version, role_arn, client_request_token, config, tags,
	issuer_url, issuer_jwks_url, issuer_jwks, issuer_signing_keys, revision`

func scanCluster(r pgx.Row) (store.Cluster, error) {
	var c store.Cluster
	var created int64
	var tags []byte
	err := r.Scan(&c.Name, &created, &c.Version, &c.RoleARN, &c.ClientRequestToken, &c.Config, &tags,
		&c.Issuer.URL, &c.Issuer.JWKSURL, &c.Issuer.JWKS, &c.Issuer.SigningKeys, &c.Revision)
	if err != nil {
		return store.Cluster{}, err
	}
	c.CreatedAt = fromMicros(created)
	if c.Tags, err = decodeTags(tags); err != nil {
		return store.Cluster{}, err
	}
	return c, nil
}

// CreateCluster implements store.Store.
func (s *Store) CreateCluster(ctx context.Context, c store.Cluster, opts store.WriteOptions) (store.Cluster, error) {
	idem := opts.Idempotency
	var out store.Cluster
	err := s.write(ctx, func(t *wtx) error {
		if idem != nil {
			replayed, err := s.replay(t, idem, &out)
			if err != nil || replayed {
				return err
			}
		}
		var exists bool
		if err := t.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM clusters WHERE name = $1)", c.Name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return &store.ExistsError{}
		}
		out = c
		out.Revision = t.revisions(1)
		out.CreatedAt = storedTime(out.CreatedAt)
		if out.Tags == nil {
			out.Tags = map[string]string{}
		}
		tags, err := encodeTags(out.Tags)
		if err != nil {
			return err
		}
		_, err = t.Exec(ctx, `INSERT INTO clusters (`+clusterColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			out.Name, micros(out.CreatedAt), out.Version, out.RoleARN, out.ClientRequestToken, out.Config, tags,
			out.Issuer.URL, out.Issuer.JWKSURL, out.Issuer.JWKS, out.Issuer.SigningKeys, out.Revision)
		if code, _ := pgCode(err); code == codeUniqueViolation {
			return &store.ExistsError{}
		}
		if err != nil {
			return err
		}
		if idem != nil {
			return s.remember(t, idem, out)
		}
		return nil
	})
	if err != nil {
		return store.Cluster{}, fmt.Errorf("creating cluster %q: %w", c.Name, err)
	}
	return out, nil
}

// GetCluster implements store.Store.
func (s *Store) GetCluster(ctx context.Context, name string) (store.Cluster, error) {
	c, err := scanCluster(s.pool.QueryRow(ctx, "SELECT "+clusterColumns+" FROM clusters WHERE name = $1", name))
	if errNoRows(err) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Cluster{}, fmt.Errorf("getting cluster %q: %w", name, err)
	}
	return c, nil
}

// publicClusterColumns are clusterColumns without the key sets.
const publicClusterColumns = `name, created_at, version, role_arn, client_request_token, config, tags,
	issuer_url, issuer_jwks_url, revision`

// GetClusterPublic implements store.Store.
func (s *Store) GetClusterPublic(ctx context.Context, name string) (store.Cluster, error) {
	var c store.Cluster
	var created int64
	var tags []byte
	err := s.pool.QueryRow(ctx, "SELECT "+publicClusterColumns+" FROM clusters WHERE name = $1", name).Scan(
		&c.Name, &created, &c.Version, &c.RoleARN, &c.ClientRequestToken, &c.Config, &tags,
		&c.Issuer.URL, &c.Issuer.JWKSURL, &c.Revision)
	if err == nil {
		c.CreatedAt = fromMicros(created)
		if c.Tags, err = decodeTags(tags); err == nil {
			return c, nil
		}
	}
	if errNoRows(err) {
		err = store.ErrNotFound
	}
	return store.Cluster{}, fmt.Errorf("getting cluster %q: %w", name, err)
}

// lockCluster reads a cluster and locks its row until the transaction ends.
func lockCluster(t *wtx, name string) (store.Cluster, error) {
	c, err := scanCluster(t.QueryRow(t.ctx, "SELECT "+clusterColumns+" FROM clusters WHERE name = $1 FOR UPDATE", name))
	if errNoRows(err) {
		return store.Cluster{}, store.ErrNotFound
	}
	return c, err
}

// UpdateCluster implements store.Store.
func (s *Store) UpdateCluster(ctx context.Context, name string, fn func(*store.Cluster) error) (store.Cluster, error) {
	var out store.Cluster
	var fnErr error
	err := s.write(ctx, func(t *wtx) error {
		c, err := lockCluster(t, name)
		if err != nil {
			return err
		}
		if err := fn(&c); err != nil {
			fnErr = err
			return err
		}
		c.Name = name
		c.CreatedAt = storedTime(c.CreatedAt)
		if c.Tags == nil {
			c.Tags = map[string]string{}
		}
		c.Revision = t.revisions(1)
		tags, err := encodeTags(c.Tags)
		if err != nil {
			return err
		}
		_, err = t.Exec(ctx, `UPDATE clusters SET created_at = $1, version = $2, role_arn = $3, client_request_token = $4,
	config = $5, tags = $6, issuer_url = $7, issuer_jwks_url = $8, issuer_jwks = $9, issuer_signing_keys = $10, revision = $11
	WHERE name = $12`,
			micros(c.CreatedAt), c.Version, c.RoleARN, c.ClientRequestToken, c.Config, tags,
			c.Issuer.URL, c.Issuer.JWKSURL, c.Issuer.JWKS, c.Issuer.SigningKeys, c.Revision, name)
		out = c
		return err
	})
	if fnErr != nil && err == fnErr {
		return store.Cluster{}, fnErr
	}
	if err != nil {
		return store.Cluster{}, fmt.Errorf("updating cluster %q: %w", name, err)
	}
	return out, nil
}

// DeleteCluster implements store.Store. The cluster's associations are
// deleted with it, each leaving a tombstone (with its own revision) in the
// change feed.
func (s *Store) DeleteCluster(ctx context.Context, name string) (store.Cluster, error) {
	var out store.Cluster
	err := s.write(ctx, func(t *wtx) error {
		c, err := lockCluster(t, name)
		if err != nil {
			return err
		}
		var n int
		if err := t.QueryRow(ctx, "SELECT count(*) FROM associations WHERE cluster_name = $1", name).Scan(&n); err != nil {
			return err
		}
		// n revisions, one a tombstone; none when n is 0, but the
		// store's current revision for the result.
		first := t.revisions(n)
		c.Revision = first + int64(n) - 1
		if n > 0 {
			_, err = t.Exec(ctx, `INSERT INTO tombstones (revision, cluster_name, id, deleted_at)
	SELECT $1 + row_number() OVER (ORDER BY id) - 1, cluster_name, id, $2
	FROM associations WHERE cluster_name = $3`, first, micros(s.now()), name)
			if err != nil {
				return err
			}
			if _, err := t.Exec(ctx, "DELETE FROM associations WHERE cluster_name = $1", name); err != nil {
				return err
			}
		}
		if _, err := t.Exec(ctx, "DELETE FROM clusters WHERE name = $1", name); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		return store.Cluster{}, fmt.Errorf("deleting cluster %q: %w", name, err)
	}
	return out, nil
}

// ListClusters implements store.Store.
func (s *Store) ListClusters(ctx context.Context, p store.Page) ([]string, string, error) {
	if p.Limit < 1 {
		return nil, "", fmt.Errorf("listing clusters: page limit %d is not positive", p.Limit)
	}
	rows, err := s.pool.Query(ctx, "SELECT name FROM clusters WHERE name > $1 ORDER BY name LIMIT $2", p.After, p.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("listing clusters: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, "", fmt.Errorf("listing clusters: %w", err)
	}
	next := ""
	if len(names) > p.Limit {
		names = names[:p.Limit]
		next = names[p.Limit-1]
	}
	return names, next, nil
}

// replay looks up a client request token. A fresh record with the same hash
// is decoded into out (replayed); with another hash it is
// ErrIdempotencyMismatch; no record, or an expired one, is not a replay.
func (s *Store) replay(t *wtx, idem *store.Idempotency, out any) (bool, error) {
	var hash string
	var result []byte
	err := t.QueryRow(t.ctx, "SELECT hash, result FROM idempotency WHERE key = $1 AND created_at >= $2",
		idem.Key, micros(s.now().Add(-idempotencyTTL))).Scan(&hash, &result)
	if errNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading client request token: %w", err)
	}
	if hash != idem.Hash {
		return false, store.ErrIdempotencyMismatch
	}
	if err := json.Unmarshal(result, out); err != nil {
		return false, fmt.Errorf("decoding the stored result of a client request token: %w", err)
	}
	return true, nil
}

// remember stores v as the result of a client request token, replacing an
// expired record of the same key.
func (s *Store) remember(t *wtx, idem *store.Idempotency, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding the result of a client request token: %w", err)
	}
	_, err = t.Exec(t.ctx, `INSERT INTO idempotency (key, hash, result, created_at) VALUES ($1, $2, $3, $4)
	ON CONFLICT (key) DO UPDATE SET hash = excluded.hash, result = excluded.result, created_at = excluded.created_at`,
		idem.Key, idem.Hash, b, micros(s.now()))
	if err != nil {
		return fmt.Errorf("storing client request token: %w", err)
	}
	return nil
}

func encodeTags(tags map[string]string) ([]byte, error) {
	if len(tags) == 0 {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(tags)
	if err != nil {
		return nil, fmt.Errorf("encoding tags: %w", err)
	}
	return b, nil
}

func decodeTags(b []byte) (map[string]string, error) {
	tags := map[string]string{}
	if len(b) == 0 {
		return tags, nil
	}
	if err := json.Unmarshal(b, &tags); err != nil {
		return nil, fmt.Errorf("decoding tags: %w", err)
	}
	return tags, nil
}
