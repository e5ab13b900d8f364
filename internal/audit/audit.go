// Package audit is podid's audit trail: every decision on the credential
// path and every write becomes an event in CloudTrail's record format,
// stored (store.Audit) with bounded retention and read back through
// CloudTrail's LookupEvents (package cloudtrail).
//
// A Recorder is the host's httpx.Observer: it sees every request once it
// is answered, with the family, the operation and the mapped error's code
// and message, and builds the event from the request (path values, the
// awsQuery form or JSON body, secrets scrubbed), the caller's identity and
// what the handler noted (Note: EKS Auth's pod, association, roles and the
// reason of a refusal; STS's assumed role). Events are queued and appended
// in batches by one goroutine, so recording costs a request an append to
// a slice under a lock (a bounded wait when the store falls behind), and
// wakes that goroutine once a batch, not once an event;
// pruning (age and count) runs in its own loop and never blocks a request.
// Nothing secret is recorded: no tokens, secret keys, session tokens or
// signatures.
package audit

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/store"
)

// Defaults of Config.
const (
	DefaultRetention     = 720 * time.Hour
	DefaultMaxEvents     = 1_000_000
	DefaultBatchSize     = 256
	DefaultFlushInterval = 50 * time.Millisecond
	DefaultQueueSize     = 16384
	DefaultPruneInterval = time.Minute
	DefaultMaxWait       = time.Second
)

// Config configures a Recorder. Store is required.
type Config struct {
	Store store.Audit
	// Region is the awsRegion of requests whose signing scope names none
	// (the server's --region); a signed request's is its scope's, as
	// CloudTrail records the region a call was made in.
	Region    string
	AccountID string
	// ClusterARN and AssociationARN make the ARNs of the resources a
	// request's path names (in its region).
	ClusterARN     func(region, name string) string
	AssociationARN func(region, cluster, id string) string
	// Retention: events older go (default DefaultRetention); MaxEvents:
	// only the newest stay (default DefaultMaxEvents).
	Retention time.Duration
	MaxEvents int
	// BatchSize and FlushInterval: a batch is appended once it has
	// BatchSize events or FlushInterval after its first.
	BatchSize     int
	FlushInterval time.Duration
	// QueueSize bounds the events waiting to be appended. When it is
	// full, a request waits up to MaxWait for room, then its event is
	// dropped (counted, logged) rather than hold the request longer.
	QueueSize     int
	MaxWait       time.Duration
	PruneInterval time.Duration
	Logger        *slog.Logger
	Now           func() time.Time
}

// Recorder records the host's requests as audit events. Start it, and
// Close it after the server has stopped (Close appends what is queued).
type Recorder struct {
	cfg Config
	log *slog.Logger

	mu sync.Mutex
	// queue holds the events not yet taken by the append loop, at most
	// QueueSize; spare is the slice of the batch appended last, for queue
	// to take next.
	queue, spare []store.Event
	// room, when not nil, is closed when the append loop next takes the
	// queue: requests waiting for room in a full queue wait on it.
	room chan struct{}
	// kick (buffered, 1) wakes the append loop: the queue's first event
	// (which starts the flush interval), a batch's worth of them.
	kick chan struct{}

	// records are the buffers of events' records.
	records recordBuffers

	dropped atomic.Int64
	stored  atomic.Int64
	quit    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	flushMu sync.Mutex // Flush's requests
	flushc  chan chan struct{}
}

// New returns a Recorder for cfg with defaults filled in.
func New(cfg Config) *Recorder {
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.MaxEvents <= 0 {
		cfg.MaxEvents = DefaultMaxEvents
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.PruneInterval <= 0 {
		cfg.PruneInterval = DefaultPruneInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Recorder{
		cfg: cfg, log: cfg.Logger,
		kick:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		flushc: make(chan chan struct{}),
	}
}

// Begin gives the request a Detail for its handler (httpx.Observer).
func (rc *Recorder) Begin(ctx context.Context) context.Context {
	return &detailContext{Context: ctx}
}

// detailContext is a request's context carrying its Detail: one
// allocation where context.WithValue and the Detail would be two.
type detailContext struct {
	context.Context
	d Detail
}

func (c *detailContext) Value(key any) any {
	if key == (detailKey{}) {
		return &c.d
	}
	return c.Context.Value(key)
}

// Done queues the request's event, if it makes one (httpx.Observer). It
// never blocks: a full queue drops the event.
func (rc *Recorder) Done(r *http.Request, c httpx.Completed) {
	d, _ := r.Context().Value(detailKey{}).(*Detail)
	if d == nil {
		d = &Detail{}
	}
	ev, ok := rc.build(r, c, d)
	if !ok {
		return
	}
	var wait *time.Timer
	for {
		room, queued := rc.enqueue(ev)
		if queued {
			return
		}
		// The store is behind: hold this request back a little rather
		// than lose its event (backpressure under overload only), then
		// drop it.
		if wait == nil {
			wait = time.NewTimer(rc.cfg.MaxWait)
			defer wait.Stop()
		}
		select {
		case <-room:
		case <-wait.C:
			if rc.dropped.Add(1)%1000 == 1 {
				rc.log.Warn("audit: the event queue stayed full; events are dropped", "dropped", rc.dropped.Load())
			}
			return
		}
	}
}

// enqueue queues ev, waking the append loop when ev is the queue's first
// event or completes a batch; when the queue is full, it returns instead a
// channel closed once the loop takes the queue.
func (rc *Recorder) enqueue(ev store.Event) (room <-chan struct{}, queued bool) {
	rc.mu.Lock()
	if len(rc.queue) >= rc.cfg.QueueSize {
		if rc.room == nil {
			rc.room = make(chan struct{})
		}
		room := rc.room
		rc.mu.Unlock()
		return room, false
	}
	rc.queue = append(rc.queue, ev)
	n := len(rc.queue)
	rc.mu.Unlock()
	if n == 1 || n == rc.cfg.BatchSize {
		select {
		case rc.kick <- struct{}{}:
		default: // the loop has a wake-up coming already
		}
	}
	return nil, true
}

// queued is the number of events in the queue.
func (rc *Recorder) queued() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.queue)
}

// appendQueued takes the queue and stores it, in batches of at most
// BatchSize.
func (rc *Recorder) appendQueued() {
	rc.mu.Lock()
	events := rc.queue
	rc.queue, rc.spare = rc.spare[:0], nil
	if rc.room != nil {
		close(rc.room)
		rc.room = nil
	}
	rc.mu.Unlock()
	for batch := range slices.Chunk(events, rc.cfg.BatchSize) {
		if rc.append(batch) {
			// Stored: the store keeps copies of the records.
			rc.records.release(batch)
		}
	}
	clear(events) // the events' other bytes are the garbage collector's now
	rc.mu.Lock()
	rc.spare = events[:0]
	rc.mu.Unlock()
}

// Stats is what a Recorder has done so far.
type Stats struct{ Stored, Dropped int64 }

// Stats returns the events stored and dropped so far.
func (rc *Recorder) Stats() Stats {
	return Stats{Stored: rc.stored.Load(), Dropped: rc.dropped.Load()}
}

// Start starts the append loop and the prune loop.
func (rc *Recorder) Start() {
	rc.wg.Add(2)
	go func() {
		defer rc.wg.Done()
		rc.appendLoop()
	}()
	go func() {
		defer rc.wg.Done()
		rc.pruneLoop()
	}()
}

// Flush returns once every event queued before it is stored (or its
// append failed), or when ctx ends.
func (rc *Recorder) Flush(ctx context.Context) {
	rc.flushMu.Lock()
	defer rc.flushMu.Unlock()
	done := make(chan struct{})
	select {
	case rc.flushc <- done:
	case <-ctx.Done():
		return
	case <-rc.quit:
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Close stops the loops after appending what is queued.
func (rc *Recorder) Close() {
	rc.once.Do(func() { close(rc.quit) })
	rc.wg.Wait()
}

// appendLoop appends a batch once the queue holds BatchSize events, or
// FlushInterval after its first event, whichever comes first.
func (rc *Recorder) appendLoop() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	timing := false // the timer runs for the queue's first event
	for {
		select {
		case <-rc.kick:
		case <-timer.C:
			timing = false
			rc.appendQueued()
		case done := <-rc.flushc:
			rc.appendQueued()
			close(done)
		case <-rc.quit:
			timer.Stop()
			rc.appendQueued()
			return
		}
		switch n := rc.queued(); {
		case n >= rc.cfg.BatchSize:
			timer.Stop()
			timing = false
			rc.appendQueued()
			if rc.queued() > 0 {
				timer.Reset(rc.cfg.FlushInterval)
				timing = true
			}
		case n > 0 && !timing:
			timer.Reset(rc.cfg.FlushInterval)
			timing = true
		case n == 0 && timing:
			timer.Stop()
			timing = false
		}
	}
}

// append stores a batch, trying a few times when the store fails, and
// reports whether it did. (A failed append's records are left alone: a
// write the store gave up waiting for could still read them.)
func (rc *Recorder) append(batch []store.Event) bool {
	var err error
	for attempt := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = rc.cfg.Store.AppendEvents(ctx, batch)
		cancel()
		if err == nil {
			rc.stored.Add(int64(len(batch)))
			return true
		}
		select {
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		case <-rc.quit:
		}
	}
	rc.dropped.Add(int64(len(batch)))
	rc.log.Error("audit: storing events failed; they are lost", "events", len(batch), "err", err)
	return false
}

func (rc *Recorder) pruneLoop() {
	t := time.NewTicker(rc.cfg.PruneInterval)
	defer t.Stop()
	for {
		rc.Prune(context.Background())
		select {
		case <-t.C:
		case <-rc.quit:
			return
		}
	}
}

// Prune applies the retention rules once.
func (rc *Recorder) Prune(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	n, err := rc.cfg.Store.PruneEvents(ctx, rc.cfg.Now().Add(-rc.cfg.Retention), rc.cfg.MaxEvents)
	if err != nil {
		rc.log.Warn("audit: pruning events", "err", err)
	} else if n > 0 {
		rc.log.Debug("audit: pruned events", "events", n)
	}
}
