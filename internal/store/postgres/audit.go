package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
	err := storecore.AppendEventsWithKeys(events, storecore.Dollar, keyBucketShift, func(sql string, args ...any) (int64, error) {
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

// keyBucketShift groups events into buckets of 1,024 by their seq
// (insertion order): audit_keys is keyed by (bucket, kind, value, time_us,
// event_id), so an event's keys go among the newest bucket's, a few dozen
// pages that stay in shared buffers, instead of each to its value's page
// somewhere in the trail. A lookup by resource probes each bucket of the
// trail for (kind, value): about 1,000 probes at a million events. (SQLite
// groups by 256: its inserts dirty whole pages into its WAL, so it wants
// the keys closer together; a PostgreSQL index probe costs more than
// SQLite's.)
const keyBucketShift = 10

// keyLookup is the event IDs of (kind, value)'s keys: a probe of each
// bucket from the newest event's to the oldest's.
func keyLookup(kind, value string) string {
	shift := strconv.Itoa(keyBucketShift)
	return "SELECT k.event_id FROM generate_series((SELECT max(seq) FROM audit_events) >> " + shift +
		", (SELECT min(seq) FROM audit_events) >> " + shift + ", -1) AS b (n)" +
		" JOIN audit_keys k ON k.bucket = b.n AND k.kind = " + kind + " AND k.value = " + value
}

// keyProbe is the event ID of (kind, value)'s key of the audit_events row
// at hand, if it has one.
func keyProbe(kind, value string) string { return storecore.AuditKeyProbe(keyBucketShift, kind, value) }

// recentBuckets are how many of the newest buckets tell whether a value is
// frequent.
const recentBuckets = 2

// recentKeysQuery counts (kind, value)'s keys ($1, $2) in the newest
// recentBuckets buckets, up to $3.
var recentKeysQuery = "SELECT count(*) FROM (SELECT 1 FROM generate_series((SELECT max(seq) FROM audit_events) >> " + strconv.Itoa(keyBucketShift) +
	", ((SELECT max(seq) FROM audit_events) >> " + strconv.Itoa(keyBucketShift) + ") - " + strconv.Itoa(recentBuckets-1) + ", -1) AS b (n)" +
	" JOIN audit_keys k ON k.bucket = b.n AND k.kind = $1 AND k.value = $2 LIMIT $3) AS x"

// LookupEvents reads one page. A resource lookup whose value has a page's
// worth of keys in the newest buckets walks the events newest first,
// probing each one's key (the page fills within about those buckets'
// events); any other probes each bucket for the value's keys. The answer
// is the same either way. (Before the buckets, a lookup by a type every
// event has read every key of it: 2.7 s a page at 100,000 events.)
func (s *Store) LookupEvents(ctx context.Context, q store.EventQuery) ([]store.Event, string, error) {
	keys := keyLookup
	if kind, ok := map[string]string{store.EventAttrResourceName: "name", store.EventAttrResourceType: "type"}[q.Attribute]; ok {
		var recent int
		if err := s.pool.QueryRow(ctx, recentKeysQuery, kind, q.Value, q.Limit+1).Scan(&recent); err != nil {
			return nil, "", fmt.Errorf("looking up events: %w", err)
		}
		if recent > q.Limit {
			keys = keyProbe
		}
	}
	return storecore.LookupEvents(ctx, q, storecore.Dollar, keys, func(ctx context.Context, query string, args ...any) ([]store.Event, error) {
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

// PruneKeys deletes the keys of the events up to (ts, id) from the buckets
// those events are in: the oldest ones, holding little besides.
func (t auditTx) PruneKeys(ts int64, id string) error {
	upTo := "time_us < $1 OR (time_us = $2 AND event_id <= $3)"
	shift := strconv.Itoa(keyBucketShift)
	_, err := t.tx.Exec(t.ctx, "DELETE FROM audit_keys WHERE bucket BETWEEN (SELECT min(seq) FROM audit_events WHERE "+upTo+") >> "+shift+
		" AND (SELECT max(seq) FROM audit_events WHERE "+upTo+") >> "+shift+
		" AND event_id IN (SELECT event_id FROM audit_events WHERE "+upTo+")", ts, ts, id)
	return err
}
