package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
)

// keyBucketShift groups events into buckets of 256 by their seq (insertion
// order): audit_keys is keyed by (bucket, kind, value, seq), the event's
// seq standing for it (schema migration 12: its time and ID took 45 of an
// entry's some 120 bytes, a third of the table's WAL pages),
// so an event's keys go to the rightmost pages of the b-tree, among its
// bucket's some thousand entries, instead of each to the leaf of its value
// somewhere in the whole trail (one WAL page per key). A lookup probes
// each bucket of the trail for (kind, value): 4,000 probes at a million
// events.
const keyBucketShift = 8

// auditChunk is how many events one background write of AppendEvents
// stores: a few hundred microseconds of the writer's time, about what a
// transaction waits for the sync before it (see writer.doBackground).
const auditChunk = 16

// AppendEvents stores events in background writes of the writer, of
// auditChunk events each: a batch of a few hundred events in one write
// held every write queued behind it for milliseconds.
func (s *Store) AppendEvents(ctx context.Context, events []store.Event) error {
	fns := make([]func(*wtx) error, 0, (len(events)+auditChunk-1)/auditChunk)
	for len(events) > 0 {
		chunk := events[:min(len(events), auditChunk)]
		events = events[len(chunk):]
		fns = append(fns, appendEvents(chunk))
	}
	return s.w.doBackground(ctx, fns)
}

// appendEvents is the write that stores events: each chunk of events, then
// their keys in their events' buckets (a retried event stored already
// keeps its keys, so a batch whose writes partly failed can be appended
// again whole).
// The statements are INSERT OR IGNORE, so a statement cannot stop halfway
// and SQLite keeps no statement journal for it (ON CONFLICT DO NOTHING
// leaves a NOT NULL violation to abort, so it copied every page the
// statement touched first); the values are never NULL.
func appendEvents(events []store.Event) func(*wtx) error {
	return func(tx *wtx) error {
		args := make([]any, 0, 9*min(len(events), storecore.AuditInsertRows))
		var keys []any
		for len(events) > 0 {
			chunk := events[:min(len(events), storecore.AuditInsertRows)]
			events = events[len(chunk):]
			args = args[:0]
			for _, e := range chunk {
				var err error
				if args, err = storecore.AppendAuditInsertArgs(args, e); err != nil {
					return err
				}
			}
			res, err := tx.exec(eventInserts[len(chunk)], args...)
			if err != nil {
				return err
			}
			seq, all := firstSeq(res, len(chunk))
			keys = keys[:0]
			for i, e := range chunk {
				n := seq + int64(i)
				id, bucket, at := any(e.ID), any(n>>keyBucketShift), any(n)
				storecore.EachEventKey(e, func(kind, value string) {
					if all {
						keys = append(keys, bucket, kind, value, at)
					} else {
						keys = append(keys, kind, value, id)
					}
				})
			}
			cols, insert := 4, keyInserts
			if !all {
				// Some were stored already: each key takes its event's
				// seq from the table.
				cols, insert = 3, keyInsertsJoined
			}
			for n := len(keys) / cols; n > 0; {
				k := min(n, storecore.AuditInsertRows)
				if _, err := tx.exec(insert[k], keys[:cols*k]...); err != nil {
					return err
				}
				keys, n = keys[cols*k:], n-k
			}
		}
		return nil
	}
}

// firstSeq is the seq of the first of the n events an insert stored, if
// it stored all n: SQLite gives a new row the rowid one past the largest
// (short of the largest int64, which seq never nears), so they are
// consecutive and end at the last insert rowid.
func firstSeq(res sql.Result, n int) (seq int64, ok bool) {
	stored, err := res.RowsAffected()
	if err != nil || stored != int64(n) {
		return 0, false
	}
	last, err := res.LastInsertId()
	if err != nil || last < int64(n) || last > 1<<62 {
		return 0, false
	}
	return last - int64(n) + 1, true
}

// The insert statements of 1 to AuditInsertRows rows: events (AuditColumns);
// keys (bucket, kind, value, seq); keys (kind, value, event_id), each with
// its event's seq and bucket read from audit_events.
var eventInserts, keyInserts, keyInsertsJoined = func() (ev, keys, joined [storecore.AuditInsertRows + 1]string) {
	shift := strconv.Itoa(keyBucketShift)
	for n := 1; n <= storecore.AuditInsertRows; n++ {
		ev[n] = "INSERT OR IGNORE INTO audit_events (" + storecore.AuditColumns + ") VALUES " + storecore.Rows(storecore.Question, n, 9)
		keys[n] = "INSERT OR IGNORE INTO audit_keys (bucket, kind, value, seq) VALUES " + storecore.Rows(storecore.Question, n, 4)
		joined[n] = "INSERT OR IGNORE INTO audit_keys (bucket, kind, value, seq) SELECT e.seq >> " + shift +
			", k.column1, k.column2, e.seq FROM (VALUES " + storecore.Rows(storecore.Question, n, 3) +
			") AS k JOIN audit_events e ON e.event_id = k.column3"
	}
	return
}()

// keyLookup is the event IDs of (kind, value)'s keys: a probe of each
// bucket from the newest event's to the oldest's.
func keyLookup(kind, value string) string {
	shift := strconv.Itoa(keyBucketShift)
	return "WITH RECURSIVE b(n) AS (SELECT (SELECT max(seq) FROM audit_events) >> " + shift +
		" UNION ALL SELECT n - 1 FROM b WHERE n > (SELECT min(seq) FROM audit_events) >> " + shift + ")" +
		" SELECT e.event_id FROM b JOIN audit_keys k ON k.bucket = b.n AND k.kind = " + kind + " AND k.value = " + value +
		" JOIN audit_events e ON e.seq = k.seq"
}

// keyProbe is the event ID of the audit_events row at hand if it has a key
// (kind, value): a primary-key lookup in its bucket.
func keyProbe(kind, value string) string {
	return "SELECT audit_events.event_id FROM audit_keys k WHERE k.bucket = audit_events.seq >> " + strconv.Itoa(keyBucketShift) +
		" AND k.kind = " + kind + " AND k.value = " + value + " AND k.seq = audit_events.seq"
}

// recentBuckets are how many of the newest buckets tell whether a value is
// frequent.
const recentBuckets = 4

// LookupEvents reads one page from the read pool. A resource lookup whose
// value has a page's worth of keys in the newest buckets walks the events
// newest first, probing each one's key (the page fills within about those
// buckets' events); any other probes each bucket for the value's keys. The
// answer is the same either way.
func (s *Store) LookupEvents(ctx context.Context, q store.EventQuery) ([]store.Event, string, error) {
	keys := keyLookup
	if kind, ok := map[string]string{store.EventAttrResourceName: "name", store.EventAttrResourceType: "type"}[q.Attribute]; ok {
		var recent int
		err := s.rdb.QueryRowContext(ctx, "WITH RECURSIVE b(n, i) AS (SELECT (SELECT max(seq) FROM audit_events) >> "+strconv.Itoa(keyBucketShift)+
			", 1 UNION ALL SELECT n - 1, i + 1 FROM b WHERE i < ?) SELECT count(*) FROM (SELECT 1 FROM b JOIN audit_keys k ON k.bucket = b.n"+
			" AND k.kind = ? AND k.value = ? LIMIT ?)", recentBuckets, kind, q.Value, q.Limit+1).Scan(&recent)
		if err != nil {
			return nil, "", fmt.Errorf("looking up events: %w", err)
		}
		if recent > q.Limit {
			keys = keyProbe
		}
	}
	return storecore.LookupEvents(ctx, q, storecore.Question, keys, nil, func(ctx context.Context, query string, args ...any) ([]store.Event, error) {
		rows, err := s.query(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return storecore.ScanEvents(rows)
	})
}

// PruneEvents reads what to delete on the read pool and deletes in
// batches, each one write of the writer. The count bound is the span of
// the events' seqs (rowids: two b-tree edges): after pruning by count it
// is within keep until events are added, so a trail under its cap walks
// nothing.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, keep int) (int, error) {
	read := storecore.AuditRead{
		Cutoff: func(ctx context.Context, query string, args ...any) (int64, string, bool, error) {
			st, err := s.rst.get(ctx, query)
			if err != nil {
				return 0, "", false, err
			}
			return scanCutoff(st.QueryRowContext(ctx, args...))
		},
		MaxEvents: func(ctx context.Context) (int64, error) {
			var n int64
			err := s.rdb.QueryRowContext(ctx, "SELECT coalesce((SELECT max(seq) FROM audit_events) - (SELECT min(seq) FROM audit_events) + 1, 0)").Scan(&n)
			return n, err
		},
	}
	return storecore.PruneEvents(ctx, before, keep, storecore.Question, read, func(ctx context.Context, fn func(storecore.AuditTx) error) error {
		return s.w.do(ctx, func(tx *wtx) error { return fn(auditTx{tx}) })
	})
}

func scanCutoff(row *sql.Row) (int64, string, bool, error) {
	var ts int64
	var id string
	err := row.Scan(&ts, &id)
	if err == sql.ErrNoRows {
		return 0, "", false, nil
	}
	return ts, id, err == nil, err
}

type auditTx struct{ tx *wtx }

func (t auditTx) Cutoff(query string, args ...any) (int64, string, bool, error) {
	return scanCutoff(t.tx.queryRow(query, args...))
}

func (t auditTx) Exec(query string, args ...any) (int64, error) {
	res, err := t.tx.exec(query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// PruneKeys deletes the keys of the events up to (ts, id) from the buckets
// those events are in: the oldest ones, holding little besides.
func (t auditTx) PruneKeys(ts int64, id string) error {
	upTo := "time_us < ? OR (time_us = ? AND event_id <= ?)"
	shift := strconv.Itoa(keyBucketShift)
	_, err := t.tx.exec("DELETE FROM audit_keys WHERE bucket BETWEEN (SELECT min(seq) FROM audit_events WHERE "+upTo+") >> "+shift+
		" AND (SELECT max(seq) FROM audit_events WHERE "+upTo+") >> "+shift+
		" AND seq IN (SELECT seq FROM audit_events WHERE "+upTo+")", ts, ts, id, ts, ts, id, ts, ts, id)
	return err
}
