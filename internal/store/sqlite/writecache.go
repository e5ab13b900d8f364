package sqlite

import (
	"database/sql/driver"

	"github.com/podid/podid/internal/store"
)

// writeCache is the writer's copy of the associations it last read or
// wrote, so that an Update of an association the writer touched recently
// does not walk the associations b-tree to read it again (7-12 µs of the
// writer's CPU, which every write of a transaction waits for). Used only by
// the writer goroutine.
//
// It must hold what the database holds, or an update would be made to a
// stale record and lose another's. Two layers:
//   - committed: records as of the writer's last COMMIT. Another
//     connection (another process on the same file) may have committed
//     since: the first look at the cache in a transaction reads PRAGMA
//     data_version, which changes exactly when another connection
//     committed (https://www.sqlite.org/pragma.html#pragma_data_version),
//     and drops committed when it did. BEGIN IMMEDIATE took the write
//     lock, so nobody commits while the transaction runs.
//   - tx: what the current transaction's writes read and wrote. It
//     becomes part of committed at COMMIT, and is dropped with a
//     ROLLBACK; a savepoint rolled back (runOne) drops all of it, since a
//     later write may have read what the undone one wrote.
//
// Every statement of the writer that changes associations says so:
// putAssociation after it wrote a record, dropAssociation after it deleted
// one, dropAssociations after one that changed rows it does not list
// (deleting a cluster's, adopting a region).
type writeCache struct {
	committed map[assocKey]store.Association
	version   int64 // data_version committed is valid at
	known     bool  // version was read

	// This transaction's layer: records (a nil one is a record deleted,
	// or not known), and cleared when committed does not count.
	tx      map[assocKey]*store.Association
	cleared bool
	checked bool // data_version read in this transaction
	off     bool // data_version could not be read: no caching in this transaction

	hits int64 // lookups it answered, for tests

	// tokens knows which client request tokens have no record; dropped
	// with committed.
	tokens tokenFilter

	// meta's revision and iam_revision as the writer's last COMMIT left
	// them (metaKnown), for revisions; dropped with committed.
	metaKnown        bool
	metaRev, metaIAM int64
}

// writeCacheSize bounds committed.
const writeCacheSize = readCacheSize

// begin starts a transaction's layer (after BEGIN IMMEDIATE).
func (c *writeCache) begin() {
	c.tokens.begin()
	clear(c.tx)
	c.cleared, c.checked, c.off = false, false, false
}

// commit makes the transaction's layer part of committed (after COMMIT).
func (c *writeCache) commit() {
	if c.cleared {
		clear(c.committed)
	}
	if c.committed == nil && len(c.tx) > 0 {
		c.committed = make(map[assocKey]store.Association, len(c.tx))
	}
	for k, a := range c.tx {
		if a == nil {
			delete(c.committed, k)
			continue
		}
		if _, ok := c.committed[k]; !ok && len(c.committed) >= writeCacheSize {
			for old := range c.committed { // any one
				delete(c.committed, old)
				break
			}
		}
		c.committed[k] = *a
	}
	c.begin()
}

// reset forgets everything (a COMMIT that failed: what the database holds
// is not certain).
func (c *writeCache) reset() {
	c.forget()
	c.known = false
	c.begin()
}

// forget drops what the writer knows of the committed database: its
// records, meta's revisions and the token filter.
func (c *writeCache) forget() {
	clear(c.committed)
	c.metaKnown = false
	c.tokens.invalidate()
}

// dropTx drops the transaction's layer after a savepoint was rolled back.
func (c *writeCache) dropTx() {
	clear(c.tx)
	c.cleared = true
}

// check validates committed against data_version, once per transaction;
// false when there is no caching in this transaction.
func (c *writeCache) check(w *writer) bool {
	if c.checked {
		return !c.off
	}
	c.checked = true
	var v [1]driver.Value
	found, err := w.readRow("PRAGMA data_version", nil, v[:])
	version, ok := v[0].(int64)
	if err != nil || !found || !ok {
		c.off = true
		c.forget()
		c.known = false
		return false
	}
	if !c.known || version != c.version {
		c.forget()
		c.version, c.known = version, true
	}
	return true
}

// association returns the record of k as the transaction sees it, if the
// cache knows it (a copy: the caller may change it).
func (t *wtx) cachedAssociation(k assocKey) (store.Association, bool) {
	c := &t.w.cache
	if !c.check(t.w) {
		return store.Association{}, false
	}
	if a, ok := c.tx[k]; ok {
		if a == nil {
			return store.Association{}, false
		}
		c.hits++
		return cloneAssociation(*a), true
	}
	if c.cleared {
		return store.Association{}, false
	}
	a, ok := c.committed[k]
	if ok {
		c.hits++
		a = cloneAssociation(a)
	}
	return a, ok
}

// putAssociation notes a, as the database now holds it (read, or just
// written as a later read returns it).
func (t *wtx) putAssociation(a store.Association) {
	c := &t.w.cache
	if !c.check(t.w) {
		return
	}
	if c.tx == nil {
		c.tx = make(map[assocKey]*store.Association)
	}
	a = cloneAssociation(a)
	c.tx[assocKey{a.Region, a.ClusterName, a.ID}] = &a
}

// dropAssociation notes that the record of k was deleted.
func (t *wtx) dropAssociation(k assocKey) {
	c := &t.w.cache
	if c.tx == nil {
		c.tx = make(map[assocKey]*store.Association)
	}
	c.tx[k] = nil
}

// dropAssociations notes that the transaction changed records it does not
// list.
func (t *wtx) dropAssociations() { t.w.cache.dropTx() }

// tokenAbsent reports whether the writer knows that the key of hash h has
// no idempotency record (tokenFilter), in this transaction.
func (t *wtx) tokenAbsent(h int64) bool {
	c := &t.w.cache
	return c.check(t.w) && c.tokens.absent(h)
}
