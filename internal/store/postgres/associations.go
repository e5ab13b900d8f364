package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/podid/podid/internal/store"
)

const associationColumns = `id, cluster_name, namespace, service_account, role_arn, target_role_arn,
	external_id, policy, disable_session_tags, owner_arn, tags, created_at, modified_at, revision`

func scanAssociation(r pgx.Row) (store.Association, error) {
	var a store.Association
	var tags []byte
	var created, modified int64
	err := r.Scan(&a.ID, &a.ClusterName, &a.Namespace, &a.ServiceAccount, &a.RoleARN, &a.TargetRoleARN,
		&a.ExternalID, &a.Policy, &a.DisableSessionTags, &a.OwnerARN, &tags, &created, &modified, &a.Revision)
	if err != nil {
		return store.Association{}, err
	}
	a.CreatedAt = fromMicros(created)
	a.ModifiedAt = fromMicros(modified)
	if a.Tags, err = decodeTags(tags); err != nil {
		return store.Association{}, err
	}
	return a, nil
}

// uniqueViolation carries a unique-index violation out of the (then rolled
// back) transaction, so the winner can be looked up afterwards.
type uniqueViolation struct{ err error }

func (u *uniqueViolation) Error() string { return u.err.Error() }
func (u *uniqueViolation) Unwrap() error { return u.err }

// CreateAssociation implements store.Store.
func (s *Store) CreateAssociation(ctx context.Context, a store.Association, opts store.WriteOptions) (store.Association, error) {
	var out store.Association
	err := s.write(ctx, func(t *wtx) error {
		if opts.Idempotency != nil {
			replayed, err := s.replay(t, opts.Idempotency, &out)
			if err != nil || replayed {
				return err
			}
		}
		// Lock the cluster row: the count below stays true until
		// commit, and the cluster cannot be deleted meanwhile.
		var count int
		err := t.QueryRow(ctx, "SELECT association_count FROM clusters WHERE name = $1 FOR UPDATE", a.ClusterName).Scan(&count)
		if errNoRows(err) {
			return fmt.Errorf("cluster %q: %w", a.ClusterName, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		var existing string
		err = t.QueryRow(ctx, "SELECT id FROM associations WHERE cluster_name = $1 AND namespace = $2 AND service_account = $3",
			a.ClusterName, a.Namespace, a.ServiceAccount).Scan(&existing)
		if err == nil {
			return &store.ExistsError{ID: existing}
		}
		if !errNoRows(err) {
			return err
		}
		if opts.MaxPerCluster > 0 && count >= opts.MaxPerCluster {
			return fmt.Errorf("cluster %q has %d associations: %w", a.ClusterName, count, store.ErrLimitExceeded)
		}
		out = a
		out.Revision = t.revisions(1)
		if err := insertAssociation(t, &out); err != nil {
			if code, _ := pgCode(err); code == codeUniqueViolation {
				return &uniqueViolation{err}
			}
			return err
		}
		if _, err := t.Exec(ctx, "UPDATE clusters SET association_count = association_count + 1 WHERE name = $1", a.ClusterName); err != nil {
			return err
		}
		if opts.Idempotency != nil {
			return s.remember(t, opts.Idempotency, out)
		}
		return nil
	})
	if uv := (*uniqueViolation)(nil); errors.As(err, &uv) {
		err = s.existing(ctx, a, uv.err)
	}
	if err != nil {
		return store.Association{}, fmt.Errorf("creating association: %w", err)
	}
	return out, nil
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
	err := s.pool.QueryRow(ctx, "SELECT id FROM associations WHERE cluster_name = $1 AND namespace = $2 AND service_account = $3",
		a.ClusterName, a.Namespace, a.ServiceAccount).Scan(&id)
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
	a.CreatedAt = storedTime(a.CreatedAt)
	a.ModifiedAt = storedTime(a.ModifiedAt)
	if a.Tags == nil {
		a.Tags = map[string]string{}
	}
	tags, err := encodeTags(a.Tags)
	if err != nil {
		return err
	}
	_, err = t.Exec(t.ctx, `INSERT INTO associations (`+associationColumns+`)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		a.ID, a.ClusterName, a.Namespace, a.ServiceAccount, a.RoleARN, a.TargetRoleARN,
		a.ExternalID, a.Policy, a.DisableSessionTags, a.OwnerARN, tags,
		micros(a.CreatedAt), micros(a.ModifiedAt), a.Revision)
	return err
}

// GetAssociation implements store.Store.
func (s *Store) GetAssociation(ctx context.Context, cluster, id string) (store.Association, error) {
	a, err := s.getAssociation(ctx, "SELECT "+associationColumns+" FROM associations WHERE cluster_name = $1 AND id = $2", cluster, id)
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
func (s *Store) UpdateAssociation(ctx context.Context, cluster, id string, fn func(*store.Association) error, opts store.WriteOptions) (store.Association, error) {
	var out store.Association
	var fnErr error
	err := s.write(ctx, func(t *wtx) error {
		if opts.Idempotency != nil {
			replayed, err := s.replay(t, opts.Idempotency, &out)
			if err != nil || replayed {
				return err
			}
		}
		a, err := scanAssociation(t.QueryRow(ctx, "SELECT "+associationColumns+
			" FROM associations WHERE cluster_name = $1 AND id = $2 FOR UPDATE", cluster, id))
		if errNoRows(err) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		key := a
		if err := fn(&a); err != nil {
			fnErr = err
			return err
		}
		// The key cannot move: an association stays in its cluster,
		// namespace and service account.
		a.ID, a.ClusterName, a.Namespace, a.ServiceAccount = key.ID, key.ClusterName, key.Namespace, key.ServiceAccount
		a.CreatedAt = storedTime(a.CreatedAt)
		a.ModifiedAt = storedTime(a.ModifiedAt)
		if a.Tags == nil {
			a.Tags = map[string]string{}
		}
		a.Revision = t.revisions(1)
		tags, err := encodeTags(a.Tags)
		if err != nil {
			return err
		}
		_, err = t.Exec(ctx, `UPDATE associations SET role_arn = $1, target_role_arn = $2, external_id = $3, policy = $4,
	disable_session_tags = $5, owner_arn = $6, tags = $7, created_at = $8, modified_at = $9, revision = $10
	WHERE cluster_name = $11 AND id = $12`,
			a.RoleARN, a.TargetRoleARN, a.ExternalID, a.Policy, a.DisableSessionTags, a.OwnerARN, tags,
			micros(a.CreatedAt), micros(a.ModifiedAt), a.Revision, cluster, id)
		if err != nil {
			return err
		}
		out = a
		if opts.Idempotency != nil {
			return s.remember(t, opts.Idempotency, out)
		}
		return nil
	})
	if fnErr != nil && err == fnErr {
		return store.Association{}, fnErr
	}
	if err != nil {
		return store.Association{}, fmt.Errorf("updating association %s: %w", id, err)
	}
	return out, nil
}

// DeleteAssociation implements store.Store.
func (s *Store) DeleteAssociation(ctx context.Context, cluster, id string) (store.Association, error) {
	var out store.Association
	err := s.write(ctx, func(t *wtx) error {
		a, err := scanAssociation(t.QueryRow(ctx, "DELETE FROM associations WHERE cluster_name = $1 AND id = $2 RETURNING "+associationColumns, cluster, id))
		if errNoRows(err) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		rev := t.revisions(1)
		if _, err := t.Exec(ctx, "UPDATE clusters SET association_count = association_count - 1 WHERE name = $1", cluster); err != nil {
			return err
		}
		_, err = t.Exec(ctx, "INSERT INTO tombstones (revision, cluster_name, id, deleted_at) VALUES ($1, $2, $3, $4)",
			rev, cluster, id, micros(s.now()))
		out = a
		out.Revision = rev
		return err
	})
	if err != nil {
		return store.Association{}, fmt.Errorf("deleting association %s: %w", id, err)
	}
	return out, nil
}

// ListAssociations implements store.Store. It reads one range of the
// (cluster, id) primary key: Limit+1 rows, the extra one only telling
// whether there is a next page.
func (s *Store) ListAssociations(ctx context.Context, cluster string, f store.AssociationFilter, p store.Page) ([]store.Association, string, error) {
	items, next, err := s.listAssociations(ctx, cluster, f, p)
	if err != nil {
		return nil, "", fmt.Errorf("listing associations of cluster %q: %w", cluster, err)
	}
	return items, next, nil
}

func (s *Store) listAssociations(ctx context.Context, cluster string, f store.AssociationFilter, p store.Page) ([]store.Association, string, error) {
	if p.Limit < 1 {
		return nil, "", fmt.Errorf("page limit %d is not positive", p.Limit)
	}
	query := "SELECT " + associationColumns + " FROM associations WHERE cluster_name = $1 AND id > $2"
	args := []any{cluster, p.After}
	if f.Namespace != "" {
		args = append(args, f.Namespace)
		query += " AND namespace = $" + strconv.Itoa(len(args))
	}
	if f.ServiceAccount != "" {
		args = append(args, f.ServiceAccount)
		query += " AND service_account = $" + strconv.Itoa(len(args))
	}
	args = append(args, p.Limit+1)
	query += " ORDER BY id LIMIT $" + strconv.Itoa(len(args))

	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, "", err
	}
	items := make([]store.Association, 0, min(p.Limit+1, 101))
	for rows.Next() {
		a, err := scanAssociation(rows)
		if err != nil {
			rows.Close()
			return nil, "", err
		}
		items = append(items, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	if len(items) == 0 {
		// Nothing listed: tell an empty cluster from a missing one.
		if _, err := s.associationCount(ctx, cluster); err != nil {
			return nil, "", err
		}
	}
	next := ""
	if len(items) > p.Limit {
		items = items[:p.Limit]
		next = items[p.Limit-1].ID
	}
	return items, next, nil
}

// associationCount reads the cluster's association count, which writers
// keep in its row in the same transaction.
func (s *Store) associationCount(ctx context.Context, cluster string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, "SELECT association_count FROM clusters WHERE name = $1", cluster).Scan(&n)
	if errNoRows(err) {
		return 0, store.ErrNotFound
	}
	return n, err
}
