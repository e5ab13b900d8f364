package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/podid/podid/internal/store"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const associationColumns = `id, cluster_name, namespace, service_account, role_arn, target_role_arn,
	external_id, policy, disable_session_tags, owner_arn, tags, created_at, modified_at, revision`

// associationColumnsOf is associationColumns qualified by a table alias.
func associationColumnsOf(alias string) string {
	cols := strings.Split(associationColumns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// scanAssociation scans associationColumns, then the row's further
// columns into extra.
func scanAssociation(r scanner, extra ...any) (store.Association, error) {
	var a store.Association
	var tags string
	var created, modified int64
	dest := []any{&a.ID, &a.ClusterName, &a.Namespace, &a.ServiceAccount, &a.RoleARN, &a.TargetRoleARN,
		&a.ExternalID, &a.Policy, &a.DisableSessionTags, &a.OwnerARN, &tags, &created, &modified, &a.Revision}
	err := r.Scan(append(dest, extra...)...)
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

// CreateAssociation implements store.Store.
func (s *Store) CreateAssociation(ctx context.Context, a store.Association, opts store.WriteOptions) (store.Association, error) {
	var out store.Association
	err := s.w.do(ctx, func(tx *wtx) error {
		if opts.Idempotency != nil {
			replayed, err := s.replay(tx, opts.Idempotency, &out)
			if err != nil || replayed {
				return err
			}
		}
		var count int
		err := tx.queryRow("SELECT association_count FROM clusters WHERE name = ?", a.ClusterName).Scan(&count)
		if errNoRows(err) {
			return fmt.Errorf("cluster %q: %w", a.ClusterName, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		var existing string
		err = tx.queryRow("SELECT id FROM associations WHERE cluster_name = ? AND namespace = ? AND service_account = ?",
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
		if out.Revision, err = tx.revisions(1); err != nil {
			return err
		}
		if err := insertAssociation(tx, &out); err != nil {
			return mapConstraint(err, out.ID)
		}
		if opts.Idempotency != nil {
			return s.remember(tx, opts.Idempotency, out)
		}
		return nil
	})
	if err != nil {
		return store.Association{}, fmt.Errorf("creating association: %w", err)
	}
	return out, nil
}

// insertAssociation stores a (normalising times to UTC and nil tags to an
// empty map).
func insertAssociation(tx *wtx, a *store.Association) error {
	a.CreatedAt = storedTime(a.CreatedAt)
	a.ModifiedAt = storedTime(a.ModifiedAt)
	if a.Tags == nil {
		a.Tags = map[string]string{}
	}
	tags, err := encodeTags(a.Tags)
	if err != nil {
		return err
	}
	_, err = tx.exec(`INSERT INTO associations (`+associationColumns+`)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.ClusterName, a.Namespace, a.ServiceAccount, a.RoleARN, a.TargetRoleARN,
		a.ExternalID, a.Policy, a.DisableSessionTags, a.OwnerARN, tags,
		micros(a.CreatedAt), micros(a.ModifiedAt), a.Revision)
	return err
}

// readAssociation reads an association inside the write transaction.
func readAssociation(tx *wtx, cluster, id string) (store.Association, error) {
	a, err := scanAssociation(tx.queryRow("SELECT "+associationColumns+
		" FROM associations WHERE cluster_name = ? AND id = ?", cluster, id))
	if errNoRows(err) {
		return store.Association{}, store.ErrNotFound
	}
	return a, err
}

// GetAssociation implements store.Store.
func (s *Store) GetAssociation(ctx context.Context, cluster, id string) (store.Association, error) {
	a, err := s.getAssociation(ctx, "SELECT "+associationColumns+" FROM associations WHERE cluster_name = ? AND id = ?", cluster, id)
	if err != nil {
		return store.Association{}, fmt.Errorf("getting association %s: %w", id, err)
	}
	return a, nil
}

func (s *Store) getAssociation(ctx context.Context, query string, args ...any) (store.Association, error) {
	row, err := s.queryRow(ctx, query, args...)
	if err != nil {
		return store.Association{}, err
	}
	a, err := scanAssociation(row)
	if errNoRows(err) {
		return store.Association{}, store.ErrNotFound
	}
	return a, err
}

// UpdateAssociation implements store.Store.
func (s *Store) UpdateAssociation(ctx context.Context, cluster, id string, fn func(*store.Association) error, opts store.WriteOptions) (store.Association, error) {
	var out store.Association
	var fnErr error
	err := s.w.do(ctx, func(tx *wtx) error {
		var a store.Association
		var err error
		if opts.Idempotency != nil {
			// The token's record and the association in one read.
			var replayed bool
			a, replayed, err = s.readForUpdate(tx, cluster, id, opts.Idempotency, &out)
			if err != nil || replayed {
				return err
			}
		} else if a, err = readAssociation(tx, cluster, id); err != nil {
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
		if a.Revision, err = tx.revisions(1); err != nil {
			return err
		}
		tags, err := encodeTags(a.Tags)
		if err != nil {
			return err
		}
		_, err = tx.exec(`UPDATE associations SET role_arn = ?, target_role_arn = ?, external_id = ?, policy = ?,
	disable_session_tags = ?, owner_arn = ?, tags = ?, created_at = ?, modified_at = ?, revision = ?
	WHERE cluster_name = ? AND id = ?`,
			a.RoleARN, a.TargetRoleARN, a.ExternalID, a.Policy, a.DisableSessionTags, a.OwnerARN, tags,
			micros(a.CreatedAt), micros(a.ModifiedAt), a.Revision, cluster, id)
		if err != nil {
			return err
		}
		out = a
		if opts.Idempotency != nil {
			return s.remember(tx, opts.Idempotency, out)
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
	err := s.w.do(ctx, func(tx *wtx) error {
		a, err := readAssociation(tx, cluster, id)
		if err != nil {
			return err
		}
		rev, err := tx.revisions(1)
		if err != nil {
			return err
		}
		if _, err := tx.exec("DELETE FROM associations WHERE cluster_name = ? AND id = ?", cluster, id); err != nil {
			return err
		}
		_, err = tx.exec("INSERT INTO tombstones (revision, cluster_name, id, deleted_at) VALUES (?, ?, ?, ?)",
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
	query := "SELECT " + associationColumns + " FROM associations WHERE cluster_name = ? AND id > ?"
	args := []any{cluster, p.After}
	if f.Namespace != "" {
		query += " AND namespace = ?"
		args = append(args, f.Namespace)
	}
	if f.ServiceAccount != "" {
		query += " AND service_account = ?"
		args = append(args, f.ServiceAccount)
	}
	query += " ORDER BY id LIMIT ?"
	args = append(args, p.Limit+1)

	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	items := make([]store.Association, 0, min(p.Limit+1, 101))
	for rows.Next() {
		a, err := scanAssociation(rows)
		if err != nil {
			return nil, "", err
		}
		items = append(items, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	if len(items) == 0 {
		// Nothing listed: tell an empty cluster from a missing one.
		if err := s.clusterExists(ctx, cluster); err != nil {
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

// associationCount reads the cluster's association count, which triggers
// keep in its row.
func (s *Store) associationCount(ctx context.Context, cluster string) (int, error) {
	row, err := s.queryRow(ctx, "SELECT association_count FROM clusters WHERE name = ?", cluster)
	if err != nil {
		return 0, err
	}
	var n int
	err = row.Scan(&n)
	if errNoRows(err) {
		return 0, store.ErrNotFound
	}
	return n, err
}

func (s *Store) clusterExists(ctx context.Context, cluster string) error {
	_, err := s.associationCount(ctx, cluster)
	return err
}

// replay looks the idempotency token up inside the write transaction. A
// live record with the same hash is decoded into out (replayed = true); one
// with another hash is ErrIdempotencyMismatch; none, or an expired one, lets
// the write go ahead.
func (s *Store) replay(tx *wtx, idem *store.Idempotency, out any) (replayed bool, err error) {
	var hash string
	var result []byte
	var created int64
	err = tx.queryRow("SELECT hash, result, created_at FROM idempotency WHERE key = ?", idem.Key).Scan(&hash, &result, &created)
	if errNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading idempotency record: %w", err)
	}
	return s.replayRecord(idem, hash, result, created, out)
}

// replayRecord decides on a token's stored record as replay describes.
func (s *Store) replayRecord(idem *store.Idempotency, hash string, result []byte, created int64, out any) (replayed bool, err error) {
	if fromMicros(created).Before(s.now().Add(-idempotencyTTL)) {
		return false, nil
	}
	if hash != idem.Hash {
		return false, store.ErrIdempotencyMismatch
	}
	if err := json.Unmarshal(result, out); err != nil {
		return false, fmt.Errorf("decoding idempotency record: %w", err)
	}
	return true, nil
}

var readForUpdateQuery = "SELECT " + associationColumnsOf("a") + `, i.hash, i.result, i.created_at
	FROM associations AS a LEFT JOIN idempotency AS i ON i.key = ?
	WHERE a.cluster_name = ? AND a.id = ?`

// readForUpdate is replay followed by readAssociation in one statement
// (the writer's hot path): it returns the association, or replays the
// token's stored result into out (replayed = true).
func (s *Store) readForUpdate(tx *wtx, cluster, id string, idem *store.Idempotency, out any) (a store.Association, replayed bool, err error) {
	var hash sql.NullString
	var result []byte
	var created sql.NullInt64
	a, err = scanAssociation(tx.queryRow(readForUpdateQuery, idem.Key, cluster, id), &hash, &result, &created)
	if errNoRows(err) {
		// No such association; a replay of an update made before it
		// was deleted still answers with the stored result.
		if replayed, err := s.replay(tx, idem, out); err != nil || replayed {
			return store.Association{}, replayed, err
		}
		return store.Association{}, false, store.ErrNotFound
	}
	if err != nil {
		return store.Association{}, false, err
	}
	if hash.Valid {
		if replayed, err := s.replayRecord(idem, hash.String, result, created.Int64, out); err != nil || replayed {
			return store.Association{}, replayed, err
		}
	}
	return a, false, nil
}

// remember stores the result of a write made with an idempotency token.
func (s *Store) remember(tx *wtx, idem *store.Idempotency, result any) error {
	b, err := json.Marshal(result)
	if err != nil {
		return fmt.Errorf("encoding idempotency record: %w", err)
	}
	// REPLACE (a token reused after it expired) deletes the old record
	// and appends a new one, so created_at stays ordered by seq as
	// prune expects (up to clock steps, which only delay pruning).
	_, err = tx.exec(`INSERT OR REPLACE INTO idempotency (key, hash, result, created_at) VALUES (?, ?, ?, ?)`,
		idem.Key, idem.Hash, b, micros(s.now()))
	if err != nil {
		return fmt.Errorf("storing idempotency record: %w", err)
	}
	return nil
}

// mapConstraint turns a uniqueness violation into store.ErrAlreadyExists
// (naming id) and a foreign key violation into store.ErrNotFound; the
// checks before each insert make these a second line of defence.
func mapConstraint(err error, id string) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%w (%v)", &store.ExistsError{ID: id}, err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w (%v)", store.ErrNotFound, err)
	}
	return err
}
