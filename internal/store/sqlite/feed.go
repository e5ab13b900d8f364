package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
)

// ChangesSince implements store.Store. Live associations and tombstones are
// read with one indexed range query each (at most limit rows apiece) and
// merged by revision.
func (s *Store) ChangesSince(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	return storecore.ChangesSince(ctx, after, limit, s.changesSince)
}

func (s *Store) changesSince(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	// Both reads must see one snapshot, or a deletion committed between
	// them could hide an association from both. At most 2*limit rows.
	ctx, err := pointRead(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := s.rdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	live, err := s.scanChanges(ctx, tx, "SELECT "+associationColumns+
		" FROM associations WHERE revision > ? ORDER BY revision LIMIT ?", after, limit, scanLive)
	if err != nil {
		return nil, err
	}
	dead, err := s.scanChanges(ctx, tx, "SELECT revision, region, cluster_name, id FROM tombstones WHERE revision > ? ORDER BY revision LIMIT ?",
		after, limit, scanDead)
	if err != nil {
		return nil, err
	}
	out := make([]store.Change, 0, min(limit, len(live)+len(dead)))
	for len(out) < limit && (len(live) > 0 || len(dead) > 0) {
		if len(dead) == 0 || (len(live) > 0 && live[0].Revision < dead[0].Revision) {
			out = append(out, live[0])
			live = live[1:]
		} else {
			out = append(out, dead[0])
			dead = dead[1:]
		}
	}
	return out, nil
}

// scanChanges runs query (after, limit) in tx and scans each row with scan.
func (s *Store) scanChanges(ctx context.Context, tx *sql.Tx, query string, after int64, limit int, scan func(scanner) (store.Change, error)) ([]store.Change, error) {
	st, err := s.rst.get(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := tx.StmtContext(ctx, st).QueryContext(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Change
	for rows.Next() {
		c, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func scanLive(r scanner) (store.Change, error) {
	a, err := scanAssociation(r)
	if err != nil {
		return store.Change{}, err
	}
	return store.Change{Revision: a.Revision, Region: a.Region, ClusterName: a.ClusterName, AssociationID: a.ID, Association: &a}, nil
}

func scanDead(r scanner) (store.Change, error) {
	c := store.Change{Deleted: true}
	err := r.Scan(&c.Revision, &c.Region, &c.ClusterName, &c.AssociationID)
	return c, err
}

// Revision implements store.Store.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	row, err := s.queryRow(ctx, "SELECT revision FROM meta WHERE id = 1")
	var rev int64
	if err == nil {
		err = row.Scan(&rev)
	}
	if err != nil {
		return 0, fmt.Errorf("reading revision: %w", err)
	}
	return rev, nil
}

// Secret implements store.Store (storecore.Secret's flow).
func (s *Store) Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	read := func(ctx context.Context) ([]byte, bool, error) {
		row, err := s.queryRow(ctx, "SELECT value FROM secrets WHERE name = ?", name)
		if err != nil {
			return nil, false, err
		}
		var v []byte
		err = row.Scan(&v)
		if errNoRows(err) {
			return nil, false, nil
		}
		return v, err == nil, err
	}
	insert := func(ctx context.Context, fresh []byte, now int64) error {
		return s.w.do(ctx, func(tx *wtx) error {
			_, err := tx.exec("INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING", name, fresh, now)
			return err
		})
	}
	return storecore.Secret(ctx, name, gen, read, insert, s.now())
}
