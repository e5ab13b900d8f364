package storecore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/store"
)

// The audit trail's tables (SQLite's; PostgreSQL keeps audit_events
// without seq and each event's lookup keys in its own row, see the
// postgres package's auditKey):
//
//	audit_events (event_id PK, time_us, name, source, read_only, username,
//	              access_key_id, resources JSON, record JSON, seq: the
//	              insertion order)
//	audit_keys   (bucket, kind, value, seq), all four the primary key:
//	              one row per resource name (kind 'name') and per resource
//	              type (kind 'type') an event names, for the ResourceName
//	              and ResourceType lookups, in the event's bucket (its seq
//	              shifted right by 8), naming the event by its seq
//
// Events are ordered by (time_us, event_id): lookups page newest first
// along it, pruning deletes its oldest end. The keys' bucket comes first
// so that an event's keys append to the b-tree's right edge (see the
// sqlite package's lookups by resource).

// AuditPruneBatch bounds the events one pruning transaction deletes.
const AuditPruneBatch = 2000

// maxEventPage bounds EventQuery.Limit.
const maxEventPage = 1000

// AuditColumns are the columns ScanEvent reads, in order.
const AuditColumns = "event_id, time_us, name, source, read_only, username, access_key_id, resources, record"

// AuditInsertRows is how many events one insert statement stores (a
// batch is appended in statements of this many rows and one of the rest).
const AuditInsertRows = 32

// AuditInsert is the statement inserting n events (1..AuditInsertRows)
// with the backend's placeholders; its arguments are AuditInsertArgs'
// of each event in turn.
func AuditInsert(ph Placeholder, n int) string {
	return "INSERT INTO audit_events (" + AuditColumns + ") VALUES " + rows(ph, n, 9) + " ON CONFLICT (event_id) DO NOTHING"
}

func rows(ph Placeholder, n, cols int) string {
	var b strings.Builder
	for r := range n {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteString(ph(r*cols + c + 1))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// EachEventKey calls fn with each of e's resource keys (kind, value): one
// per distinct resource name and one per distinct resource type.
func EachEventKey(e store.Event, fn func(kind, value string)) {
	for i, r := range e.Resources {
		earlier := e.Resources[:i]
		if !slices.ContainsFunc(earlier, func(o store.EventResource) bool { return o.Name == r.Name }) {
			fn(keyName, r.Name)
		}
		if !slices.ContainsFunc(earlier, func(o store.EventResource) bool { return o.Type == r.Type }) {
			fn(keyType, r.Type)
		}
	}
}

// Rows are n rows of cols placeholders each, "(?, ?), (?, ?)".
func Rows(ph Placeholder, n, cols int) string { return rows(ph, n, cols) }

// audit_keys' kinds.
const (
	keyName = "name"
	keyType = "type"
)

// AppendAuditInsertArgs appends e's arguments to AuditInsert to args.
func AppendAuditInsertArgs(args []any, e store.Event) ([]any, error) {
	if e.ID == "" {
		return nil, fmt.Errorf("storing event: no event ID")
	}
	return append(args, e.ID, Micros(e.Time), e.Name, e.Source, e.ReadOnly, e.Username, e.AccessKeyID,
		resourcesJSON(e.Resources), string(e.Record)), nil
}

// resourcesJSON is json.Marshal's encoding of rs (a nil rs as []): the
// resources column.
func resourcesJSON(rs []store.EventResource) string {
	var buf [512]byte
	b := append(buf[:0], '[')
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Type":`...)
		b = eksapi.AppendJSONString(b, r.Type)
		b = append(b, `,"Name":`...)
		b = eksapi.AppendJSONString(b, r.Name)
		b = append(b, '}')
	}
	return string(append(b, ']'))
}

// EventRow is where a backend scans a row of AuditColumns.
type EventRow struct {
	ID, Name, Source, Username, AccessKeyID, Resources, Record string
	TimeUS                                                     int64
	ReadOnly                                                   bool
}

// Dest is the scan destination, in AuditColumns' order.
func (r *EventRow) Dest() []any {
	return []any{&r.ID, &r.TimeUS, &r.Name, &r.Source, &r.ReadOnly, &r.Username, &r.AccessKeyID, &r.Resources, &r.Record}
}

// Event is the row as a store.Event.
func (r *EventRow) Event() (store.Event, error) {
	e := store.Event{
		ID: r.ID, Time: FromMicros(r.TimeUS), Name: r.Name, Source: r.Source, ReadOnly: r.ReadOnly,
		Username: r.Username, AccessKeyID: r.AccessKeyID, Record: []byte(r.Record),
		Resources: []store.EventResource{},
	}
	if err := json.Unmarshal([]byte(r.Resources), &e.Resources); err != nil {
		return e, fmt.Errorf("reading event %s's resources: %w", r.ID, err)
	}
	return e, nil
}

// eventColumn is the events column of each lookup attribute but the
// resource ones.
var eventColumn = map[string]string{
	store.EventAttrEventID:     "event_id",
	store.EventAttrEventName:   "name",
	store.EventAttrEventSource: "source",
	store.EventAttrUsername:    "username",
	store.EventAttrAccessKeyID: "access_key_id",
	store.EventAttrReadOnly:    "read_only",
}

// LookupEvents is store.Audit's LookupEvents over a backend's query (rows
// of AuditColumns): one keyset page along (time_us, event_id), newest
// first, Limit+1 rows (the extra one only says there is a next page).
//
// keys, when not nil, is the backend's query of the event IDs whose
// audit_keys rows have kind and value (two placeholders already bound);
// nil reads audit_keys by (kind, value). cond, when not nil, is the
// backend's own condition for q's attribute and value instead.
func LookupEvents(ctx context.Context, q store.EventQuery, ph Placeholder, keys func(kind, value string) string, cond Condition,
	query func(ctx context.Context, sql string, args ...any) ([]store.Event, error)) ([]store.Event, string, error) {
	if keys == nil {
		keys = func(kind, value string) string {
			return "SELECT event_id FROM audit_keys WHERE kind = " + kind + " AND value = " + value
		}
	}
	sql, args, err := lookupSQL(q, ph, keys, cond)
	if err != nil {
		return nil, "", err
	}
	events, err := query(ctx, sql, args...)
	if err != nil {
		return nil, "", fmt.Errorf("looking up events: %w", err)
	}
	if len(events) <= q.Limit {
		return events, "", nil
	}
	events = events[:q.Limit]
	last := events[len(events)-1]
	return events, strconv.FormatInt(Micros(last.Time), 10) + "/" + last.ID, nil
}

// Condition is a backend's WHERE condition for a lookup's attribute and
// value, its arguments bound by arg (which returns the placeholder).
type Condition func(arg func(any) string) (string, error)

func lookupSQL(q store.EventQuery, ph Placeholder, keys func(kind, value string) string, cond Condition) (string, []any, error) {
	if q.Limit < 1 || q.Limit > maxEventPage {
		return "", nil, fmt.Errorf("%w: limit %d outside 1..%d", store.ErrBadCursor, q.Limit, maxEventPage)
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return ph(len(args))
	}
	switch col, ok := eventColumn[q.Attribute]; {
	case cond != nil:
		c, err := cond(arg)
		if err != nil {
			return "", nil, err
		}
		where = append(where, c)
	case q.Attribute == "":
	case q.Attribute == store.EventAttrReadOnly:
		where = append(where, col+" = "+arg(q.Value == "true"))
	case ok:
		where = append(where, col+" = "+arg(q.Value))
	case q.Attribute == store.EventAttrResourceName || q.Attribute == store.EventAttrResourceType:
		kind := keyName
		if q.Attribute == store.EventAttrResourceType {
			kind = keyType
		}
		where = append(where, "event_id IN ("+keys(arg(kind), arg(q.Value))+")")
	default:
		return "", nil, fmt.Errorf("%w: unknown attribute %q", store.ErrBadCursor, q.Attribute)
	}
	if !q.Start.IsZero() {
		where = append(where, "time_us >= "+arg(Micros(q.Start)))
	}
	if !q.End.IsZero() {
		where = append(where, "time_us <= "+arg(Micros(q.End)))
	}
	if q.After != "" {
		t, id, err := parseEventCursor(q.After)
		if err != nil {
			return "", nil, err
		}
		where = append(where, "(time_us < "+arg(t)+" OR (time_us = "+arg(t)+" AND event_id < "+arg(id)+"))")
	}
	sql := "SELECT " + AuditColumns + " FROM audit_events"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY time_us DESC, event_id DESC LIMIT " + arg(q.Limit+1)
	return sql, args, nil
}

func parseEventCursor(s string) (int64, string, error) {
	ts, id, ok := strings.Cut(s, "/")
	t, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || id == "" {
		return 0, "", fmt.Errorf("%w: cursor %q", store.ErrBadCursor, s)
	}
	return t, id, nil
}

// AuditTx is what PruneEvents needs of a backend's write transaction.
type AuditTx interface {
	// Cutoff runs a query of one (time_us, event_id) row; ok is false
	// when it found none.
	Cutoff(sql string, args ...any) (t int64, id string, ok bool, err error)
	// Exec runs a statement and returns the rows it affected.
	Exec(sql string, args ...any) (int64, error)
	// PruneKeys deletes the audit_keys rows of the events up to
	// (time_us, event_id) = (t, id), from the buckets those events are in.
	PruneKeys(t int64, id string) error
}

// AuditRead is what PruneEvents reads outside a backend's writes, each
// query on a snapshot of its own (the read pool, a statement of its own):
// events stored since are left for the next prune.
type AuditRead struct {
	// Cutoff runs a query of one (time_us, event_id) row, as AuditTx's.
	Cutoff func(ctx context.Context, sql string, args ...any) (t int64, id string, ok bool, err error)
	// MaxEvents, when not nil, is a cheap upper bound of the events stored
	// (SQLite's: the span of their seqs); nil when the backend has none.
	MaxEvents func(ctx context.Context) (int64, error)
}

// PruneEvents is store.Audit's PruneEvents over a backend's reads and
// write transactions (write runs fn in one): each transaction deletes at
// most AuditPruneBatch of the oldest events that are older than before or
// beyond the newest keep, and their audit_keys rows (AuditTx.PruneKeys
// first, while the events are there to name them).
//
// The count rule's bound (the newest event beyond the newest keep: a walk
// of keep index entries, some 60 ms at a million on SQLite) and whether
// anything is to go are reads (read), not writes: a walk in SQLite's
// writer held every write queued behind it. Events stored since the read
// are newer than the bound it found or fall to the next prune, so the
// bound only errs towards keeping. The walk is skipped when
// read.MaxEvents is within keep, and no write is made when no event is
// beyond either rule: a trail under its cap and retention costs the
// writer nothing.
func PruneEvents(ctx context.Context, before time.Time, keep int, ph Placeholder, read AuditRead, write func(ctx context.Context, fn func(AuditTx) error) error) (int, error) {
	total := 0
	// The count rule's bound: the newest event beyond the newest keep.
	var bound struct {
		t  int64
		id string
		ok bool
	}
	if keep > 0 {
		walk := true
		if read.MaxEvents != nil {
			n, err := read.MaxEvents(ctx)
			if err != nil {
				return 0, fmt.Errorf("pruning events: %w", err)
			}
			walk = n > int64(keep)
		}
		if walk {
			var err error
			bound.t, bound.id, bound.ok, err = read.Cutoff(ctx, "SELECT time_us, event_id FROM audit_events ORDER BY time_us DESC, event_id DESC LIMIT 1 OFFSET "+ph(1), keep)
			if err != nil {
				return 0, fmt.Errorf("pruning events: %w", err)
			}
		}
	}
	cond, args := "time_us < "+ph(1), []any{Micros(before)}
	if bound.ok && bound.t >= Micros(before) {
		cond, args = "(time_us < "+ph(1)+" OR (time_us = "+ph(2)+" AND event_id <= "+ph(3)+"))", []any{bound.t, bound.t, bound.id}
	}
	if _, _, ok, err := read.Cutoff(ctx, "SELECT time_us, event_id FROM audit_events WHERE "+cond+" ORDER BY time_us, event_id LIMIT 1", args...); err != nil || !ok {
		if err != nil {
			return 0, fmt.Errorf("pruning events: %w", err)
		}
		return 0, nil
	}
	for range 1 << 20 { // bounded: each round deletes a batch or stops
		n := 0
		err := write(ctx, func(tx AuditTx) error {
			t, id, ok, err := tx.Cutoff("SELECT time_us, event_id FROM (SELECT time_us, event_id FROM audit_events WHERE "+cond+
				" ORDER BY time_us, event_id LIMIT "+strconv.Itoa(AuditPruneBatch)+") b ORDER BY time_us DESC, event_id DESC LIMIT 1", args...)
			if err != nil || !ok {
				return err
			}
			upTo := "time_us < " + ph(1) + " OR (time_us = " + ph(2) + " AND event_id <= " + ph(3) + ")"
			if err := tx.PruneKeys(t, id); err != nil {
				return err
			}
			d, err := tx.Exec("DELETE FROM audit_events WHERE "+upTo, t, t, id)
			n = int(d)
			return err
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("pruning events: %w", err)
		}
		if n == 0 {
			break
		}
	}
	return total, nil
}

// EventRows is what both drivers' result sets have (database/sql's *Rows
// and pgx's Rows).
type EventRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ScanEvents reads every row of an event lookup.
func ScanEvents(rows EventRows) ([]store.Event, error) {
	var out []store.Event
	for rows.Next() {
		var r EventRow
		if err := rows.Scan(r.Dest()...); err != nil {
			return nil, err
		}
		e, err := r.Event()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
