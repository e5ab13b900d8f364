package sqlite

import (
	"maps"
	"sync"
	"unsafe"

	"github.com/podid/podid/internal/store"
)

// walHeader is the WAL-index header (SQLite's WalIndexHdr, 48 bytes in
// native byte order; https://www.sqlite.org/walformat.html, section 2.1):
// version, change counter, page size, the last valid frame, the database's
// size, the last frame's checksum, the WAL's salts and the header's own
// checksum. Every commit, by any connection of any process, rewrites it
// with a new change counter and last frame (a WAL reset changes the
// salts), and a reader takes its snapshot from it: while it reads the
// same, the database holds what it held. Its layout is part of SQLite's
// file format, which processes running different SQLite versions share.
type walHeader [walHeaderBytes / 4]uint32

const walHeaderBytes = 48

// initialized reports the header's isInit byte (offset 12).
func (h *walHeader) initialized() bool {
	return (*[walHeaderBytes]byte)(unsafe.Pointer(h))[12] != 0
}

// readCache keeps associations GetAssociation read, valid while the
// WAL-index header is the one they were read under: any commit, this
// process's or another's on the same file, changes the header and so
// empties the cache before the next read could see it, and a write is
// acknowledged only once committed, so reads after it miss and see it
// (read-your-writes, and every other process's writes as soon as
// SQLite's own readers would). It holds at most readCacheSize
// associations, so memory stays flat whatever the store holds.
type readCache struct {
	wal *walIndex // nil: caching is off

	mu  sync.Mutex
	hdr walHeader // the header every entry was read under
	m   map[readCacheKey]store.Association
}

type readCacheKey struct{ region, cluster, id string }

// readCacheSize bounds the cache: a few MiB at most.
const readCacheSize = 4096

// get returns the association cached for key, if the header is still
// the one it was read under; else the current header for put, and false
// for it when it cannot be trusted (no mapping, or a commit is writing it).
func (c *readCache) get(key readCacheKey) (a store.Association, hit bool, now walHeader, trusted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wal == nil {
		return store.Association{}, false, walHeader{}, false
	}
	now, trusted = c.wal.header()
	if !trusted || now != c.hdr {
		return store.Association{}, false, now, trusted
	}
	a, hit = c.m[key]
	if hit {
		a.Tags = maps.Clone(a.Tags) // the caller's to change
	}
	return a, hit, now, trusted
}

// put caches a, read after get returned header before: if the header is
// still that (no commit since, so a is what the database holds).
func (c *readCache) put(before walHeader, key readCacheKey, a store.Association) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wal == nil {
		return
	}
	if now, ok := c.wal.header(); !ok || now != before {
		return
	}
	if c.m == nil {
		c.m = make(map[readCacheKey]store.Association, 64)
	}
	if c.hdr != before {
		// Read under a newer header: what was cached before it is stale.
		c.hdr = before
		clear(c.m)
	}
	if len(c.m) >= readCacheSize {
		for k := range c.m { // any one
			delete(c.m, k)
			break
		}
	}
	a.Tags = maps.Clone(a.Tags)
	c.m[key] = a
}

// close stops caching and unmaps the header.
func (c *readCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	wal := c.wal
	c.wal, c.m = nil, nil
	if wal == nil {
		return nil
	}
	return wal.close()
}
