package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
)

const clusterColumns = storecore.ClusterColumns

type scanner interface{ Scan(dest ...any) error }

func scanCluster(r scanner, public bool) (store.Cluster, error) {
	var row storecore.ClusterRow
	if err := r.Scan(row.Dest(public)...); err != nil {
		return store.Cluster{}, err
	}
	return row.Cluster()
}

// CreateCluster implements store.Store.
func (s *Store) CreateCluster(ctx context.Context, c store.Cluster, opts store.WriteOptions) (store.Cluster, error) {
	return storecore.Do(ctx, s.w.do, func(tx *wtx) (out store.Cluster, err error) {
		if replayed, err := s.replay(tx, opts.Idempotency, &out); err != nil || replayed {
			return out, err
		}
		var n int
		if err := tx.queryRow("SELECT count(*) FROM clusters WHERE region = ? AND name = ?", c.Region, c.Name).Scan(&n); err != nil {
			return out, err
		}
		if n > 0 {
			return out, &store.ExistsError{}
		}
		out = c
		if out.Revision, err = tx.revisions(1); err != nil {
			return out, err
		}
		storecore.NormalizeCluster(&out)
		v, err := storecore.ClusterValues(out)
		if err != nil {
			return out, err
		}
		if _, err := tx.exec(`INSERT INTO clusters (`+clusterColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, v...); err != nil {
			return out, mapConstraint(err, "")
		}
		return out, s.remember(tx, opts.Idempotency, out)
	}, "creating cluster %q in %s", c.Name, c.Region)
}

// readCluster reads a cluster inside the write transaction.
func readCluster(tx *wtx, region, name string) (store.Cluster, error) {
	c, err := scanCluster(tx.queryRow("SELECT "+clusterColumns+" FROM clusters WHERE region = ? AND name = ?", region, name), false)
	if errNoRows(err) {
		return store.Cluster{}, store.ErrNotFound
	}
	return c, err
}

// GetCluster implements store.Store.
func (s *Store) GetCluster(ctx context.Context, region, name string) (store.Cluster, error) {
	return s.getCluster(ctx, region, name, false)
}

// GetClusterPublic implements store.Store.
func (s *Store) GetClusterPublic(ctx context.Context, region, name string) (store.Cluster, error) {
	return s.clusters.cached(clusterKey{region, name}, func() (store.Cluster, error) {
		return s.getCluster(ctx, region, name, true)
	})
}

var getClusterQuery = [2]string{
	"SELECT " + clusterColumns + " FROM clusters WHERE region = ? AND name = ?",
	"SELECT " + storecore.PublicClusterColumns + " FROM clusters WHERE region = ? AND name = ?",
}

func (s *Store) getCluster(ctx context.Context, region, name string, public bool) (store.Cluster, error) {
	q := getClusterQuery[0]
	if public {
		q = getClusterQuery[1]
	}
	row, err := s.queryRow(ctx, q, region, name)
	if err == nil {
		var c store.Cluster
		if c, err = scanCluster(row, public); err == nil {
			return c, nil
		}
	}
	if errNoRows(err) {
		err = store.ErrNotFound
	}
	return store.Cluster{}, fmt.Errorf("getting cluster %q in %s: %w", name, region, err)
}

// UpdateCluster implements store.Store.
func (s *Store) UpdateCluster(ctx context.Context, region, name string, fn func(*store.Cluster) error) (store.Cluster, error) {
	return storecore.Do(ctx, s.w.do, func(tx *wtx) (store.Cluster, error) {
		c, err := readCluster(tx, region, name)
		if err != nil {
			return c, err
		}
		if err := storecore.EditCluster(&c, fn); err != nil {
			return c, err
		}
		if c.Revision, err = tx.revisions(1); err != nil {
			return c, err
		}
		v, err := storecore.ClusterUpdateValues(c)
		if err != nil {
			return c, err
		}
		_, err = tx.exec(`UPDATE clusters SET created_at = ?, version = ?, role_arn = ?, client_request_token = ?,
	config = ?, tags = ?, issuer_url = ?, issuer_jwks_url = ?, issuer_podid_url = ?,
	api_server_endpoint = ?, api_server_ca = ?, issuer_jwks = ?,
	issuer_signing_keys = ?, revision = ?
	WHERE region = ? AND name = ?`, v...)
		return c, err
	}, "updating cluster %q in %s", name, region)
}

// DeleteCluster implements store.Store. The cluster's associations are
// deleted with it, each leaving a tombstone in the change feed.
func (s *Store) DeleteCluster(ctx context.Context, region, name string) (store.Cluster, error) {
	return storecore.Do(ctx, s.w.do, func(tx *wtx) (store.Cluster, error) {
		c, err := readCluster(tx, region, name)
		if err != nil {
			return c, err
		}
		var n int
		if err := tx.queryRow("SELECT association_count FROM clusters WHERE region = ? AND name = ?", region, name).Scan(&n); err != nil {
			return c, err
		}
		// n revisions, one a tombstone; none when n is 0, but the
		// store's current revision for the result.
		first, err := tx.revisions(n)
		if err != nil {
			return c, err
		}
		c.Revision = first + int64(n) - 1
		if n > 0 {
			_, err = tx.exec(`INSERT INTO tombstones (revision, region, cluster_name, id, deleted_at)
	SELECT ? + row_number() OVER (ORDER BY id) - 1, region, cluster_name, id, ?
	FROM associations WHERE region = ? AND cluster_name = ?`, first, storecore.Micros(s.now()), region, name)
			if err != nil {
				return c, err
			}
			if _, err := tx.exec("DELETE FROM associations WHERE region = ? AND cluster_name = ?", region, name); err != nil {
				return c, err
			}
			tx.changedUnlisted() // n tombstones, numbered by SQL
		}
		_, err = tx.exec("DELETE FROM clusters WHERE region = ? AND name = ?", region, name)
		tx.dropAssociations() // its associations, deleted or cascaded
		return c, err
	}, "deleting cluster %q in %s", name, region)
}

// ListClusters implements store.Store. The page comes back as one row, its
// names joined by newlines: stepping through a hundred rows costs about
// twice as much CPU as the aggregate. Cluster names never hold a newline;
// should one, the row count tells, and the page is read row by row.
func (s *Store) ListClusters(ctx context.Context, region string, p store.Page) ([]string, string, error) {
	return storecore.ListClusters(ctx, region, p, s.readClusterNames)
}

// clusterPageKey is a page of ListClusters: region's names after after, at
// most limit of them (and the one after).
type clusterPageKey struct {
	region, after string
	limit         int
}

// clusterPages bounds the cached ListClusters pages: each holds up to 101
// names of up to 100 bytes, so 256 pages stay under about 3 MiB.
const clusterPages = 256

// readClusterNames reads up to p.Limit+1 of region's names after p.After,
// from clusterNames while no commit has changed the database since it read
// them (ListClusters asks for the same first page again and again).
func (s *Store) readClusterNames(ctx context.Context, region string, p store.Page) ([]string, error) {
	return s.clusterNames.cached(clusterPageKey{region, p.After, p.Limit}, func() ([]string, error) {
		return s.queryClusterNames(ctx, region, p)
	})
}

// queryClusterNames reads up to p.Limit+1 of region's names after p.After
// as one row.
func (s *Store) queryClusterNames(ctx context.Context, region string, p store.Page) ([]string, error) {
	n, joined, err := s.queryJoined(ctx, `SELECT count(*), coalesce(group_concat(name, char(10)), '')
	FROM (SELECT name FROM clusters WHERE region = ? AND name > ? ORDER BY name LIMIT ?)`, region, p.After, p.Limit+1)
	if err != nil {
		return nil, err
	}
	var names []string
	if n > 0 {
		names = strings.SplitN(joined, "\n", n+1)
	}
	if len(names) != n {
		return s.listClusterRows(ctx, region, p)
	}
	if !slices.IsSorted(names) {
		// The aggregate takes the subquery's rows in order in practice;
		// SQLite does not promise it, so check. The set is right either way.
		slices.Sort(names)
	}
	return names, nil
}

// listClusterRows reads a page of names (and the one after it) row by row.
func (s *Store) listClusterRows(ctx context.Context, region string, p store.Page) ([]string, error) {
	rows, err := s.query(ctx, "SELECT name FROM clusters WHERE region = ? AND name > ? ORDER BY name LIMIT ?", region, p.After, p.Limit+1)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names := make([]string, 0, min(p.Limit, 100))
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return names, nil
}

// AdoptRegion implements store.Store. Associations follow their clusters'
// new key (ON UPDATE CASCADE). With nothing to adopt (every start but the
// first after the migration) it only reads.
func (s *Store) AdoptRegion(ctx context.Context, region string) (int, error) {
	row, err := s.queryRow(ctx, "SELECT EXISTS (SELECT 1 FROM clusters WHERE region = '') OR EXISTS (SELECT 1 FROM tombstones WHERE region = '')")
	var pending bool
	if err == nil {
		err = row.Scan(&pending)
	}
	if err != nil || !pending {
		return 0, storecore.WriteError(err, "adopting the records stored without a region into %s", region)
	}
	return storecore.Do(ctx, s.w.do, func(tx *wtx) (int, error) {
		res, err := tx.exec("UPDATE clusters SET region = ? WHERE region = ''", region)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		if _, err := tx.exec("UPDATE associations SET region = ? WHERE region = ''", region); err != nil {
			return 0, err
		}
		tx.dropAssociations()
		_, err = tx.exec("UPDATE tombstones SET region = ? WHERE region = ''", region)
		return int(n), err
	}, "adopting the records stored without a region into %s", region)
}
