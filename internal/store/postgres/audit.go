package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
)

// AppendEvents stores events in a transaction of their own, beside the
// writer's: their statements go in one round trip (one pipeline, which
// PostgreSQL runs as one implicit transaction) on a pooled connection.
// They take no revision and need no counter lock; in the writer's
// transaction, which holds that lock until its COMMIT returns, a batch of
// events held every other write back for as long as the inserts ran
// (some 80 us of server time per event).
func (s *Store) AppendEvents(ctx context.Context, events []store.Event) error {
	if len(events) == 0 {
		return nil
	}
	if s.isClosed() {
		return errClosed
	}
	var b pgx.Batch
	err := storecore.AppendEventsWithKeys(events, storecore.Dollar, func(sql string, args ...any) (int64, error) {
		b.Queue(sql, args...)
		return 0, nil
	})
	if err != nil {
		return err
	}
	if err := s.pool.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("storing events: %w", noSpace(err))
	}
	return nil
}

// LookupEvents reads one page.
func (s *Store) LookupEvents(ctx context.Context, q store.EventQuery) ([]store.Event, string, error) {
	return storecore.LookupEvents(ctx, q, storecore.Dollar, nil, func(ctx context.Context, query string, args ...any) ([]store.Event, error) {
		rows, err := s.pool.Query(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return storecore.ScanEvents(rows)
	})
}

// PruneEvents deletes in batches, each its own transaction (without the
// counter's lock).
func (s *Store) PruneEvents(ctx context.Context, before time.Time, keep int) (int, error) {
	return storecore.PruneEvents(ctx, before, keep, storecore.Dollar, func(ctx context.Context, fn func(storecore.AuditTx) error) error {
		return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
			return fn(auditTx{ctx, tx})
		})
	})
}

type auditTx struct {
	ctx context.Context
	tx  pgx.Tx
}

func (t auditTx) Cutoff(query string, args ...any) (int64, string, bool, error) {
	var ts int64
	var id string
	err := t.tx.QueryRow(t.ctx, query, args...).Scan(&ts, &id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", false, nil
	}
	return ts, id, err == nil, err
}

func (t auditTx) Exec(query string, args ...any) (int64, error) {
	ct, err := t.tx.Exec(t.ctx, query, args...)
	return ct.RowsAffected(), err
}

// PruneKeys deletes the keys one by one, in one pipelined batch: each a
// primary key lookup (a row-value IN over the events' JSON, estimated
// far too large, is planned as a scan of audit_keys).
func (t auditTx) PruneKeys(ts int64, id string) error {
	keys, err := storecore.AuditKeysOf(storecore.Dollar, ts, id, func(query string, args ...any) (storecore.EventRows, func() error, error) {
		rows, err := t.tx.Query(t.ctx, query, args...)
		if err != nil {
			return nil, nil, err
		}
		return rows, func() error { rows.Close(); return nil }, nil
	})
	if err != nil || len(keys) == 0 {
		return err
	}
	var b pgx.Batch
	for _, k := range keys {
		b.Queue(storecore.AuditKeyDelete(storecore.Dollar), k...)
	}
	return t.tx.SendBatch(t.ctx, &b).Close()
}
