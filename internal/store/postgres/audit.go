package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
)

// AppendEvents stores events in a transaction of their own, beside the
// writer's, on a pooled connection: they take no revision and need no
// counter lock (in the writer's transaction, which holds that lock until
// its COMMIT returns, a batch of events held every other write back for as
// long as the inserts ran).
//
// The rows go in by COPY (copyEvents): the events, then their keys, each
// one COPY in binary, after reserving the events' seqs. The INSERTs of the
// same rows (insertEvents: statements of up to 800 parameters, 32 events
// and their keys, which the server parses, plans and joins, with a
// speculative insertion per event for its ON CONFLICT) cost more on both
// sides: per Update-shaped event (BenchmarkAppendEventsAt/0) some 15 us
// of this process's CPU (pgx's encoding of the parameters into one
// message) and 280 of 3,955 bytes of WAL (the heap rows go in as one
// multi-insert record a page). COPY has no ON CONFLICT: an event stored
// already (an append retried after a commit whose answer was lost, or one
// appended twice) fails it on audit_events' primary key, and the batch
// goes again by insertEvents, which skips the events stored.
func (s *Store) AppendEvents(ctx context.Context, events []store.Event) error {
	if len(events) == 0 {
		return nil
	}
	if s.isClosed() {
		return errClosed
	}
	err := s.copyEvents(ctx, events)
	if code, constraint := pgCode(err); code == codeUniqueViolation && constraint == "audit_events_pkey" {
		err = s.insertEvents(ctx, events)
	}
	if err != nil {
		return fmt.Errorf("storing events: %w", noSpace(err))
	}
	return nil
}

// copyEvents stores events by COPY in one transaction: BEGIN, the events'
// seqs (nextval, in order: seq is insertion order), the events' COPY,
// their keys' COPY (each in its event's bucket), COMMIT.
func (s *Store) copyEvents(ctx context.Context, events []store.Event) error {
	kept := make([]store.Event, 0, len(events))
	rows := make([][]any, 0, len(events))
	seen := make(map[string]bool, len(events))
	for _, e := range events {
		if seen[e.ID] { // one copy, as insertEvents keeps
			continue
		}
		seen[e.ID] = true
		row, err := storecore.AppendAuditInsertArgs(make([]any, 0, len(eventCopyColumns)), e)
		if err != nil {
			return err
		}
		kept, rows = append(kept, e), append(rows, row)
	}
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		seqs, err := reserveSeqs(ctx, tx, len(rows))
		if err != nil {
			return err
		}
		var keys [][]any
		for i, e := range kept {
			rows[i] = append(rows[i], seqs[i])
			seq := seqs[i]
			storecore.EachEventKey(e, func(kind, value string) {
				keys = append(keys, []any{seq >> keyBucketShift, kind, value, seq})
			})
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_events"}, eventCopyColumns, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"audit_keys"}, keyCopyColumns, pgx.CopyFromRows(keys))
		return err
	})
}

// The columns copyEvents copies: storecore.AuditColumns and the seq it
// reserved; audit_keys' all.
var (
	eventCopyColumns = append(strings.Split(storecore.AuditColumns, ", "), "seq")
	keyCopyColumns   = []string{"bucket", "kind", "value", "seq"}
)

// reserveSeqs draws n seqs for audit_events, in increasing order.
func reserveSeqs(ctx context.Context, tx pgx.Tx, n int) ([]int64, error) {
	rows, err := tx.Query(ctx, "SELECT nextval('audit_events_seq') FROM generate_series(1, $1)", n)
	if err != nil {
		return nil, fmt.Errorf("numbering events: %w", err)
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err == nil && len(seqs) != n {
		err = fmt.Errorf("%d numbers for %d events", len(seqs), n)
	}
	if err != nil {
		return nil, fmt.Errorf("numbering events: %w", err)
	}
	return seqs, nil
}

// insertEvents stores events by INSERT ... ON CONFLICT DO NOTHING, their
// keys only for the events it stored (storecore.AppendEventsWithKeys), in
// one round trip (one pipeline, which PostgreSQL runs as one implicit
// transaction).
func (s *Store) insertEvents(ctx context.Context, events []store.Event) error {
	var b pgx.Batch
	err := storecore.AppendEventsWithKeys(events, storecore.Dollar, keyBucketShift, func(sql string, args ...any) (int64, error) {
		b.Queue(sql, args...)
		return 0, nil
	})
	if err != nil {
		return err
	}
	return s.pool.SendBatch(ctx, &b).Close()
}

// keyBucketShift groups events into buckets of 1,024 by their seq
// (insertion order): audit_keys is keyed by (bucket, kind, value, seq),
// so an event's keys go among the newest bucket's, a few dozen
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
	return "SELECT e.event_id FROM generate_series((SELECT max(seq) FROM audit_events) >> " + shift +
		", (SELECT min(seq) FROM audit_events) >> " + shift + ", -1) AS b (n)" +
		" JOIN audit_keys k ON k.bucket = b.n AND k.kind = " + kind + " AND k.value = " + value +
		" JOIN audit_events e ON e.seq = k.seq"
}

// keyProbe is the event ID of (kind, value)'s key of the audit_events row
// at hand, if it has one.
func keyProbe(kind, value string) string {
	return "SELECT audit_events.event_id FROM audit_keys k WHERE k.bucket = audit_events.seq >> " + strconv.Itoa(keyBucketShift) +
		" AND k.kind = " + kind + " AND k.value = " + value + " AND k.seq = audit_events.seq"
}

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
		" AND seq IN (SELECT seq FROM audit_events WHERE "+upTo+")", ts, ts, id)
	return err
}
