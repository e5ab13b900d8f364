package sqlite

import (
	"cmp"
	"maps"
	"slices"
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

// readCache keeps records GetAssociation and GetClusterPublic read (and
// the pages of names ListClusters read),
// valid while the WAL-index header is the one they were read under: any
// commit, this process's or another's on the same file, changes the
// header and so empties the cache before the next read could see it, and a
// write is acknowledged only once committed, so reads after it miss and
// see it (read-your-writes, and every other process's writes as soon as
// SQLite's own readers would). It holds at most readCacheSize records, so
// memory stays flat whatever the store holds (fewer when size says so).
// Records are copied in and out (clone): callers may change what they get.
type readCache[K comparable, V any] struct {
	clone func(V) V
	size  int // the most records it holds; 0 for readCacheSize

	mu  sync.Mutex
	wal *walIndex // nil: caching is off
	hdr walHeader // the header every entry was read under
	m   map[K]V
}

// readCacheSize bounds each cache: a few MiB at most.
const readCacheSize = 4096

type assocKey struct{ region, cluster, id string }

type clusterKey struct{ region, name string }

// cloneAssociation copies a's mutable parts.
func cloneAssociation(a store.Association) store.Association {
	a.Tags = maps.Clone(a.Tags)
	return a
}

// cloneCluster copies c's mutable parts.
func cloneCluster(c store.Cluster) store.Cluster {
	c.Tags = maps.Clone(c.Tags)
	c.Config = slices.Clone(c.Config)
	c.Issuer.JWKS = slices.Clone(c.Issuer.JWKS)
	c.Issuer.SigningKeys = slices.Clone(c.Issuer.SigningKeys)
	c.APIServer.CAData = slices.Clone(c.APIServer.CAData)
	return c
}

// get returns the record cached for key, if the header is still the one
// it was read under; else the current header for put, and false for it
// when it cannot be trusted (no mapping, or a commit is writing it).
func (c *readCache[K, V]) get(key K) (v V, hit bool, now walHeader, trusted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wal == nil {
		return v, false, walHeader{}, false
	}
	now, trusted = c.wal.header()
	if !trusted || now != c.hdr {
		return v, false, now, trusted
	}
	v, hit = c.m[key]
	if hit {
		v = c.clone(v)
	}
	return v, hit, now, trusted
}

// put caches v, read after get returned header before: if the header is
// still that (no commit since, so v is what the database holds).
func (c *readCache[K, V]) put(before walHeader, key K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wal == nil {
		return
	}
	if now, ok := c.wal.header(); !ok || now != before {
		return
	}
	if c.m == nil {
		c.m = make(map[K]V, 64)
	}
	if c.hdr != before {
		// Read under a newer header: what was cached before it is stale.
		c.hdr = before
		clear(c.m)
	}
	if size := cmp.Or(c.size, readCacheSize); len(c.m) >= size {
		for k := range c.m { // any one
			delete(c.m, k)
			break
		}
	}
	c.m[key] = c.clone(v)
}

// stop turns caching off (before the header is unmapped).
func (c *readCache[K, V]) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wal, c.m = nil, nil
}

// cached is get, then on a miss read and put.
func (c *readCache[K, V]) cached(key K, read func() (V, error)) (V, error) {
	v, hit, before, trusted := c.get(key)
	if hit {
		return v, nil
	}
	v, err := read()
	if err == nil && trusted {
		c.put(before, key, v)
	}
	return v, err
}
