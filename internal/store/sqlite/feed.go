package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/podid/podid/internal/store"
)

// ChangesSince implements store.Store. Live associations and tombstones are
// read with one indexed range query each (at most limit rows apiece) and
// merged by revision.
func (s *Store) ChangesSince(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	changes, err := s.changesSince(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("reading changes since revision %d: %w", after, err)
	}
	return changes, nil
}

func (s *Store) changesSince(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	if limit < 1 {
		return nil, fmt.Errorf("limit %d is not positive", limit)
	}
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
	dead, err := s.scanChanges(ctx, tx, "SELECT revision, cluster_name, id FROM tombstones WHERE revision > ? ORDER BY revision LIMIT ?",
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
	return store.Change{Revision: a.Revision, ClusterName: a.ClusterName, AssociationID: a.ID, Association: &a}, nil
}

func scanDead(r scanner) (store.Change, error) {
	c := store.Change{Deleted: true}
	err := r.Scan(&c.Revision, &c.ClusterName, &c.AssociationID)
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

// Secret implements store.Store. gen runs outside the write transaction;
// the first value committed wins and every caller gets it.
func (s *Store) Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	v, err := s.readSecret(ctx, name)
	if err == nil {
		return v, nil
	}
	if !errNoRows(err) {
		return nil, fmt.Errorf("reading secret %q: %w", name, err)
	}
	fresh, err := gen()
	if err != nil {
		return nil, fmt.Errorf("generating secret %q: %w", name, err)
	}
	err = s.w.do(ctx, func(tx *wtx) error {
		if _, err := tx.exec("INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
			name, fresh, micros(s.now())); err != nil {
			return err
		}
		return tx.queryRow("SELECT value FROM secrets WHERE name = ?", name).Scan(&v)
	})
	if err != nil {
		return nil, fmt.Errorf("storing secret %q: %w", name, err)
	}
	return v, nil
}

func (s *Store) readSecret(ctx context.Context, name string) ([]byte, error) {
	row, err := s.queryRow(ctx, "SELECT value FROM secrets WHERE name = ?", name)
	if err != nil {
		return nil, err
	}
	var v []byte
	err = row.Scan(&v)
	return v, err
}
