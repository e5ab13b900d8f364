package agent

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/podid/podid/internal/agent/eksauthclient"
)

// Cache defaults, as the AWS agent's flags (spec §7.4).
const (
	DefaultMaxCacheSize  = 2000
	DefaultRetention     = 3 * time.Hour
	DefaultMinRemaining  = 15 * time.Second
	DefaultRefreshWindow = 5 * time.Minute
	DefaultJitter        = time.Minute
	DefaultRefreshQPS    = 3
	DefaultRetryAfter    = 10 * time.Second
)

// CacheConfig configures a Cache; zero fields take the defaults.
type CacheConfig struct {
	// MaxSize bounds the entries; the least recently used go first
	// (default 2000, the AWS agent's --max-cache-size).
	MaxSize int
	// Retention is the longest an entry is served before it must be
	// renewed: entries live min(Retention, credential expiry) (default 3h,
	// the AWS agent's --max-credential-retention-before-renewal).
	Retention time.Duration
	// MinRemaining is the lifetime credentials must have left to be served
	// from the cache (default 15s).
	MinRemaining time.Duration
	// RefreshWindow is how long before an entry's end a background renewal
	// starts, plus a random Jitter so entries fetched together do not
	// renew together. Both are capped at half the entry's lifetime
	// (defaults 5m and 1m).
	RefreshWindow, Jitter time.Duration
	// RefreshQPS bounds background renewals per second (default 3, the AWS
	// agent's --max-service-qps); RefreshBurst is its burst (default 1).
	RefreshQPS   float64
	RefreshBurst int
	// RetryAfter spaces renewal attempts after a recoverable failure
	// (default 10s).
	RetryAfter time.Duration
	// Now is the clock (default time.Now); Rand returns a number in [0, n)
	// for the jitter (default math/rand/v2).
	Now  func() time.Time
	Rand func(n int64) int64
	// Logger receives renewal failures (default slog.Default()).
	Logger *slog.Logger
	// Metrics, if set, counts hits, misses and renewals and exports the
	// cache size.
	Metrics *Metrics
}

type cacheKey struct{ cluster, token string }

// cacheEntry fields other than the atomics change only under the write
// lock; hits read them under the read lock.
type cacheEntry struct {
	req        Request
	creds      *Credentials
	renewAt    time.Time     // background renewal starts here
	endAt      time.Time     // served until here
	refreshing atomic.Bool   // a renewal is running
	lastUsed   atomic.Uint64 // Cache.tick at the last use, for LRU eviction
}

// Cache is a Source decorator that keeps credentials per (cluster, token).
//
// The map is keyed by the token itself rather than a digest: Go's map hash
// is cheap on the hot path, and the entry has to keep the token anyway to
// renew it. Tokens never reach the logs; TokenID names them there.
type Cache struct {
	src     Source
	cfg     CacheConfig
	group   singleflight.Group
	limiter *rate.Limiter

	ctx    context.Context // cancelled by Close; parent of renewals
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.RWMutex
	entries map[cacheKey]*cacheEntry
	tick    atomic.Uint64 // use counter: orders entries by recency
}

// NewCache returns a cache in front of src. Close stops its renewals.
func NewCache(src Source, cfg CacheConfig) *Cache {
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxCacheSize
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.MinRemaining <= 0 {
		cfg.MinRemaining = DefaultMinRemaining
	}
	if cfg.RefreshWindow <= 0 {
		cfg.RefreshWindow = DefaultRefreshWindow
	}
	if cfg.Jitter < 0 {
		cfg.Jitter = 0
	}
	if cfg.RefreshQPS <= 0 {
		cfg.RefreshQPS = DefaultRefreshQPS
	}
	if cfg.RefreshBurst <= 0 {
		cfg.RefreshBurst = 1
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Int64N
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cache{
		src:     src,
		cfg:     cfg,
		limiter: rate.NewLimiter(rate.Limit(cfg.RefreshQPS), cfg.RefreshBurst),
		ctx:     ctx,
		cancel:  cancel,
		entries: make(map[cacheKey]*cacheEntry),
	}
	cfg.Metrics.cacheSize(c.Len)
	return c
}

// Len is the number of cached entries.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// Close stops background renewals and waits for running ones.
func (c *Cache) Close() {
	c.cancel()
	c.wg.Wait()
}

// Credentials implements Source: a live entry is returned at once (and
// renewed in the background when due); otherwise one upstream call is
// made for all concurrent identical requests.
func (c *Cache) Credentials(ctx context.Context, req Request) (*Credentials, error) {
	key := cacheKey{req.Cluster, req.Token}
	now := c.cfg.Now()
	c.mu.RLock()
	if e := c.entries[key]; e != nil && now.Before(e.endAt) {
		e.lastUsed.Store(c.tick.Add(1))
		creds, renewReq := e.creds, e.req
		due := c.startRenewal(e, now)
		c.mu.RUnlock()
		c.cfg.Metrics.hit()
		if due {
			c.goRenew(renewReq)
		}
		return creds, nil
	}
	c.mu.RUnlock()
	c.cfg.Metrics.miss()
	ch := c.group.DoChan(flightKey(key), func() (any, error) {
		// A flight for the same key may have stored its result between
		// the miss above and this flight's start: use it, so concurrent
		// identical requests make one upstream call.
		if creds := c.live(key); creds != nil {
			return creds, nil
		}
		// Detached from the first caller: others may still be waiting.
		return c.fetch(context.WithoutCancel(ctx), req)
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Credentials), nil
	}
}

// live returns the entry's credentials if it is cached and not ended.
func (c *Cache) live(key cacheKey) *Credentials {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if e := c.entries[key]; e != nil && c.cfg.Now().Before(e.endAt) {
		return e.creds
	}
	return nil
}

func flightKey(k cacheKey) string { return k.cluster + "\x00" + k.token }

// startRenewal reports whether e is due for renewal and, if so, marks it
// so only one renewal runs. c.mu is held (read or write).
func (c *Cache) startRenewal(e *cacheEntry, now time.Time) bool {
	return !now.Before(e.renewAt) && e.refreshing.CompareAndSwap(false, true)
}

// fetch asks the source and records the outcome in the cache.
func (c *Cache) fetch(ctx context.Context, req Request) (*Credentials, error) {
	creds, err := c.src.Credentials(ctx, req)
	key := cacheKey{req.Cluster, req.Token}
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if eksauthclient.IsIrrecoverable(err) {
			c.remove(key)
		} else if e := c.entries[key]; e != nil {
			e.renewAt = now.Add(c.cfg.RetryAfter)
			e.refreshing.Store(false)
		}
		return nil, err
	}
	c.store(key, req, creds, now)
	return creds, nil
}

// store inserts or replaces an entry and evicts beyond MaxSize. c.mu is held.
func (c *Cache) store(key cacheKey, req Request, creds *Credentials, now time.Time) {
	end := now.Add(c.cfg.Retention)
	if !creds.Expiration.IsZero() {
		end = minTime(end, creds.Expiration.Add(-c.cfg.MinRemaining))
	}
	life := end.Sub(now)
	if life <= 0 {
		c.remove(key) // too short-lived to cache; the caller still gets it
		return
	}
	lead := min(c.cfg.RefreshWindow, life/2)
	if j := min(c.cfg.Jitter, life/2-lead); j > 0 {
		lead += time.Duration(c.cfg.Rand(int64(j)))
	}
	e := c.entries[key]
	if e == nil {
		e = &cacheEntry{}
		c.entries[key] = e
	}
	e.req, e.creds, e.endAt, e.renewAt = req, creds, end, end.Add(-lead)
	e.lastUsed.Store(c.tick.Add(1))
	e.refreshing.Store(false)
	if len(c.entries) > c.cfg.MaxSize {
		c.evictLRU(key)
	}
}

// evictLRU removes the least recently used entry other than keep. It scans
// the map: only inserts into a full cache pay for it, hits stay cheap.
// c.mu is held.
func (c *Cache) evictLRU(keep cacheKey) {
	var (
		oldest cacheKey
		at     uint64
		found  bool
	)
	for k, e := range c.entries {
		if k == keep {
			continue
		}
		if used := e.lastUsed.Load(); !found || used < at {
			oldest, at, found = k, used, true
		}
	}
	if found {
		c.remove(oldest)
	}
}

func (c *Cache) remove(key cacheKey) {
	delete(c.entries, key)
}

// goRenew renews req's entry in the background, within RefreshQPS.
func (c *Cache) goRenew(req Request) {
	if c.ctx.Err() != nil {
		return // closed
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.renew(req)
	}()
}

func (c *Cache) renew(req Request) {
	key := cacheKey{req.Cluster, req.Token}
	if !req.TokenExpiry.IsZero() && !c.cfg.Now().Before(req.TokenExpiry) {
		// The pod has a newer token by now; this one can only fail.
		c.mu.Lock()
		c.remove(key)
		c.mu.Unlock()
		c.cfg.Metrics.refresh("evicted")
		return
	}
	if err := c.limiter.Wait(c.ctx); err != nil {
		c.mu.RLock()
		if e := c.entries[key]; e != nil {
			e.refreshing.Store(false)
		}
		c.mu.RUnlock()
		return
	}
	c.mu.RLock()
	_, cached := c.entries[key]
	c.mu.RUnlock()
	if !cached {
		return // evicted while waiting for the limiter: do not bring it back
	}
	ch := c.group.DoChan(flightKey(key), func() (any, error) { return c.fetch(c.ctx, req) })
	r := <-ch
	switch {
	case r.Err == nil:
		c.cfg.Metrics.refresh("ok")
	case eksauthclient.IsIrrecoverable(r.Err):
		c.cfg.Metrics.refresh("evicted")
		c.cfg.Logger.Info("dropped cached credentials after an irrecoverable error",
			"cluster", req.Cluster, "token", req.TokenID(), "error", r.Err)
	case errors.Is(r.Err, context.Canceled):
	default:
		c.cfg.Metrics.refresh("error")
		c.cfg.Logger.Warn("renewing cached credentials failed; serving the cached ones",
			"cluster", req.Cluster, "token", req.TokenID(), "error", r.Err)
	}
}

// Sweep drops ended entries and starts background renewal of those due,
// so credentials stay warm for pods that ask rarely. Run calls it
// periodically.
func (c *Cache) Sweep() {
	now := c.cfg.Now()
	var due []Request
	c.mu.Lock()
	for key, e := range c.entries {
		switch {
		case !now.Before(e.endAt):
			c.remove(key)
		case c.startRenewal(e, now):
			due = append(due, e.req)
		}
	}
	c.mu.Unlock()
	for _, req := range due {
		c.goRenew(req)
	}
}

// Run sweeps every interval until ctx is done.
func (c *Cache) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.Sweep()
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
