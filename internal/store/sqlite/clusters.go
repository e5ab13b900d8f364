package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/podid/podid/internal/store"
)

const clusterColumns = `name, created_at, version, role_arn, client_request_token, config, tags,
	issuer_url, issuer_jwks_url, issuer_jwks, issuer_signing_keys, revision`

type scanner interface{ Scan(dest ...any) error }

func scanCluster(r scanner) (store.Cluster, error) {
	var c store.Cluster
	var created int64
	var tags string
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
	err := s.w.do(ctx, func(tx *wtx) error {
		if idem != nil {
			replayed, err := s.replay(tx, idem, &out)
			if err != nil || replayed {
				return err
			}
		}
		var n int
		if err := tx.queryRow("SELECT count(*) FROM clusters WHERE name = ?", c.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return &store.ExistsError{}
		}
		rev, err := tx.revisions(1)
		if err != nil {
			return err
		}
		out = c
		out.Revision = rev
		out.CreatedAt = storedTime(out.CreatedAt)
		if out.Tags == nil {
			out.Tags = map[string]string{}
		}
		tags, err := encodeTags(out.Tags)
		if err != nil {
			return err
		}
		_, err = tx.exec(`INSERT INTO clusters (`+clusterColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			out.Name, micros(out.CreatedAt), out.Version, out.RoleARN, out.ClientRequestToken, out.Config, tags,
			out.Issuer.URL, out.Issuer.JWKSURL, out.Issuer.JWKS, out.Issuer.SigningKeys, out.Revision)
		if err != nil {
			return mapConstraint(err, "")
		}
		if idem != nil {
			return s.remember(tx, idem, out)
		}
		return nil
	})
	if err != nil {
		return store.Cluster{}, fmt.Errorf("creating cluster %q: %w", c.Name, err)
	}
	return out, nil
}

// readCluster reads a cluster inside the write transaction.
func readCluster(tx *wtx, name string) (store.Cluster, error) {
	c, err := scanCluster(tx.queryRow("SELECT "+clusterColumns+" FROM clusters WHERE name = ?", name))
	if errNoRows(err) {
		return store.Cluster{}, store.ErrNotFound
	}
	return c, err
}

// GetCluster implements store.Store.
func (s *Store) GetCluster(ctx context.Context, name string) (store.Cluster, error) {
	row, err := s.queryRow(ctx, "SELECT "+clusterColumns+" FROM clusters WHERE name = ?", name)
	if err == nil {
		var c store.Cluster
		if c, err = scanCluster(row); err == nil {
			return c, nil
		}
	}
	if errNoRows(err) {
		err = store.ErrNotFound
	}
	return store.Cluster{}, fmt.Errorf("getting cluster %q: %w", name, err)
}

// publicClusterColumns are clusterColumns without the key sets.
const publicClusterColumns = `name, created_at, version, role_arn, client_request_token, config, tags,
	issuer_url, issuer_jwks_url, revision`

// GetClusterPublic implements store.Store.
func (s *Store) GetClusterPublic(ctx context.Context, name string) (store.Cluster, error) {
	row, err := s.queryRow(ctx, "SELECT "+publicClusterColumns+" FROM clusters WHERE name = ?", name)
	if err == nil {
		var c store.Cluster
		var created int64
		var tags string
		err = row.Scan(&c.Name, &created, &c.Version, &c.RoleARN, &c.ClientRequestToken, &c.Config, &tags,
			&c.Issuer.URL, &c.Issuer.JWKSURL, &c.Revision)
		if err == nil {
			c.CreatedAt = fromMicros(created)
			if c.Tags, err = decodeTags(tags); err == nil {
				return c, nil
			}
		}
	}
	if errNoRows(err) {
		err = store.ErrNotFound
	}
	return store.Cluster{}, fmt.Errorf("getting cluster %q: %w", name, err)
}

// UpdateCluster implements store.Store.
func (s *Store) UpdateCluster(ctx context.Context, name string, fn func(*store.Cluster) error) (store.Cluster, error) {
	var out store.Cluster
	var fnErr error
	err := s.w.do(ctx, func(tx *wtx) error {
		c, err := readCluster(tx, name)
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
		if c.Revision, err = tx.revisions(1); err != nil {
			return err
		}
		tags, err := encodeTags(c.Tags)
		if err != nil {
			return err
		}
		_, err = tx.exec(`UPDATE clusters SET created_at = ?, version = ?, role_arn = ?, client_request_token = ?,
	config = ?, tags = ?, issuer_url = ?, issuer_jwks_url = ?, issuer_jwks = ?, issuer_signing_keys = ?, revision = ?
	WHERE name = ?`,
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
// deleted with it, each leaving a tombstone in the change feed.
func (s *Store) DeleteCluster(ctx context.Context, name string) (store.Cluster, error) {
	var out store.Cluster
	err := s.w.do(ctx, func(tx *wtx) error {
		c, err := readCluster(tx, name)
		if err != nil {
			return err
		}
		var n int
		if err := tx.queryRow("SELECT association_count FROM clusters WHERE name = ?", name).Scan(&n); err != nil {
			return err
		}
		// n revisions, one a tombstone; none when n is 0, but the
		// store's current revision for the result.
		first, err := tx.revisions(n)
		if err != nil {
			return err
		}
		c.Revision = first + int64(n) - 1
		if n > 0 {
			_, err = tx.exec(`INSERT INTO tombstones (revision, cluster_name, id, deleted_at)
	SELECT ? + row_number() OVER (ORDER BY id) - 1, cluster_name, id, ?
	FROM associations WHERE cluster_name = ?`, first, micros(s.now()), name)
			if err != nil {
				return err
			}
			if _, err := tx.exec("DELETE FROM associations WHERE cluster_name = ?", name); err != nil {
				return err
			}
		}
		if _, err := tx.exec("DELETE FROM clusters WHERE name = ?", name); err != nil {
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

// ListClusters implements store.Store. The page comes back as one row, its
// names joined by newlines: stepping through a hundred rows costs about
// twice as much CPU as the aggregate. Cluster names never hold a newline;
// should one, the row count tells, and the page is read row by row.
func (s *Store) ListClusters(ctx context.Context, p store.Page) ([]string, string, error) {
	if p.Limit < 1 {
		return nil, "", fmt.Errorf("listing clusters: page limit %d is not positive", p.Limit)
	}
	row, err := s.queryRow(ctx, `SELECT count(*), coalesce(group_concat(name, char(10)), '')
	FROM (SELECT name FROM clusters WHERE name > ? ORDER BY name LIMIT ?)`, p.After, p.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("listing clusters: %w", err)
	}
	var n int
	var joined string
	if err := row.Scan(&n, &joined); err != nil {
		return nil, "", fmt.Errorf("listing clusters: %w", err)
	}
	var names []string
	if n > 0 {
		names = strings.SplitN(joined, "\n", n+1)
	}
	if len(names) != n {
		if names, err = s.listClusterRows(ctx, p); err != nil {
			return nil, "", err
		}
	} else if !slices.IsSorted(names) {
		// The aggregate takes the subquery's rows in order in practice;
		// SQLite does not promise it, so check. The set is right either way.
		slices.Sort(names)
	}
	next := ""
	if len(names) > p.Limit {
		names = names[:p.Limit]
		next = names[p.Limit-1]
	}
	return names, next, nil
}

// listClusterRows reads a page of names (and the one after it) row by row.
func (s *Store) listClusterRows(ctx context.Context, p store.Page) ([]string, error) {
	rows, err := s.query(ctx, "SELECT name FROM clusters WHERE name > ? ORDER BY name LIMIT ?", p.After, p.Limit+1)
	if err != nil {
		return nil, fmt.Errorf("listing clusters: %w", err)
	}
	defer rows.Close()
	names := make([]string, 0, min(p.Limit, 100))
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("listing clusters: %w", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing clusters: %w", err)
	}
	return names, nil
}

func encodeTags(tags map[string]string) (string, error) {
	if len(tags) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(tags)
	if err != nil {
		return "", fmt.Errorf("encoding tags: %w", err)
	}
	return string(b), nil
}

func decodeTags(s string) (map[string]string, error) {
	tags := map[string]string{}
	if s == "" || s == "{}" {
		return tags, nil
	}
	if err := json.Unmarshal([]byte(s), &tags); err != nil {
		return nil, fmt.Errorf("decoding tags: %w", err)
	}
	return tags, nil
}
