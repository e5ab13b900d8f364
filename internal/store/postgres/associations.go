package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
)

const associationColumns = storecore.AssociationColumns

func scanAssociation(r pgx.Row) (store.Association, error) {
	var row storecore.AssociationRow
	if err := r.Scan(row.Dest()...); err != nil {
		return store.Association{}, err
	}
	return row.Association()
}

// uniqueViolation carries a unique-index violation out of the (then rolled
// back) transaction, so the winner can be looked up afterwards.
type uniqueViolation struct{ err error }

func (u *uniqueViolation) Error() string { return u.err.Error() }
func (u *uniqueViolation) Unwrap() error { return u.err }

// CreateAssociation implements store.Store.
func (s *Store) CreateAssociation(ctx context.Context, a store.Association, opts store.WriteOptions) (store.Association, error) {
	out, err := storecore.Do(ctx, s.write, func(t *wtx) (out store.Association, err error) {
		if replayed, err := s.replay(t, opts.Idempotency, &out); err != nil || replayed {
			return out, err
		}
		// Lock the cluster row: the count below stays true until
		// commit, and the cluster cannot be deleted meanwhile.
		var count int
		err = t.QueryRow(ctx, "SELECT association_count FROM clusters WHERE region = $1 AND name = $2 FOR UPDATE", a.Region, a.ClusterName).Scan(&count)
		if err != nil && !errNoRows(err) {
			return out, err
		}
		found := err == nil
		var existing string
		err = t.QueryRow(ctx, "SELECT id FROM associations WHERE region = $1 AND cluster_name = $2 AND namespace = $3 AND service_account = $4",
			a.Region, a.ClusterName, a.Namespace, a.ServiceAccount).Scan(&existing)
		if err != nil && !errNoRows(err) {
			return out, err
		}
		if err := storecore.CheckNewAssociation(a, opts, count, found, existing); err != nil {
			return out, err
		}
		out = a
		out.Revision = t.revisions(1)
		if err := insertAssociation(t, &out); err != nil {
			if code, _ := pgCode(err); code == codeUniqueViolation {
				return out, &uniqueViolation{err}
			}
			return out, err
		}
		if _, err := t.Exec(ctx, "UPDATE clusters SET association_count = association_count + 1 WHERE region = $1 AND name = $2", a.Region, a.ClusterName); err != nil {
			return out, err
		}
		t.changed(out.Revision, out.Region, out.ClusterName, out.ID, &out)
		return out, s.remember(t, opts.Idempotency, out)
	}, "creating association")
	if uv := (*uniqueViolation)(nil); errors.As(err, &uv) {
		return store.Association{}, fmt.Errorf("creating association: %w", s.existing(ctx, a, uv.err))
	}
	return out, err
}

// existing turns a unique violation on create into an *ExistsError naming
// the association that won. The checks before the insert make this a second
// line of defence: under the counter lock no other create can commit
// between them and the insert.
func (s *Store) existing(ctx context.Context, a store.Association, violation error) error {
	if _, constraint := pgCode(violation); constraint == "associations_pkey" {
		return fmt.Errorf("%w (%v)", &store.ExistsError{ID: a.ID}, violation)
	}
	var id string
	err := s.pool.QueryRow(ctx, "SELECT id FROM associations WHERE region = $1 AND cluster_name = $2 AND namespace = $3 AND service_account = $4",
		a.Region, a.ClusterName, a.Namespace, a.ServiceAccount).Scan(&id)
	if err != nil {
		// The winner is gone again (deleted meanwhile): still a
		// collision at the time of the insert.
		return fmt.Errorf("%w (%v)", &store.ExistsError{}, violation)
	}
	return &store.ExistsError{ID: id}
}

// insertAssociation stores a (normalising times to UTC and nil tags to an
// empty map).
func insertAssociation(t *wtx, a *store.Association) error {
	storecore.NormalizeAssociation(a)
	v, err := storecore.AssociationValues(*a)
	if err != nil {
		return err
	}
	_, err = t.Exec(t.ctx, `INSERT INTO associations (`+associationColumns+`)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`, v...)
	return err
}

// GetAssociation implements store.Store.
func (s *Store) GetAssociation(ctx context.Context, region, cluster, id string) (store.Association, error) {
	a, err := s.getAssociation(ctx, "SELECT "+associationColumns+" FROM associations WHERE region = $1 AND cluster_name = $2 AND id = $3", region, cluster, id)
	if err != nil {
		return store.Association{}, fmt.Errorf("getting association %s: %w", id, err)
	}
	return a, nil
}

func (s *Store) getAssociation(ctx context.Context, query string, args ...any) (store.Association, error) {
	a, err := scanAssociation(s.pool.QueryRow(ctx, query, args...))
	if errNoRows(err) {
		return store.Association{}, store.ErrNotFound
	}
	return a, err
}

// UpdateAssociation implements store.Store.
func (s *Store) UpdateAssociation(ctx context.Context, region, cluster, id string, fn func(*store.Association) error, opts store.WriteOptions) (store.Association, error) {
	r := newUpdateRead(region, cluster, id, opts.Idempotency)
	write := func(ctx context.Context, fn func(*wtx) error) error {
		return s.run(ctx, &writeReq{fn: fn, pre: &r.pre})
	}
	return storecore.Do(ctx, write, func(t *wtx) (out store.Association, err error) {
		a, replayed, err := s.readForUpdate(t, r, opts.Idempotency, &out)
		if err != nil || replayed {
			return out, err
		}
		if err := storecore.EditAssociation(&a, fn); err != nil {
			return out, err
		}
		a.Revision = t.revisions(1)
		v, err := storecore.AssociationUpdateValues(a)
		if err != nil {
			return out, err
		}
		t.changed(a.Revision, region, cluster, id, &a)
		if opts.Idempotency == nil {
			t.later(updateAssociation, v...)
			return a, nil
		}
		// One statement stores the association and its token's record.
		insert := updateRemembering
		if r.hash != nil { // the token has an (expired) record (readForUpdate)
			insert = updateRememberingAgain
		}
		return a, storecore.Remember(opts.Idempotency, a, s.now(), func(key string, rec storecore.Record) error {
			t.later(insert, append(v, key, rec.Hash, rec.Result, rec.CreatedAt)...)
			return nil
		})
	}, "updating association %s", id)
}

// updateAssociation stores an update (storecore.AssociationUpdateValues).
const updateAssociation = `UPDATE associations SET role_arn = $1, target_role_arn = $2, external_id = $3, policy = $4,
	disable_session_tags = $5, owner_arn = $6, tags = $7, created_at = $8, modified_at = $9, revision = $10
	WHERE region = $11 AND cluster_name = $12 AND id = $13`

// updateRemembering stores an update and its client request token's
// record ($14-$17: key, hash, result, created_at) in one statement, where
// two cost the server a statement's overhead more (and this process
// another message to encode and answer to read) per update. A token the
// update's read found no record of gets a plain insert: every writer of
// the table holds the counter lock, so no record of it can appear before
// this one commits (pruning only deletes), and the speculative insertion
// ON CONFLICT costs is not needed. updateRememberingAgain replaces an
// expired record (as remember does).
const (
	updateRemembering = `WITH u AS (` + updateAssociation + `)
	INSERT INTO idempotency (key, hash, result, created_at) VALUES ($14, $15, $16, $17)`
	updateRememberingAgain = updateRemembering + `
	ON CONFLICT (key) DO UPDATE SET hash = excluded.hash, result = excluded.result, created_at = excluded.created_at`
)

// readForUpdateQuery locks and reads an association and looks its update's
// client request token up ($1, NULL for none) in the same statement.
var readForUpdateQuery = "SELECT " + storecore.AssociationColumnsOf("a") + `, i.hash, i.result, i.created_at
	FROM associations AS a LEFT JOIN idempotency AS i ON i.key = $1
	WHERE a.region = $2 AND a.cluster_name = $3 AND a.id = $4 FOR UPDATE OF a`

// lookupToken reads a client request token's record.
const lookupToken = "SELECT hash, result, created_at FROM idempotency WHERE key = $1"

// updateRead is an update's read (readForUpdateQuery), which the writer
// may send ahead (prefetch).
type updateRead struct {
	pre     prefetch
	row     storecore.AssociationRow
	rec     storecore.Record
	hash    *string
	created *int64
}

func newUpdateRead(region, cluster, id string, idem *store.Idempotency) *updateRead {
	r := &updateRead{}
	var key *string
	r.pre.keys = []string{rowKey(region, cluster, id)}
	if idem != nil {
		key = &idem.Key
		r.pre.keys = append(r.pre.keys, "token\x00"+idem.Key)
		r.pre.tokenSQL, r.pre.tokenArgs = lookupToken, []any{idem.Key}
		r.pre.tokenDest = []any{&r.hash, &r.rec.Result, &r.created}
	}
	r.pre.sql = readForUpdateQuery
	r.pre.args = []any{key, region, cluster, id}
	dest := r.row.Dest()
	r.pre.dest = append(append(make([]any, 0, len(dest)+3), dest...), &r.hash, &r.rec.Result, &r.created)
	return r
}

// readForUpdate locks and reads the association, and its client request
// token's record (if any), in one statement (sent ahead with the batch's
// first round trip if the writer could): it returns the association, or
// replays the token's stored result into out (replayed).
func (s *Store) readForUpdate(t *wtx, r *updateRead, idem *store.Idempotency, out any) (a store.Association, replayed bool, err error) {
	found := false
	switch {
	case r.pre.hit:
		// The row from the row cache, and only the token's record
		// read (see Row cache in writer.go).
		found = true
		if !r.pre.tokenFound {
			r.hash, r.created = nil, nil
		}
	case r.pre.sent:
		found = !r.pre.noRows
	default:
		err = t.QueryRow(t.ctx, r.pre.sql, r.pre.args...).Scan(r.pre.dest...)
		if err != nil && !errNoRows(err) {
			return a, false, err
		}
		found = err == nil
	}
	if !found {
		// No such association; a replay of an update made before it
		// was deleted still answers with the stored result.
		if replayed, err := s.replay(t, idem, out); err != nil || replayed {
			return a, replayed, err
		}
		return a, false, store.ErrNotFound
	}
	if idem != nil && r.hash != nil && r.created != nil {
		r.rec.Hash, r.rec.CreatedAt = *r.hash, *r.created
		if replayed, err := storecore.Replay(idem, r.rec, s.now(), out); err != nil || replayed {
			return a, replayed, err
		}
	}
	if r.pre.hit {
		return r.pre.row, false, nil
	}
	a, err = r.row.Association()
	return a, false, err
}

// DeleteAssociation implements store.Store.
func (s *Store) DeleteAssociation(ctx context.Context, region, cluster, id string) (store.Association, error) {
	return storecore.Do(ctx, s.write, func(t *wtx) (store.Association, error) {
		a, err := scanAssociation(t.QueryRow(ctx, "DELETE FROM associations WHERE region = $1 AND cluster_name = $2 AND id = $3 RETURNING "+associationColumns, region, cluster, id))
		if errNoRows(err) {
			return a, store.ErrNotFound
		}
		if err != nil {
			return a, err
		}
		rev := t.revisions(1)
		if _, err := t.Exec(ctx, "UPDATE clusters SET association_count = association_count - 1 WHERE region = $1 AND name = $2", region, cluster); err != nil {
			return a, err
		}
		_, err = t.Exec(ctx, "INSERT INTO tombstones (revision, region, cluster_name, id, deleted_at) VALUES ($1, $2, $3, $4, $5)",
			rev, region, cluster, id, storecore.Micros(s.now()))
		t.changed(rev, region, cluster, id, nil)
		return storecore.Deleted(a, rev), err
	}, "deleting association %s", id)
}

// ListAssociations implements store.Store (storecore.ListAssociations).
func (s *Store) ListAssociations(ctx context.Context, region, cluster string, f store.AssociationFilter, p store.Page) ([]store.Association, string, error) {
	return storecore.ListAssociations(ctx, region, cluster, f, p, storecore.Dollar, s.queryAssociations, s.clusterExists)
}

// queryAssociations runs a query of associationColumns.
func (s *Store) queryAssociations(ctx context.Context, size int, query string, args ...any) ([]store.Association, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows(make([]store.Association, 0, size), rows, func(r pgx.CollectableRow) (store.Association, error) {
		return scanAssociation(r)
	})
}

func (s *Store) clusterExists(ctx context.Context, region, cluster string) error {
	_, err := s.associationCount(ctx, region, cluster)
	return err
}

// associationCount reads the cluster's association count, which writers
// keep in its row in the same transaction.
func (s *Store) associationCount(ctx context.Context, region, cluster string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, "SELECT association_count FROM clusters WHERE region = $1 AND name = $2", region, cluster).Scan(&n)
	if errNoRows(err) {
		return 0, store.ErrNotFound
	}
	return n, err
}
