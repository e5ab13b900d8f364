package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
)

// AppendEvents stores events in one write of the writer (group commit
// with whatever else is waiting).
func (s *Store) AppendEvents(ctx context.Context, events []store.Event) error {
	if len(events) == 0 {
		return nil
	}
	return s.w.do(ctx, func(tx *wtx) error {
		return storecore.AppendEvents(events, storecore.Question, auditTx{tx}.Exec)
	})
}

// LookupEvents reads one page from the read pool.
func (s *Store) LookupEvents(ctx context.Context, q store.EventQuery) ([]store.Event, string, error) {
	return storecore.LookupEvents(ctx, q, storecore.Question, func(ctx context.Context, query string, args ...any) ([]store.Event, error) {
		rows, err := s.query(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return storecore.ScanEvents(rows)
	})
}

// PruneEvents deletes in batches, each one write of the writer.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, keep int) (int, error) {
	return storecore.PruneEvents(ctx, before, keep, storecore.Question, func(ctx context.Context, fn func(storecore.AuditTx) error) error {
		return s.w.do(ctx, func(tx *wtx) error { return fn(auditTx{tx}) })
	})
}

type auditTx struct{ tx *wtx }

func (t auditTx) Cutoff(query string, args ...any) (int64, string, bool, error) {
	var ts int64
	var id string
	err := t.tx.queryRow(query, args...).Scan(&ts, &id)
	if err == sql.ErrNoRows {
		return 0, "", false, nil
	}
	return ts, id, err == nil, err
}

func (t auditTx) Exec(query string, args ...any) (int64, error) {
	res, err := t.tx.exec(query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// PruneKeys deletes the keys one by one, each a primary key lookup.
func (t auditTx) PruneKeys(ts int64, id string) error {
	keys, err := storecore.AuditKeysOf(storecore.Question, ts, id, func(query string, args ...any) (storecore.EventRows, func() error, error) {
		rows, err := t.tx.query(query, args...)
		if err != nil {
			return nil, nil, err
		}
		return rows, rows.Close, nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if _, err := t.tx.exec(storecore.AuditKeyDelete(storecore.Question), k...); err != nil {
			return err
		}
	}
	return nil
}
