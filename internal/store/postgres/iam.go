package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/podid/podid/internal/store/storecore"
)

// The IAM table's statements (storecore.IAM holds the rules).
const (
	iamGet         = "SELECT doc FROM iam WHERE kind = $1 AND key = $2"
	iamScan        = "SELECT key, doc FROM iam WHERE kind = $1 AND key > $2 ORDER BY key LIMIT $3"
	iamRevisionSQL = "SELECT iam_revision FROM revision_counter WHERE id = 1"
)

// iamReader reads the IAM table through q: the write transaction, or a
// read-only snapshot.
type iamReader struct {
	ctx context.Context
	q   interface {
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	}
}

func (r iamReader) Get(kind, key string) ([]byte, bool, error) {
	var doc []byte
	err := r.q.QueryRow(r.ctx, iamGet, kind, key).Scan(&doc)
	if errNoRows(err) {
		return nil, false, nil
	}
	return doc, err == nil, err
}

func (r iamReader) Scan(kind, after string, limit int) ([]storecore.IAMRow, error) {
	rows, err := r.q.Query(r.ctx, iamScan, kind, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (storecore.IAMRow, error) {
		var r storecore.IAMRow
		err := row.Scan(&r.Key, &r.Doc)
		return r, err
	})
}

func (r iamReader) IAMRevision() (int64, error) {
	var rev int64
	err := r.q.QueryRow(r.ctx, iamRevisionSQL).Scan(&rev)
	return rev, err
}

// iamTx is the IAM table inside a write transaction (which holds the
// revision counter's lock: writers are serialized).
type iamTx struct {
	iamReader
	t *wtx
}

func (t iamTx) Put(kind, key string, doc []byte) error {
	_, err := t.t.Exec(t.ctx, `INSERT INTO iam (kind, key, doc) VALUES ($1, $2, $3)
	ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc`, kind, key, doc)
	return err
}

func (t iamTx) Delete(kind, key string) error {
	_, err := t.t.Exec(t.ctx, "DELETE FROM iam WHERE kind = $1 AND key = $2", kind, key)
	return err
}

func (t iamTx) Revision() (int64, error) {
	rev := t.t.revisions(1)
	_, err := t.t.Exec(t.ctx, "UPDATE revision_counter SET iam_revision = $1 WHERE id = 1", rev)
	if err == nil {
		t.t.iam = rev
	}
	return rev, err
}

// iamWrite runs fn in a write transaction (storecore.NewIAM's write).
func (s *Store) iamWrite(ctx context.Context, fn func(storecore.IAMTx) error) error {
	return s.write(ctx, func(t *wtx) error {
		return fn(iamTx{iamReader{ctx: t.ctx, q: t}, t})
	})
}

// iamRead runs fn on the latest committed state (storecore.NewIAM's
// read), one statement at a time on the pool: no BEGIN and COMMIT round
// trips.
func (s *Store) iamRead(ctx context.Context, fn func(storecore.IAMReader) error) error {
	return fn(iamReader{ctx: ctx, q: s.pool})
}
