package sqlite

import (
	"context"
	"math/bits"
	"strings"
	"sync"
	"time"
)

// tokenFilter tells the writer that a client request token has no
// idempotency record without a look at the database: the common case, as
// a client sends a fresh token with each request (aws-sdk-go-v2 fills one
// in for every UpdatePodIdentityAssociation), and probing the four levels
// of idempotency_keys for it cost the writer 5-10 µs per write. It is a
// Bloom filter of the key hashes (keyHash) of every record: a hash it does
// not hold has no record; one it holds is looked up as before. Used only by
// the writer goroutine.
//
// It is built off the writer, by a read of every level on the read pool
// (one statement, so one snapshot), while the writer notes the hashes it
// stores meanwhile (pending), those of the transaction in progress when
// the build started included: together they cover every record the
// writer's transactions can see once the build is done. A record's hash is
// added when the writer stores it, before its transaction commits: one
// that rolls back leaves a hash without a record, which only costs a
// lookup, as do the hashes of pruned records. Another connection's commit
// (writeCache.check's data_version) may have stored records it does not
// hold: it is dropped and built again, no sooner than ten times the last
// build's time after it started, so that builds cost at most about a tenth
// of a core however often that happens.
type tokenFilter struct {
	// scan reads every key hash in the database into a filter; nil: no
	// filter.
	scan func(context.Context) (*bloom, error)

	bloom    *bloom // nil when none is ready
	building chan *bloom
	cancel   context.CancelFunc // the build in flight's
	builds   sync.WaitGroup     // every build goroutine, those dropped too
	pending  []int64            // hashes stored since the build in flight started
	tx       []int64            // hashes stored in the current transaction
	started  time.Time          // when the last build started
	wait     time.Duration      // from started until another may start

	skipped int64 // lookups it answered, for tests
}

// tokenFilterMax bounds the hashes a filter holds (10 bits each): past it,
// tokens are looked up in the database.
const tokenFilterMax = 8 << 20

// absent reports whether the filter knows that h has no record.
func (f *tokenFilter) absent(h int64) bool {
	if f.scan == nil {
		return false
	}
	if f.bloom == nil {
		f.poll()
	}
	if f.bloom == nil || f.bloom.has(h) {
		return false
	}
	f.skipped++
	return true
}

// added notes that the writer stored a record of hash h.
func (f *tokenFilter) added(h int64) {
	if f.scan == nil {
		return
	}
	f.tx = append(f.tx, h)
	if f.building != nil {
		f.pending = append(f.pending, h)
	}
	if f.bloom != nil && !f.bloom.add(h) {
		f.bloom = nil // full: build a larger one
	}
}

// begin starts a transaction.
func (f *tokenFilter) begin() { f.tx = f.tx[:0] }

// poll takes the build in flight's filter when it is done, or starts one.
func (f *tokenFilter) poll() {
	if f.building == nil {
		if time.Since(f.started) >= f.wait {
			f.start()
		}
		return
	}
	select {
	case b := <-f.building:
		f.waitAfter()
		if b == nil { // failed, or too many hashes
			f.wait = max(f.wait, time.Minute)
		}
		f.cancel()
		f.building, f.cancel = nil, nil
		if b != nil {
			for _, h := range f.pending {
				if !b.add(h) {
					b = nil
					break
				}
			}
		}
		f.bloom, f.pending = b, nil
	default:
	}
}

// start starts a build.
func (f *tokenFilter) start() {
	f.started = time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *bloom, 1)
	f.building, f.cancel = done, cancel
	f.pending = append(f.pending[:0], f.tx...)
	f.builds.Add(1)
	go func() {
		defer f.builds.Done()
		b, err := f.scan(ctx)
		if err != nil {
			b = nil // built again later
		}
		done <- b
	}()
}

// invalidate drops the filter and any build in flight (another connection
// committed).
func (f *tokenFilter) invalidate() {
	f.bloom = nil
	if f.building != nil {
		f.waitAfter()
	}
	f.stop()
}

// waitAfter sets the wait before the next build from the last's time
// (until now, if it is not done).
func (f *tokenFilter) waitAfter() {
	f.wait = 10 * time.Since(f.started)
}

// close cancels the build in flight and waits for every build to end
// (before the read pool closes).
func (f *tokenFilter) close() {
	f.stop()
	f.builds.Wait()
}

// stop cancels the build in flight.
func (f *tokenFilter) stop() {
	if f.cancel != nil {
		f.cancel()
	}
	f.building, f.cancel, f.pending = nil, nil, nil
}

// bloom is a Bloom filter of key hashes, bloomHashes bits per hash in m
// bits (a power of two): about 0.8% false positives at its capacity, 10
// bits a hash.
type bloom struct {
	bits []uint64
	mask uint64
	n    int // hashes added
	max  int // capacity
}

const bloomHashes = 7

// newBloom makes a filter for at least capacity hashes.
func newBloom(capacity int) *bloom {
	capacity = max(capacity, 1<<16)
	m := uint64(1) << bits.Len64(uint64(capacity*10-1))
	return &bloom{bits: make([]uint64, m/64), mask: m - 1, max: int(m / 10)}
}

// add adds h; false when the filter is full (and no longer trusted).
func (b *bloom) add(h int64) bool {
	if b.n >= b.max {
		return false
	}
	b.n++
	// Double hashing over h's two halves (h is a SHA-256 prefix, uniform).
	x, y := uint64(h), uint64(h)>>32|1
	for range bloomHashes {
		i := x & b.mask
		b.bits[i/64] |= 1 << (i % 64)
		x += y
	}
	return true
}

func (b *bloom) has(h int64) bool {
	x, y := uint64(h), uint64(h)>>32|1
	for range bloomHashes {
		i := x & b.mask
		if b.bits[i/64]&(1<<(i%64)) == 0 {
			return false
		}
		x += y
	}
	return true
}

// keyHashesQuery reads every level's key hashes, in one snapshot.
var keyHashesQuery = func() string {
	var q []string
	for level := range keyLevelCount {
		q = append(q, "SELECT h FROM "+keyTable(level))
	}
	return strings.Join(q, " UNION ALL ")
}()

// keyHashCountQuery counts keyHashesQuery's rows.
var keyHashCountQuery = func() string {
	var q []string
	for level := range keyLevelCount {
		q = append(q, "(SELECT count(*) FROM "+keyTable(level)+")")
	}
	return "SELECT " + strings.Join(q, " + ")
}()

// scanKeyHashes reads every key hash on the read pool into a filter with
// room for as many again (tokenFilter.scan); nil when there are more than
// tokenFilterMax.
func (s *Store) scanKeyHashes(ctx context.Context) (*bloom, error) {
	row, err := s.queryRow(ctx, keyHashCountQuery)
	if err != nil {
		return nil, err
	}
	var n int
	if err := row.Scan(&n); err != nil {
		return nil, err
	}
	if n > tokenFilterMax {
		return nil, nil
	}
	b := newBloom(2 * n)
	rows, err := s.query(ctx, keyHashesQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var h int64
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		if !b.add(h) {
			return nil, nil // more came since the count
		}
	}
	return b, rows.Err()
}
