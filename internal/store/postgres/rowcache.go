package postgres

import (
	"maps"

	"github.com/podid/podid/internal/store"
)

// rowCache is the writer's copy of the associations its own commits last
// wrote, so that an update of one reads nothing (see Row cache in
// writer.go). It holds what the database held once this replica's last
// commit returned, and is current while the revision counter still reads
// what that commit left it at: every write of an association, on any
// replica, reserves a revision under the counter's lock (AdoptRegion's
// too), so no other association can have changed unless the counter
// moved. A transaction that uses it checks that in SQL (lockCounter) before
// any of its statements can commit.
//
// It belongs to the writer goroutine: it is not safe for concurrent use.
type rowCache struct {
	rows map[string]store.Association // by rowKey
	// rev and iam are the counter and IAM revision as this replica's last
	// commit left them; known: there was one since the cache was last
	// found stale.
	rev, iam int64
	known    bool
	// skip: transactions to run without the cache after it was found
	// stale (another replica writes too: each of its commits would make
	// a transaction that relied on the cache run twice).
	skip int
}

const (
	// maxCachedRows bounds the cache; it starts again empty when full.
	maxCachedRows = 4096
	// staleSkip is how many transactions run without the cache after a
	// transaction found it stale.
	staleSkip = 64
)

// rowKey is an association's key in the cache and among a batch's
// prefetched reads (prefetch.keys).
func rowKey(region, cluster, id string) string {
	return "association\x00" + region + "\x00" + cluster + "\x00" + id
}

// use reports whether the next transaction may rely on the cache, and
// counts down the transactions to skip.
func (c *rowCache) use() bool {
	if c.skip > 0 {
		c.skip--
		return false
	}
	return c.known && len(c.rows) > 0
}

// get returns a copy of the cached association with key, whose tags the
// caller may change.
func (c *rowCache) get(key string) (store.Association, bool) {
	a, ok := c.rows[key]
	if ok {
		a.Tags = maps.Clone(a.Tags)
	}
	return a, ok
}

// committed takes in what t, a transaction of this replica's writer that
// just committed, changed: its listed changes, or, if it changed
// associations without listing them (changedUnlisted), nothing (the cache
// empties). The changes' associations are shared with the change log,
// which changes none of them.
func (c *rowCache) committed(t *wtx) {
	if t.partial || len(c.rows)+len(t.changes) > maxCachedRows {
		clear(c.rows)
	}
	if !t.partial {
		if c.rows == nil {
			c.rows = make(map[string]store.Association)
		}
		for _, ch := range t.changes {
			key := rowKey(ch.Region, ch.ClusterName, ch.AssociationID)
			if ch.Deleted {
				delete(c.rows, key)
			} else {
				c.rows[key] = *ch.Association
			}
		}
	}
	c.rev, c.iam, c.known = t.base+t.used, t.iam, true
}

// stale records that the counter had moved: another replica committed.
func (c *rowCache) stale() {
	clear(c.rows)
	c.known = false
	c.skip = staleSkip
}
