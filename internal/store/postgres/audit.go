package postgres

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
)

// AppendEvents stores events in a statement of their own, beside the
// writer's transactions, on a pooled connection: they take no revision and
// need no counter lock (in the writer's transaction, which holds that lock
// until its COMMIT returns, a batch of events held every other write back
// for as long as the inserts ran).
//
// The rows go in by one COPY in binary, each with its lookup keys
// (eventKeys) in its keys column. The INSERTs of the same rows
// (insertEvents: statements of up to 32 events, which the server parses
// and plans, with a speculative insertion per event for its ON CONFLICT)
// cost more on both sides. COPY has no ON CONFLICT: an event stored
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
	rows, err := eventRows(events)
	if err == nil {
		_, err = s.pool.CopyFrom(ctx, pgx.Identifier{"audit_events"}, eventColumns, pgx.CopyFromRows(rows))
		if code, constraint := pgCode(err); code == codeUniqueViolation && constraint == "audit_events_pkey" {
			err = s.insertEvents(ctx, rows)
		}
	}
	if err != nil {
		return fmt.Errorf("storing events: %w", noSpace(err))
	}
	return nil
}

// eventRows are events' rows of eventColumns, one per event ID (the first
// event of an ID: the primary key keeps one).
func eventRows(events []store.Event) ([][]any, error) {
	rows := make([][]any, 0, len(events))
	seen := make(map[string]bool, len(events))
	for _, e := range events {
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		row, err := storecore.AppendAuditInsertArgs(make([]any, 0, len(eventColumns)), e)
		if err != nil {
			return nil, err
		}
		rows = append(rows, append(row, eventKeys(e)))
	}
	return rows, nil
}

// The columns of an event's row: storecore.AuditColumns and its keys.
var eventColumns = append(strings.Split(storecore.AuditColumns, ", "), "keys")

// insertEvents stores rows (eventRows) by INSERT ... ON CONFLICT DO
// NOTHING, up to storecore.AuditInsertRows a statement, in one round trip
// (one pipeline, which PostgreSQL runs as one implicit transaction).
func (s *Store) insertEvents(ctx context.Context, rows [][]any) error {
	var b pgx.Batch
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), storecore.AuditInsertRows)]
		rows = rows[len(chunk):]
		args := make([]any, 0, len(chunk)*len(eventColumns))
		for _, r := range chunk {
			args = append(args, r...)
		}
		b.Queue("INSERT INTO audit_events ("+strings.Join(eventColumns, ", ")+") VALUES "+
			storecore.Rows(storecore.Dollar, len(chunk), len(eventColumns))+" ON CONFLICT (event_id) DO NOTHING", args...)
	}
	return s.pool.SendBatch(ctx, &b).Close()
}

// auditKey is the lookup key of an event's attribute: the first 8 bytes of
// the MD5 of "kind/value", as migration 11 computes it in SQL. Kinds:
// 'event' (the event's name), 'source', 'user', 'key' (the access key
// ID), 'name' and 'type' (a resource's). Distinct values may share a key:
// a lookup also compares the values (keyCondition).
func auditKey(kind, value string) int64 {
	sum := md5.Sum([]byte(kind + "/" + value))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// eventKeys are e's lookup keys: its name, source, username and access key
// ID, and each distinct resource name and type (storecore.EachEventKey).
func eventKeys(e store.Event) []int64 {
	keys := make([]int64, 4, 4+2*len(e.Resources))
	keys[0], keys[1], keys[2], keys[3] = auditKey("event", e.Name), auditKey("source", e.Source), auditKey("user", e.Username), auditKey("key", e.AccessKeyID)
	storecore.EachEventKey(e, func(kind, value string) { keys = append(keys, auditKey(kind, value)) })
	return keys
}

// keyKinds are the kinds of key (auditKey) of the lookup attributes that
// have one, and the column each attribute's value is compared with.
var keyKinds = map[string]struct{ kind, column string }{
	store.EventAttrEventName:    {"event", "name"},
	store.EventAttrEventSource:  {"source", "source"},
	store.EventAttrUsername:     {"user", "username"},
	store.EventAttrAccessKeyID:  {"key", "access_key_id"},
	store.EventAttrResourceName: {"name", ""},
	store.EventAttrResourceType: {"type", ""},
}

// recentEvents are how many of the newest events tell how frequent a
// value is.
var recentEvents = 1024

// recentKeysQuery counts the newest $1 events with key $2, up to $3, and
// reads PostgreSQL's estimate of the trail's events (-1: not estimated
// yet).
const recentKeysQuery = "SELECT (SELECT count(*) FROM (SELECT 1 FROM (SELECT keys FROM audit_events ORDER BY time_us DESC, event_id DESC LIMIT $1)" +
	" AS r WHERE $2 = ANY (r.keys) LIMIT $3) AS x), (SELECT reltuples::bigint FROM pg_class WHERE oid = 'audit_events'::regclass)"

// LookupEvents reads one page. A lookup by an attribute with a key
// (keyKinds) either walks the events newest first, comparing each one's
// keys, until the page fills, or reads all the value's events from the
// keys' GIN index and sorts them, whichever reads fewer events by the
// value's share of the newest recentEvents (walkCheaper). Either way the
// events found are those whose value is the one asked for, not only the
// key. (Before the keys, a lookup by a type every event has read every
// key of it: 2.7 s a page at 100,000 events.)
func (s *Store) LookupEvents(ctx context.Context, q store.EventQuery) ([]store.Event, string, error) {
	var cond storecore.Condition
	if k, ok := keyKinds[q.Attribute]; ok {
		key := auditKey(k.kind, q.Value)
		var recent, events int64
		if err := s.pool.QueryRow(ctx, recentKeysQuery, recentEvents, key, q.Limit+1).Scan(&recent, &events); err != nil {
			return nil, "", fmt.Errorf("looking up events: %w", err)
		}
		walk := walkCheaper(recent, int64(recentEvents), events, int64(q.Limit))
		cond = func(arg func(any) string) (string, error) {
			return keyCondition(k.kind, k.column, q.Value, key, walk, arg)
		}
	}
	return storecore.LookupEvents(ctx, q, storecore.Dollar, nil, cond, func(ctx context.Context, query string, args ...any) ([]store.Event, error) {
		rows, err := s.pool.Query(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return storecore.ScanEvents(rows)
	})
}

// walkCheaper reports whether a page of limit events of a value that
// recent of the newest sample events have (counted up to limit+1) fills
// walking fewer events than the index path reads of a trail of events: a
// walk reads about (limit+1)/share of them, the index share*events (all
// the value's). A value with more than a page in the sample always walks
// (its page fills within the sample); one with none never does. At a
// million events, one event in a hundred: a walk of ~5,000 events against
// ~10,000 fetched and sorted (108 ms a page).
func walkCheaper(recent, sample, events, limit int64) bool {
	switch {
	case recent > limit:
		return true
	case recent == 0:
		return false
	}
	// (limit+1) * sample/recent < recent/sample * events, without the
	// divisions.
	return float64(limit+1)*float64(sample)*float64(sample) < float64(recent)*float64(recent)*float64(events)
}

// keyCondition is the condition of a lookup by kind's value, whose key is
// key: the key among the event's, then the value itself, in column or, for
// a resource's name or type, in the resources column. walk: by a
// comparison the GIN index cannot serve, so the plan walks the events
// newest first, and in a CASE, so that it parses resources only for an
// event with the key (the planner orders an AND's terms by its own
// estimates); else by @>, which the index serves (the scan rechecks the
// key before the rest).
func keyCondition(kind, column, value string, key int64, walk bool, arg func(any) string) (string, error) {
	k := arg(key)
	has := "keys @> ARRAY[" + k + "::bigint]"
	if walk {
		has = k + "::bigint = ANY (keys)"
	}
	var is string
	if column != "" {
		is = column + " = " + arg(value)
	} else {
		field := "Name"
		if kind == "type" {
			field = "Type"
		}
		want, err := json.Marshal([]map[string]string{{field: value}})
		if err != nil {
			return "", err
		}
		is = "resources::jsonb @> " + arg(string(want)) + "::jsonb"
	}
	if walk {
		return "CASE WHEN " + has + " THEN " + is + " END", nil
	}
	return has + " AND " + is, nil
}

// PruneEvents reads what to delete in statements of their own and deletes
// in batches, each its own transaction (without the counter's lock). It
// has no cheap bound of the events' count (audit_events has no seq since
// migration 11, and reltuples is an estimate, not a bound): the count rule
// walks keep entries of the time index each prune, on a pooled
// connection, holding back no write.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, keep int) (int, error) {
	read := storecore.AuditRead{Cutoff: func(ctx context.Context, query string, args ...any) (int64, string, bool, error) {
		return scanCutoff(s.pool.QueryRow(ctx, query, args...))
	}}
	return storecore.PruneEvents(ctx, before, keep, storecore.Dollar, read, func(ctx context.Context, fn func(storecore.AuditTx) error) error {
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
	return scanCutoff(t.tx.QueryRow(t.ctx, query, args...))
}

func scanCutoff(row pgx.Row) (int64, string, bool, error) {
	var ts int64
	var id string
	err := row.Scan(&ts, &id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", false, nil
	}
	return ts, id, err == nil, err
}

func (t auditTx) Exec(query string, args ...any) (int64, error) {
	ct, err := t.tx.Exec(t.ctx, query, args...)
	return ct.RowsAffected(), err
}

// PruneKeys has nothing to delete: an event's keys are in its row.
func (t auditTx) PruneKeys(int64, string) error { return nil }
