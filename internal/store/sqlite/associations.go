package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const associationColumns = storecore.AssociationColumns

// scanAssociation scans associationColumns.
func scanAssociation(r scanner) (store.Association, error) {
	var row storecore.AssociationRow
	if err := r.Scan(row.Dest()...); err != nil {
		return store.Association{}, err
	}
	return row.Association()
}

// CreateAssociation implements store.Store.
func (s *Store) CreateAssociation(ctx context.Context, a store.Association, opts store.WriteOptions) (store.Association, error) {
	return storecore.Do(ctx, s.w.do, func(tx *wtx) (out store.Association, err error) {
		if replayed, err := s.replay(tx, opts.Idempotency, &out); err != nil || replayed {
			return out, err
		}
		var count int
		err = tx.queryRow("SELECT association_count FROM clusters WHERE region = ? AND name = ?", a.Region, a.ClusterName).Scan(&count)
		if err != nil && !errNoRows(err) {
			return out, err
		}
		found := err == nil
		var existing string
		err = tx.queryRow("SELECT id FROM associations WHERE region = ? AND cluster_name = ? AND namespace = ? AND service_account = ?",
			a.Region, a.ClusterName, a.Namespace, a.ServiceAccount).Scan(&existing)
		if err != nil && !errNoRows(err) {
			return out, err
		}
		if err := storecore.CheckNewAssociation(a, opts, count, found, existing); err != nil {
			return out, err
		}
		out = a
		if out.Revision, err = tx.revisions(1); err != nil {
			return out, err
		}
		if err := insertAssociation(tx, &out); err != nil {
			return out, mapConstraint(err, out.ID)
		}
		tx.putAssociation(out)
		tx.changed(out.Revision, out.Region, out.ClusterName, out.ID, &out)
		return out, s.remember(tx, opts.Idempotency, out)
	}, "creating association")
}

// insertAssociation stores a (normalising times to UTC and nil tags to an
// empty map).
func insertAssociation(tx *wtx, a *store.Association) error {
	storecore.NormalizeAssociation(a)
	v, err := storecore.AssociationValues(*a)
	if err != nil {
		return err
	}
	_, err = tx.exec(`INSERT INTO associations (`+associationColumns+`)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, v...)
	return err
}

// readAssociation reads an association inside the write transaction, from
// the writer's cache if it holds it.
func readAssociation(tx *wtx, region, cluster, id string) (store.Association, error) {
	if a, ok := tx.cachedAssociation(assocKey{region, cluster, id}); ok {
		return a, nil
	}
	a, err := pointReadAssociation(tx.w.readRow, region, cluster, id)
	if err == nil {
		tx.putAssociation(a)
	}
	return a, err
}

// rowReader is readRow of the writer's connection or of the read pool.
type rowReader func(query string, args []driver.NamedValue, dest []driver.Value) (found bool, err error)

// pointReadAssociation reads the association of a key with read: as one
// record (getAssociationQuery), or column by column if it does not decode.
func pointReadAssociation(read rowReader, region, cluster, id string) (store.Association, error) {
	var v [1]driver.Value
	found, err := read(getAssociationQuery, keyArgs(region, cluster, id), v[:])
	if err != nil {
		return store.Association{}, err
	}
	if !found {
		return store.Association{}, store.ErrNotFound
	}
	if a, ok := decodeAssociationRecord(v[0]); ok {
		return a, nil
	}
	return readAssociationColumns(read, region, cluster, id)
}

// readAssociationColumns reads the association of a key with read, a
// value per column.
func readAssociationColumns(read rowReader, region, cluster, id string) (store.Association, error) {
	var v [associationValues]driver.Value
	found, err := read(getAssociationColumnsQuery, keyArgs(region, cluster, id), v[:])
	if err != nil {
		return store.Association{}, err
	}
	if !found {
		return store.Association{}, store.ErrNotFound
	}
	return decodeAssociation(v[:], region, cluster, id)
}

// decodeAssociationRecord decodes v, a record of pageRecordFormat; false
// if it is not one (NULL, or a value printf could not carry).
func decodeAssociationRecord(v driver.Value) (store.Association, bool) {
	rec, ok := v.(string)
	if !ok {
		return store.Association{}, false
	}
	items, ok := decodeAssociationPage(rec, 1, 1)
	if !ok {
		return store.Association{}, false
	}
	return items[0], true
}

// keyArgs are an association's key, the arguments of getAssociationQuery,
// after any before.
func keyArgs(region, cluster, id string, before ...any) []driver.NamedValue {
	args := make([]driver.NamedValue, 0, len(before)+3)
	for _, v := range before {
		args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
	}
	for _, v := range [...]string{region, cluster, id} {
		args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
	}
	return args
}

// GetAssociation implements store.Store.
func (s *Store) GetAssociation(ctx context.Context, region, cluster, id string) (store.Association, error) {
	a, err := s.assocs.cached(assocKey{region, cluster, id}, func() (store.Association, error) {
		return s.lookupAssociation(ctx, region, cluster, id)
	})
	if err != nil {
		return store.Association{}, fmt.Errorf("getting association %s: %w", id, err)
	}
	return a, nil
}

// getAssociationQuery reads an association by its key as one value, a
// record of pageRecordFormat, as List reads a page (listpage.go): through
// the driver, each column of a row cost some 0.25 µs of CPU (its name and
// declared type, a locked call, a Go string), and the twelve columns of
// getAssociationColumnsQuery were half of the read (5.4-5.9 µs, one
// column 1.7 µs). getAssociationColumnsQuery reads the columns for a
// record that does not decode: the columns of associationColumns but the
// key's own (region, id, cluster_name), which are the key's values
// (compared with BINARY collation), in this order.
const (
	getAssociationQuery        = `SELECT ` + pageRecordFormat + ` FROM associations WHERE region = ? AND cluster_name = ? AND id = ?`
	getAssociationColumnsQuery = `SELECT namespace, service_account, role_arn, target_role_arn, external_id, policy,
	disable_session_tags, owner_arn, tags, created_at, modified_at, revision
	FROM associations WHERE region = ? AND cluster_name = ? AND id = ?`
)

// associationValues is how many columns getAssociationColumnsQuery reads.
const associationValues = 12

// lookupAssociation is GetAssociation's read (the hottest of the EKS API),
// through the driver's interfaces (rawStmts).
func (s *Store) lookupAssociation(ctx context.Context, region, cluster, id string) (store.Association, error) {
	return pointReadAssociation(func(query string, args []driver.NamedValue, dest []driver.Value) (bool, error) {
		return s.raw.readRow(ctx, query, args, dest)
	}, region, cluster, id)
}

// decodeAssociation is the association of key (region, cluster, id) from
// the driver's values of getAssociationColumnsQuery's columns.
func decodeAssociation(v []driver.Value, region, cluster, id string) (store.Association, error) {
	a := store.Association{Region: region, ClusterName: cluster, ID: id}
	var tags string
	var disable, created, modified int64
	d := rawDecoder{v: v[:associationValues]}
	d.text(&a.Namespace, &a.ServiceAccount, &a.RoleARN, &a.TargetRoleARN, &a.ExternalID, &a.Policy)
	d.integer(&disable)
	d.text(&a.OwnerARN, &tags)
	d.integer(&created, &modified, &a.Revision)
	if d.err != nil {
		return store.Association{}, d.err
	}
	a.DisableSessionTags = disable != 0
	a.CreatedAt, a.ModifiedAt = storecore.FromMicros(created), storecore.FromMicros(modified)
	var err error
	if a.Tags, err = storecore.DecodeTags([]byte(tags)); err != nil {
		return store.Association{}, err
	}
	return a, nil
}

// UpdateAssociation implements store.Store.
func (s *Store) UpdateAssociation(ctx context.Context, region, cluster, id string, fn func(*store.Association) error, opts store.WriteOptions) (store.Association, error) {
	return storecore.Do(ctx, s.w.do, func(tx *wtx) (store.Association, error) {
		return s.updateAssociation(tx, region, cluster, id, fn, opts)
	}, "updating association %s", id)
}

// updateAssociation is UpdateAssociation's write.
func (s *Store) updateAssociation(tx *wtx, region, cluster, id string, fn func(*store.Association) error, opts store.WriteOptions) (out store.Association, err error) {
	var a store.Association
	if opts.Idempotency != nil {
		var replayed bool
		a, replayed, err = s.readForUpdate(tx, region, cluster, id, opts.Idempotency, &out)
		if err != nil || replayed {
			return out, err
		}
	} else if a, err = readAssociation(tx, region, cluster, id); err != nil {
		return out, err
	}
	read := a // fn may change a's Tags map in place, not read's other fields
	if err := storecore.EditAssociation(&a, fn); err != nil {
		return out, err
	}
	if a.Revision, err = tx.revisions(1); err != nil {
		return out, err
	}
	if err := updateAssociationRow(tx, read, a); err != nil {
		return out, err
	}
	tx.putAssociation(a) // as a read returns it (EditAssociation)
	tx.changed(a.Revision, region, cluster, id, &a)
	return a, s.remember(tx, opts.Idempotency, a)
}

// updateAssociationRow stores a, read as read: its tags, modified_at and
// revision, and each other column of AssociationUpdateValues whose value
// differs from read's. Binding and storing an unchanged column cost the
// UPDATE some 0.15 µs each (an Update that changes the role: 4.6 µs of the
// writer's CPU instead of 5.8). read's tags are not compared: the edit
// may have changed read's map in place.
func updateAssociationRow(tx *wtx, read, a store.Association) error {
	v, err := storecore.AssociationUpdateValues(a)
	if err != nil {
		return err
	}
	changed := 0 // a bit per optional column (associationOptionalColumn)
	for bit, same := range [...]bool{read.RoleARN == a.RoleARN, read.TargetRoleARN == a.TargetRoleARN,
		read.ExternalID == a.ExternalID, read.Policy == a.Policy, read.DisableSessionTags == a.DisableSessionTags,
		read.OwnerARN == a.OwnerARN, read.CreatedAt.Equal(a.CreatedAt)} {
		if !same {
			changed |= 1 << bit
		}
	}
	args := make([]any, 0, len(v))
	for i, bit := range associationOptionalColumn {
		if bit < 0 || changed&(1<<bit) != 0 {
			args = append(args, v[i])
		}
	}
	args = append(args, v[len(associationOptionalColumn):]...) // the key
	_, err = tx.exec(associationUpdateQueries[changed], args...)
	return err
}

// associationUpdateColumns are the columns of AssociationUpdateValues
// before the key; associationOptionalColumn[i] is column i's bit in
// updateAssociationRow's changed (-1 for a column always set).
var (
	associationUpdateColumns  = [...]string{"role_arn", "target_role_arn", "external_id", "policy", "disable_session_tags", "owner_arn", "tags", "created_at", "modified_at", "revision"}
	associationOptionalColumn = [len(associationUpdateColumns)]int{0, 1, 2, 3, 4, 5, -1, 6, -1, -1}
)

// associationUpdateQueries are the UPDATE statements of updateAssociationRow
// by the optional columns that changed.
var associationUpdateQueries = func() (q [1 << 7]string) {
	for changed := range q {
		var set []string
		for i, col := range associationUpdateColumns {
			if opt := associationOptionalColumn[i]; opt < 0 || changed&(1<<opt) != 0 {
				set = append(set, col+" = ?")
			}
		}
		q[changed] = "UPDATE associations SET " + strings.Join(set, ", ") + " WHERE region = ? AND cluster_name = ? AND id = ?"
	}
	return q
}()

// DeleteAssociation implements store.Store.
func (s *Store) DeleteAssociation(ctx context.Context, region, cluster, id string) (store.Association, error) {
	return storecore.Do(ctx, s.w.do, func(tx *wtx) (store.Association, error) {
		a, err := readAssociation(tx, region, cluster, id)
		if err != nil {
			return a, err
		}
		rev, err := tx.revisions(1)
		if err != nil {
			return a, err
		}
		if _, err := tx.exec("DELETE FROM associations WHERE region = ? AND cluster_name = ? AND id = ?", region, cluster, id); err != nil {
			return a, err
		}
		tx.dropAssociation(assocKey{region, cluster, id})
		_, err = tx.exec("INSERT INTO tombstones (revision, region, cluster_name, id, deleted_at) VALUES (?, ?, ?, ?, ?)",
			rev, region, cluster, id, storecore.Micros(s.now()))
		tx.changed(rev, region, cluster, id, nil)
		return storecore.Deleted(a, rev), err
	}, "deleting association %s", id)
}

// ListAssociations implements store.Store (storecore.ListAssociations).
func (s *Store) ListAssociations(ctx context.Context, region, cluster string, f store.AssociationFilter, p store.Page) ([]store.Association, string, error) {
	return storecore.ListAssociations(ctx, region, cluster, f, p, storecore.Question, s.queryAssociationPage, s.clusterExists)
}

// queryAssociations runs a query of associationColumns on the read pool,
// row by row.
func (s *Store) queryAssociations(ctx context.Context, size int, query string, args ...any) ([]store.Association, error) {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	items := make([]store.Association, 0, size)
	// One row and one set of destinations for the whole page: each Scan
	// stores fresh values in them, and Association copies them out.
	var row storecore.AssociationRow
	dest := row.Dest()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		a, err := row.Association()
		if err != nil {
			return nil, err
		}
		items = append(items, a)
	}
	return items, rows.Err()
}

// associationCount reads the cluster's association count, which triggers
// keep in its row.
func (s *Store) associationCount(ctx context.Context, region, cluster string) (int, error) {
	row, err := s.queryRow(ctx, "SELECT association_count FROM clusters WHERE region = ? AND name = ?", region, cluster)
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

func (s *Store) clusterExists(ctx context.Context, region, cluster string) error {
	_, err := s.associationCount(ctx, region, cluster)
	return err
}

// readForUpdateQuery is one row: the association as getAssociationQuery
// reads it (NULL without one), then the token's record's columns (NULL
// without one); its arguments are idempotencySeqQuery's, then the
// association's key.
var readForUpdateQuery = `SELECT (SELECT ` + pageRecordFormat + ` FROM associations WHERE region = ?3 AND cluster_name = ?4 AND id = ?5),
	i.hash, i.result, i.created_at
	FROM (SELECT 1) LEFT JOIN idempotency AS i ON i.seq = (` + idempotencySeqQuery + `)`

// readForUpdate is replay followed by readAssociation (the writer's hot
// path): it replays the token's stored result into out (replayed = true; a
// replay of an update made before the association was deleted answers
// too), or returns the association. Without the association in the
// writer's cache, it reads both in one statement, through the driver's
// interfaces (writer.readRow).
func (s *Store) readForUpdate(tx *wtx, region, cluster, id string, idem *store.Idempotency, out any) (a store.Association, replayed bool, err error) {
	h := tx.keyHash(idem.Key)
	if tx.tokenAbsent(h) {
		a, err := readAssociation(tx, region, cluster, id)
		return a, false, err
	}
	if a, ok := tx.cachedAssociation(assocKey{region, cluster, id}); ok {
		if replayed, err := s.replayHash(tx, idem, h, out); err != nil || replayed {
			return store.Association{}, replayed, err
		}
		return a, false, nil
	}
	var v [4]driver.Value
	if _, err := tx.w.readRow(readForUpdateQuery, keyArgs(region, cluster, id, h, idem.Key), v[:]); err != nil {
		return store.Association{}, false, err
	}
	if v[1] != nil { // the token has a record
		if replayed, err := s.replayRecord(idem, v[1:], out); err != nil || replayed {
			return store.Association{}, replayed, err
		}
	}
	if v[0] == nil {
		return store.Association{}, false, store.ErrNotFound
	}
	a, ok := decodeAssociationRecord(v[0])
	if !ok {
		if a, err = readAssociationColumns(tx.w.readRow, region, cluster, id); err != nil {
			return store.Association{}, false, err
		}
	}
	tx.putAssociation(a)
	return a, false, nil
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
