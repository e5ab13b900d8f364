package sqlite

import (
	"context"
	"database/sql"

	"github.com/podid/podid/internal/store/storecore"
)

// The IAM table's statements (storecore.IAM holds the rules).
const (
	iamGet         = "SELECT doc FROM iam WHERE kind = ? AND key = ?"
	iamScan        = "SELECT key, doc FROM iam WHERE kind = ? AND key > ? ORDER BY key LIMIT ?"
	iamRevisionSQL = "SELECT iam_revision FROM meta WHERE id = 1"
)

// iamTx is the IAM table inside the writer's transaction.
type iamTx struct{ tx *wtx }

func (t iamTx) Get(kind, key string) ([]byte, bool, error) {
	return getRow(t.tx.queryRow(iamGet, kind, key))
}

func (t iamTx) Scan(kind, after string, limit int) ([]storecore.IAMRow, error) {
	rows, err := t.tx.query(iamScan, kind, after, limit)
	return scanIAMRows(rows, err)
}

func (t iamTx) IAMRevision() (int64, error) {
	var rev int64
	err := t.tx.queryRow(iamRevisionSQL).Scan(&rev)
	return rev, err
}

func (t iamTx) Put(kind, key string, doc []byte) error {
	_, err := t.tx.exec(`INSERT INTO iam (kind, key, doc) VALUES (?, ?, ?)
	ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc`, kind, key, doc)
	return err
}

func (t iamTx) Delete(kind, key string) error {
	_, err := t.tx.exec("DELETE FROM iam WHERE kind = ? AND key = ?", kind, key)
	return err
}

func (t iamTx) Revision() (int64, error) {
	rev, err := t.tx.revisions(1)
	if err != nil {
		return 0, err
	}
	if _, err = t.tx.exec("UPDATE meta SET iam_revision = ? WHERE id = 1", rev); err != nil {
		return 0, err
	}
	t.tx.w.rev.iam = rev
	return rev, nil
}

// iamRead reads the IAM table's latest committed state on the read pool,
// one statement at a time (no transaction: a BEGIN and ROLLBACK cost five
// times a point read).
type iamRead struct {
	ctx context.Context
	s   *Store
}

func (r iamRead) Get(kind, key string) ([]byte, bool, error) {
	row, err := r.s.queryRow(r.ctx, iamGet, kind, key)
	if err != nil {
		return nil, false, err
	}
	return getRow(row)
}

func (r iamRead) Scan(kind, after string, limit int) ([]storecore.IAMRow, error) {
	return scanIAMRows(r.s.query(r.ctx, iamScan, kind, after, limit))
}

func (r iamRead) IAMRevision() (int64, error) {
	row, err := r.s.queryRow(r.ctx, iamRevisionSQL)
	if err != nil {
		return 0, err
	}
	var rev int64
	err = row.Scan(&rev)
	return rev, err
}

func getRow(row *sql.Row) ([]byte, bool, error) {
	var doc []byte
	err := row.Scan(&doc)
	if errNoRows(err) {
		return nil, false, nil
	}
	return doc, err == nil, err
}

func scanIAMRows(rows *sql.Rows, err error) ([]storecore.IAMRow, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storecore.IAMRow
	for rows.Next() {
		var r storecore.IAMRow
		if err := rows.Scan(&r.Key, &r.Doc); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// iamWrite runs fn in a write transaction (storecore.NewIAM's write).
func (s *Store) iamWrite(ctx context.Context, fn func(storecore.IAMTx) error) error {
	return s.w.do(ctx, func(tx *wtx) error { return fn(iamTx{tx}) })
}

// iamReadLatest runs fn on the latest committed state (storecore.NewIAM's
// read).
func (s *Store) iamReadLatest(ctx context.Context, fn func(storecore.IAMReader) error) error {
	return fn(iamRead{ctx: ctx, s: s})
}
