// Package assoccache is the credential path's view of pod identity
// associations: an in-memory index (cluster, namespace, service account) →
// association, fed by the store's change feed, plus a small cache of
// cluster records. The index holds no pointers (see table): about 100
// bytes per association, none of it for the garbage collector to scan.
//
// The cache starts with a full load (Start waits for it; StartBackground
// does not, and Find reads through to the store until it is done), then
// applies store.ChangesSince on
// every store.Watcher signal, on a poll interval and when a waiter asks,
// and resyncs in full periodically in case a signal or a tombstone was
// lost. It makes EKS's eventual consistency visible: AppliedRevision tells
// which writes are in effect for credential requests, WaitFor blocks until
// a revision is, an optional Delay emulates EKS's propagation delay, and
// the measured propagation (commit to applied) is exposed as Prometheus
// metrics and through Propagation.
package assoccache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/podid/podid/internal/store"
)

// Options tune a Cache. Zero values take the defaults.
type Options struct {
	// PollInterval is how often the change feed is read when no watcher
	// signal arrives. Default 1 s.
	PollInterval time.Duration
	// MinSignalInterval spaces feed reads prompted by change signals: a
	// signal within this time of the last read waits out the rest, and
	// signals meanwhile coalesce. Under a write load that commits every
	// millisecond or two, this reads the feed once for several commits
	// instead of once per commit, for at most this much more propagation
	// delay. Default 5 ms; negative: no spacing.
	MinSignalInterval time.Duration
	// ResyncInterval is how often the whole feed is re-read and entries
	// the store no longer has are dropped. Default 5 min.
	ResyncInterval time.Duration
	// Delay holds each change back until Delay after its commit, to
	// emulate EKS's propagation delay. Default 0 (apply at once).
	Delay time.Duration
	// PageSize is the number of changes read per store call. Default 1000.
	PageSize int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger reports sync failures. Default slog.Default().
	Logger *slog.Logger
	// Registerer, if set, receives the cache's Prometheus metrics.
	Registerer prometheus.Registerer
}

func (o *Options) setDefaults() {
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.ResyncInterval <= 0 {
		o.ResyncInterval = 5 * time.Minute
	}
	if o.MinSignalInterval == 0 {
		o.MinSignalInterval = 5 * time.Millisecond
	}
	if o.PageSize <= 0 {
		o.PageSize = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Association is what the credential path needs of an association.
type Association struct {
	ID                 string
	Region             string
	ClusterName        string
	Namespace          string
	ServiceAccount     string
	RoleARN            string
	TargetRoleARN      string
	ExternalID         string
	Policy             string
	DisableSessionTags bool
	// Revision is the store revision of this state.
	Revision int64
}

// pendingChange is a change read from the feed, waiting for its due time.
type pendingChange struct {
	store.Change
	due time.Time
	// after is the revision the feed read that found the change started
	// from. The feed gives only an association's latest state, so the
	// change may stand for every write to it in (after, Revision]: while
	// it is pending, no revision above after is in effect.
	after int64
}

// Cache is the association cache. Create it with New, then Start it.
type Cache struct {
	st   store.Store
	opts Options

	mu      sync.RWMutex
	assocs  *table
	applied int64
	changed chan struct{} // closed and replaced when applied advances

	clusterMu    sync.RWMutex
	clusters     map[string]clusterEntry // by clusterKey
	clusterGen   atomic.Uint64
	clusterFetch singleflight.Group

	// Owned by the sync loop.
	pending        []pendingChange
	fetchedThrough int64
	storeRev       int64
	gen            uint32

	loaded atomic.Bool   // the first full load is done
	ready  chan struct{} // closed when loaded is set

	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	m    metrics
	prop propagation
}

type clusterEntry struct {
	c   store.Cluster
	gen uint64
}

// maxClusters bounds the cluster cache; past it, it restarts empty.
const maxClusters = 100_000

// clusterReadTimeout bounds one store read of a cluster record.
const clusterReadTimeout = 10 * time.Second

// New returns a Cache over st; Start loads it.
func New(st store.Store, opts Options) *Cache {
	opts.setDefaults()
	c := &Cache{
		st:       st,
		opts:     opts,
		assocs:   newTable(),
		changed:  make(chan struct{}),
		clusters: map[string]clusterEntry{},
		kick:     make(chan struct{}, 1),
		ready:    make(chan struct{}),
		done:     make(chan struct{}),
	}
	c.prop.since = opts.Now().UnixNano()
	c.m = newMetrics(c)
	if opts.Registerer != nil {
		c.m.register(opts.Registerer)
	}
	return c
}

// Start loads every association, then keeps the cache current in the
// background until ctx ends or Stop is called. An error means the first
// load failed; the cache is then not running.
func (c *Cache) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	watch := c.watch(ctx)
	if err := c.resync(ctx); err != nil {
		cancel()
		return fmt.Errorf("loading associations: %w", err)
	}
	c.markLoaded()
	c.cancel = cancel
	go c.run(ctx, watch)
	return nil
}

// StartBackground is Start without the wait: it returns at once and loads
// in the background (retrying a failed load every PollInterval), so a
// server can answer while a large store loads. Until the load is done,
// Find reads through to the store; Loaded and Ready tell when it is.
func (c *Cache) StartBackground(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	c.cancel = cancel
	go func() {
		watch := c.watch(ctx)
		start := time.Now()
		for c.resync(ctx) != nil {
			if ctx.Err() != nil {
				close(c.done)
				return
			}
			c.m.syncErrors.Inc()
			c.opts.Logger.Warn("assoccache: loading associations failed; retrying")
			t := time.NewTimer(c.opts.PollInterval)
			select {
			case <-ctx.Done():
				t.Stop()
				close(c.done)
				return
			case <-t.C:
			}
		}
		took := time.Since(start)
		// The load read every association through pages of full records:
		// give the heap that garbage left back to the OS now, rather than
		// keep it as the process's size (at a million, hundreds of MiB).
		// Before markLoaded, so that "loaded" means the process's size
		// after the load.
		debug.FreeOSMemory()
		c.pace()
		warmHeadroom()
		c.markLoaded()
		c.opts.Logger.Info("assoccache: associations loaded", "associations", c.Len(),
			"took", took.Round(time.Millisecond))
		c.run(ctx, watch)
	}()
}

// watch subscribes to the store's change signals (nil if it has none),
// before the first load, so a change committed while it runs signals the
// loop at once instead of waiting for the next poll.
func (c *Cache) watch(ctx context.Context) <-chan struct{} {
	w, ok := c.st.(store.Watcher)
	if !ok {
		return nil
	}
	ch, err := w.Watch(ctx)
	if err != nil {
		c.opts.Logger.Warn("assoccache: store watch failed; polling only", "err", err)
	}
	return ch
}

func (c *Cache) markLoaded() {
	if !c.loaded.Swap(true) {
		close(c.ready)
	}
}

// Loaded reports whether the first full load is done.
func (c *Cache) Loaded() bool { return c.loaded.Load() }

// Ready is closed when the first full load is done.
func (c *Cache) Ready() <-chan struct{} { return c.ready }

// Stop ends the background sync and waits for it.
func (c *Cache) Stop() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	<-c.done
}

// Lookup returns the association for (cluster, namespace, service
// account) of region's cluster as of AppliedRevision.
func (c *Cache) Lookup(region, cluster, namespace, serviceAccount string) (Association, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.assocs.lookup(region, cluster, namespace, serviceAccount)
}

// Find returns the association for (cluster, namespace, service
// account): Lookup's once the cache is loaded; before, read from the
// store (the partly loaded cache may hold an older state of it).
func (c *Cache) Find(ctx context.Context, region, cluster, namespace, serviceAccount string) (Association, bool, error) {
	if c.loaded.Load() {
		a, ok := c.Lookup(region, cluster, namespace, serviceAccount)
		return a, ok, nil
	}
	c.m.readThrough.Inc()
	items, _, err := c.st.ListAssociations(ctx, region, cluster,
		store.AssociationFilter{Namespace: namespace, ServiceAccount: serviceAccount}, store.Page{Limit: 1})
	if errors.Is(err, store.ErrNotFound) {
		return Association{}, false, nil
	}
	if err != nil {
		return Association{}, false, fmt.Errorf("reading the association of %s/%s in cluster %s in %s: %w",
			namespace, serviceAccount, cluster, region, err)
	}
	if len(items) == 0 {
		return Association{}, false, nil
	}
	a := items[0]
	return Association{
		ID: a.ID, Region: a.Region, ClusterName: a.ClusterName, Namespace: a.Namespace, ServiceAccount: a.ServiceAccount,
		RoleARN: a.RoleARN, TargetRoleARN: a.TargetRoleARN, ExternalID: a.ExternalID, Policy: a.Policy,
		DisableSessionTags: a.DisableSessionTags, Revision: a.Revision,
	}, true, nil
}

// pace sets the garbage collector's pacing for the table's size (see
// paceGC): after the first load, then at every poll.
func (c *Cache) pace() {
	c.mu.RLock()
	b := c.assocs.bytes()
	c.mu.RUnlock()
	paceGC(b)
}

// Len returns the number of cached associations.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.assocs.len()
}

// AppliedRevision returns the revision the cache is current as of: every
// write acknowledged with a revision <= it is in effect for lookups.
func (c *Cache) AppliedRevision() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.applied
}

// WaitFor returns once the cache has applied revision rev, or ctx's error.
func (c *Cache) WaitFor(ctx context.Context, rev int64) error {
	for {
		c.mu.RLock()
		applied, changed := c.applied, c.changed
		c.mu.RUnlock()
		if applied >= rev {
			return nil
		}
		c.Kick()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Kick asks for a feed read now instead of at the next poll.
func (c *Cache) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Cluster returns the record of region's cluster name, cached until the store's revision
// next moves (cluster writes are not in the change feed, so any store write
// drops the cached clusters; they are re-read on demand). Unknown clusters
// are store.ErrNotFound. The record's byte slices are shared: do not
// modify them.
func (c *Cache) Cluster(ctx context.Context, region, name string) (store.Cluster, error) {
	key := clusterKey(region, name)
	gen := c.clusterGen.Load()
	c.clusterMu.RLock()
	e, ok := c.clusters[key]
	c.clusterMu.RUnlock()
	if ok && e.gen == gen {
		return e.c, nil
	}
	v, err, _ := c.clusterFetch.Do(key, func() (any, error) {
		// Shared by concurrent callers: one's cancellation must not fail
		// the others.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), clusterReadTimeout)
		defer cancel()
		gen := c.clusterGen.Load()
		cl, err := c.st.GetCluster(ctx, region, name)
		if err != nil {
			return nil, err
		}
		c.clusterMu.Lock()
		if len(c.clusters) >= maxClusters {
			clear(c.clusters)
		}
		c.clusters[key] = clusterEntry{c: cl, gen: gen}
		c.clusterMu.Unlock()
		return cl, nil
	})
	if err != nil {
		return store.Cluster{}, err
	}
	return v.(store.Cluster), nil
}

// InvalidateClusters drops the cached cluster records (call it after
// writing a cluster in this process, so the change is seen at once).
func (c *Cache) InvalidateClusters() { c.clusterGen.Add(1) }

func (c *Cache) run(ctx context.Context, watch <-chan struct{}) {
	defer close(c.done)
	poll := time.NewTicker(c.opts.PollInterval)
	defer poll.Stop()
	resync := time.NewTicker(c.opts.ResyncInterval)
	defer resync.Stop()
	due := time.NewTimer(time.Hour)
	defer due.Stop()
	resyncWanted := false
	var lastSignalSync time.Time
	for {
		c.armDue(due)
		select {
		case <-ctx.Done():
			return
		case _, ok := <-watch:
			if !ok {
				watch = nil
				continue
			}
			if wait := c.opts.MinSignalInterval - time.Since(lastSignalSync); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			lastSignalSync = time.Now()
			c.syncLogged(ctx, true)
		case <-poll.C:
			c.syncLogged(ctx, false)
			c.pace()
		case <-c.kick:
			// WaitFor's revision may be another replica's, not yet
			// notified: read it.
			c.syncLogged(ctx, false)
		case <-due.C:
			c.applyDue()
		case <-resync.C:
			resyncWanted = true
		}
		// A resync applies what it reads at once, so with a Delay it
		// waits until nothing is held back.
		if resyncWanted && len(c.pending) == 0 {
			resyncWanted = false
			if err := c.resync(ctx); err != nil && ctx.Err() == nil {
				c.m.syncErrors.Inc()
				c.opts.Logger.Warn("assoccache: resync failed", "err", err)
			}
		}
	}
}

// armDue sets the timer to fire when the first pending change is due.
func (c *Cache) armDue(t *time.Timer) {
	if len(c.pending) == 0 {
		t.Reset(time.Hour)
		return
	}
	t.Reset(max(0, c.pending[0].due.Sub(c.opts.Now())))
}

func (c *Cache) syncLogged(ctx context.Context, signalled bool) {
	if err := c.sync(ctx, signalled); err != nil && ctx.Err() == nil {
		c.m.syncErrors.Inc()
		c.opts.Logger.Warn("assoccache: reading the change feed failed", "err", err)
	}
}

// maxPages bounds one feed read (PageSize × maxPages changes).
const maxPages = 10_000

// sync reads the feed past what was read before and applies what is due.
// signalled: a Watch signal woke it, so a
// store that knows the revisions it signals (store.KnownRevisions) saves
// the read of the revision; the poll reads it from the database.
func (c *Cache) sync(ctx context.Context, signalled bool) error {
	if signalled && c.syncRecent() {
		return nil
	}
	rev, err := c.revision(ctx, signalled)
	if err != nil {
		return err
	}
	c.storeMoved(rev)
	from := c.fetchedThrough
	after := from
	complete := false
	for range maxPages {
		changes, err := c.st.ChangesSince(ctx, after, c.opts.PageSize)
		if err != nil {
			return err
		}
		for _, ch := range changes {
			c.pending = append(c.pending, pendingChange{Change: ch, due: c.dueTime(ch), after: from})
			after = ch.Revision
		}
		if len(changes) < c.opts.PageSize {
			complete = true
			break
		}
	}
	c.fetchedThrough = after
	if complete {
		c.fetchedThrough = max(after, rev)
	}
	c.applyDue()
	return nil
}

// syncRecent is sync from the store's memory of its own recent commits
// (store.RecentChanges), when it has every change since what was read
// before; false: read the feed.
func (c *Cache) syncRecent() bool {
	rc, ok := c.st.(store.RecentChanges)
	if !ok {
		return false
	}
	from := c.fetchedThrough
	changes, through, ok := rc.RecentChanges(from)
	if !ok {
		return false
	}
	c.storeMoved(through)
	for _, ch := range changes {
		c.pending = append(c.pending, pendingChange{Change: ch, due: c.dueTime(ch), after: from})
	}
	c.fetchedThrough = max(from, through)
	c.applyDue()
	return true
}

// storeMoved notes the store's revision rev: when it moved, something was
// written, perhaps a cluster (not in the feed), so the cached clusters go.
func (c *Cache) storeMoved(rev int64) {
	if rev != c.storeRev {
		c.InvalidateClusters()
		c.storeRev = rev
	}
}

// revision returns the store's revision: the one the store knows it
// signalled, when signalled and it knows one, else read from the store.
func (c *Cache) revision(ctx context.Context, signalled bool) (int64, error) {
	if k, ok := c.st.(store.KnownRevisions); ok && signalled {
		if rev, _, ok := k.KnownRevisions(); ok {
			return rev, nil
		}
	}
	return c.st.Revision(ctx)
}

// dueTime is when a change may be applied: Delay after its commit. The
// commit time of a create or update is its ModifiedAt; others (deletes,
// tag changes) count from now, when they were seen.
func (c *Cache) dueTime(ch store.Change) time.Time {
	now := c.opts.Now()
	if c.opts.Delay <= 0 {
		return now
	}
	commit := now
	if ch.Association != nil && !ch.Association.ModifiedAt.IsZero() && ch.Association.ModifiedAt.Before(now) &&
		c.isModification(ch.Association) {
		commit = ch.Association.ModifiedAt
	}
	return commit.Add(c.opts.Delay)
}

// isModification reports whether a is new or changed since the cached
// state (not just re-tagged, which leaves ModifiedAt as it was).
func (c *Cache) isModification(a *store.Association) bool {
	c.mu.RLock()
	modified, ok := c.assocs.modified(a.ID)
	c.mu.RUnlock()
	return !ok || a.ModifiedAt.UnixNano() > modified
}

// applyDue applies the pending changes that are due, in revision order.
func (c *Cache) applyDue() {
	now := c.opts.Now()
	c.mu.Lock()
	before := c.applied
	n := 0
	for _, p := range c.pending {
		if p.due.After(now) {
			break
		}
		c.apply(p.Change, now)
		n++
	}
	c.pending = slices.Delete(c.pending, 0, n)
	if len(c.pending) == 0 {
		c.applied = max(c.applied, c.fetchedThrough)
	} else {
		// Every write up to where the first pending change's read
		// started was in earlier reads, all applied; the change itself
		// may stand for later ones (see pendingChange.after).
		c.applied = max(c.applied, c.pending[0].after)
	}
	if c.applied != before {
		close(c.changed)
		c.changed = make(chan struct{})
	}
	c.mu.Unlock()
}

// apply applies one change; c.mu is held.
func (c *Cache) apply(ch store.Change, now time.Time) {
	if ch.Deleted || ch.Association == nil {
		c.assocs.deleteID(ch.AssociationID, ch.Region, ch.ClusterName)
		return
	}
	a := ch.Association
	old, ok := c.assocs.modified(a.ID)
	if ok && a.ModifiedAt.UnixNano() > old || !ok && a.ModifiedAt.UnixNano() > c.prop.since {
		c.prop.observe(now.Sub(a.ModifiedAt), &c.m)
	}
	c.assocs.put(a, c.gen)
}

// resync re-reads the whole feed, applies it, and drops what it did not
// see (associations whose tombstones were pruned or missed).
func (c *Cache) resync(ctx context.Context) error {
	rev, err := c.st.Revision(ctx)
	if err != nil {
		return err
	}
	c.gen++
	now := c.opts.Now()
	var after int64
	for pages := 0; ; pages++ {
		if pages == maxPages {
			return errors.New("resync: change feed longer than the page bound")
		}
		changes, err := c.st.ChangesSince(ctx, after, c.opts.PageSize)
		if err != nil {
			return err
		}
		c.mu.Lock()
		for _, ch := range changes {
			c.apply(ch, now) // marks what it stores as seen in c.gen
			after = ch.Revision
		}
		c.mu.Unlock()
		if len(changes) < c.opts.PageSize {
			break
		}
	}
	c.mu.Lock()
	c.assocs.sweep(c.gen)
	c.pending = c.pending[:0]
	c.fetchedThrough = max(after, rev, c.fetchedThrough)
	c.applied = max(c.applied, c.fetchedThrough)
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	c.storeRev = rev
	c.InvalidateClusters()
	c.m.resyncs.Inc()
	return nil
}
