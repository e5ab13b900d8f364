// Package storecore is the backend-neutral half of podid's SQL store
// backends (sqlite, postgres): how records sit in rows (times as Unix
// microseconds, tags as a JSON object, the column lists), how writes
// normalise records, the idempotency records' replay rule, keyset paging,
// Secret's first-value-wins flow, the expiry of stored records, and the
// shape of Open. A backend adds its SQL and its transaction discipline; a
// third backend is a matter of SQL.
package storecore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/podid/podid/internal/store"
)

// Expiry of stored records, the same in every backend.
const (
	// IdempotencyTTL is how long a client request token is remembered.
	IdempotencyTTL = 24 * time.Hour
	// TombstoneTTL is how long deletions stay in the change feed; a
	// reader further behind resyncs from a full listing.
	TombstoneTTL = 24 * time.Hour
	// PruneInterval is how often expired records are removed.
	PruneInterval = time.Hour
	// pruneTimeout bounds one background prune.
	pruneTimeout = time.Minute
)

// Micros is how times are stored: microseconds since the Unix epoch (UTC).
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros is the time Micros stored.
func FromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// StoredTime is t as a store keeps it: UTC, to the microsecond. Writes
// return what a later read returns.
func StoredTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// EncodeTags is how tags are stored: a JSON object ("{}" for none).
func EncodeTags(tags map[string]string) ([]byte, error) {
	if len(tags) == 0 {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(tags)
	if err != nil {
		return nil, fmt.Errorf("encoding tags: %w", err)
	}
	return b, nil
}

// DecodeTags reads stored tags; never nil.
func DecodeTags(b []byte) (map[string]string, error) {
	tags := map[string]string{}
	if len(b) == 0 || string(b) == "{}" {
		return tags, nil
	}
	if err := json.Unmarshal(b, &tags); err != nil {
		return nil, fmt.Errorf("decoding tags: %w", err)
	}
	return tags, nil
}

// NormalizeAssociation puts a in the form a store keeps and returns:
// times in UTC to the microsecond, nil tags as an empty map.
func NormalizeAssociation(a *store.Association) {
	a.CreatedAt = StoredTime(a.CreatedAt)
	a.ModifiedAt = StoredTime(a.ModifiedAt)
	if a.Tags == nil {
		a.Tags = map[string]string{}
	}
}

// NormalizeCluster is NormalizeAssociation for clusters.
func NormalizeCluster(c *store.Cluster) {
	c.CreatedAt = StoredTime(c.CreatedAt)
	if c.Tags == nil {
		c.Tags = map[string]string{}
	}
}

// EditAssociation runs an UpdateAssociation function on a (the current
// record) and normalises the result. The key cannot move: an association
// stays in its cluster, namespace and service account. fn's error comes
// back marked, for WriteError to return as is.
func EditAssociation(a *store.Association, fn func(*store.Association) error) error {
	key := *a
	if err := fn(a); err != nil {
		return &fnError{err}
	}
	a.Region, a.ID, a.ClusterName, a.Namespace, a.ServiceAccount = key.Region, key.ID, key.ClusterName, key.Namespace, key.ServiceAccount
	NormalizeAssociation(a)
	return nil
}

// EditCluster runs an UpdateCluster function on c (the current record)
// and normalises the result; the region and name cannot change. fn's
// error comes back marked, as with EditAssociation.
func EditCluster(c *store.Cluster, fn func(*store.Cluster) error) error {
	region, name := c.Region, c.Name
	if err := fn(c); err != nil {
		return &fnError{err}
	}
	c.Region, c.Name = region, name
	NormalizeCluster(c)
	return nil
}

// fnError carries a read-modify-write function's error out of the
// backend's transaction.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }
func (e *fnError) Unwrap() error { return e.err }

// WriteError is what a write method returns for err: nil for nil, the
// read-modify-write function's own error as is (the contract says so),
// anything else with context ("updating association a-1: ...").
func WriteError(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	if fe := (*fnError)(nil); errors.As(err, &fe) {
		return fe.err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// Record is a client request token's stored record.
type Record struct {
	Hash      string
	Result    []byte // the write's result, JSON
	CreatedAt int64  // Micros
}

// Replay decides on a token's stored record: a live one with the token's
// hash is decoded into out (replayed); one with another hash is
// store.ErrIdempotencyMismatch; an expired one lets the write go ahead.
func Replay(idem *store.Idempotency, rec Record, now time.Time, out any) (replayed bool, err error) {
	if FromMicros(rec.CreatedAt).Before(now.Add(-IdempotencyTTL)) {
		return false, nil
	}
	if rec.Hash != idem.Hash {
		return false, store.ErrIdempotencyMismatch
	}
	if err := json.Unmarshal(rec.Result, out); err != nil {
		return false, fmt.Errorf("decoding idempotency record: %w", err)
	}
	return true, nil
}

// Remember stores the record of result for idem (none: nothing to do)
// through the backend's upsert of a record by key, which replaces an
// expired record of the same key.
func Remember(idem *store.Idempotency, result any, now time.Time, put func(key string, rec Record) error) error {
	if idem == nil {
		return nil
	}
	var b []byte
	var err error
	if a, ok := result.(store.Association); ok {
		b, err = AppendAssociationJSON(nil, &a)
	} else {
		b, err = json.Marshal(result)
	}
	if err != nil {
		return fmt.Errorf("encoding idempotency record: %w", err)
	}
	if err := put(idem.Key, Record{Hash: idem.Hash, Result: b, CreatedAt: Micros(now)}); err != nil {
		return fmt.Errorf("storing idempotency record: %w", err)
	}
	return nil
}

// CheckPage refuses a page size below 1.
func CheckPage(p store.Page) error {
	if p.Limit < 1 {
		return fmt.Errorf("page limit %d is not positive", p.Limit)
	}
	return nil
}

// CutPage takes a listing of up to p.Limit+1 items in key order (the extra
// one only says that there is more) and returns the page and the key to
// continue after ("" at the end).
func CutPage[T any](items []T, p store.Page, key func(T) string) ([]T, string) {
	if len(items) <= p.Limit {
		return items, ""
	}
	items = items[:p.Limit]
	return items, key(items[p.Limit-1])
}

// AssociationID is an association's key in a listing.
func AssociationID(a store.Association) string { return a.ID }

// ClusterName is a cluster name's key in a listing.
func ClusterName(name string) string { return name }

// Secret is store.Store's Secret over a backend's two statements: read
// (found false when there is none) and insert-if-absent. gen runs outside
// any transaction; the first value stored wins and every caller gets it.
func Secret(ctx context.Context, name string, gen func() ([]byte, error),
	read func(ctx context.Context) (v []byte, found bool, err error),
	insertAbsent func(ctx context.Context, fresh []byte, now int64) error, now time.Time) ([]byte, error) {
	v, found, err := read(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading secret %q: %w", name, err)
	}
	if found {
		return v, nil
	}
	fresh, err := gen()
	if err != nil {
		return nil, fmt.Errorf("generating secret %q: %w", name, err)
	}
	if err := insertAbsent(ctx, fresh, Micros(now)); err != nil {
		return nil, fmt.Errorf("storing secret %q: %w", name, err)
	}
	v, found, err = read(ctx)
	if err == nil && !found {
		err = errors.New("not found after storing it")
	}
	if err != nil {
		return nil, fmt.Errorf("reading secret %q: %w", name, err)
	}
	return v, nil
}

// PruneLoop calls prune every PruneInterval until quit closes. A failure
// is retried at the next tick: the records are only garbage.
func PruneLoop(quit <-chan struct{}, prune func(context.Context) error) {
	t := time.NewTicker(PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-quit:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), pruneTimeout)
			_ = prune(ctx)
			cancel()
		}
	}
}

// Do runs fn in one of the backend's write transactions (run: the
// backend's transaction discipline) and returns fn's value once the
// transaction committed. Errors come back as WriteError makes them, with
// format and args as context.
func Do[T, Tx any](ctx context.Context, run func(context.Context, func(Tx) error) error, fn func(Tx) (T, error), format string, args ...any) (T, error) {
	var out T
	err := run(ctx, func(tx Tx) error {
		v, err := fn(tx)
		out = v
		return err
	})
	if err != nil {
		var zero T
		return zero, WriteError(err, format, args...)
	}
	return out, nil
}

// CheckNewAssociation applies CreateAssociation's rules to what the
// backend read in the write transaction: the cluster's association count
// (clusterFound false: no such cluster) and the ID of the association that
// already has a's key ("" for none).
func CheckNewAssociation(a store.Association, opts store.WriteOptions, count int, clusterFound bool, existing string) error {
	switch {
	case !clusterFound:
		return fmt.Errorf("cluster %q in %s: %w", a.ClusterName, a.Region, store.ErrNotFound)
	case existing != "":
		return &store.ExistsError{ID: existing}
	case opts.MaxPerCluster > 0 && count >= opts.MaxPerCluster:
		return fmt.Errorf("cluster %q has %d associations: %w", a.ClusterName, count, store.ErrLimitExceeded)
	}
	return nil
}

// Deleted is the result of deleting a: a as it was, at the delete's
// revision.
func Deleted(a store.Association, rev int64) store.Association {
	a.Revision = rev
	return a
}
