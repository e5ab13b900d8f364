package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// phase says how long a measurement runs: a warm-up, then either a fixed
// duration or a fixed number of operations (Count > 0).
type phase struct {
	Warmup   time.Duration
	Duration time.Duration
	Count    int
	Workers  int
	// Latencies: keep every measured operation's latency.
	Latencies bool
}

// outcome is one phase's result.
type outcome struct {
	Ops     int
	Elapsed time.Duration
	All     int             // every operation completed, warm-up included
	Lat     []time.Duration // when phase.Latencies
}

// OpsPerSec is the measured throughput.
func (o outcome) OpsPerSec() float64 {
	if o.Elapsed <= 0 {
		return 0
	}
	return float64(o.Ops) / o.Elapsed.Seconds()
}

// drive runs op from p.Workers goroutines: first for p.Warmup unmeasured,
// then for p.Duration (or p.Count operations). op gets the worker number
// and a sequence number unique across workers; with a Count and no Warmup
// the sequence numbers are exactly 0 to Count-1. The first error ends the
// phase and is returned: a benchmark that sees errors measures nothing.
func drive(ctx context.Context, p phase, op func(ctx context.Context, worker, seq int) error) (outcome, error) {
	if p.Workers < 1 {
		p.Workers = 1
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var (
		seq       atomic.Int64
		measuring atomic.Bool
		stop      atomic.Bool
		measured  atomic.Int64
		all       atomic.Int64
		startAt   time.Time
		mu        sync.Mutex
		lats      []time.Duration
		wg        sync.WaitGroup
	)
	worker := func(w int) {
		defer wg.Done()
		var mine []time.Duration
		defer func() {
			if p.Latencies {
				mu.Lock()
				lats = append(lats, mine...)
				mu.Unlock()
			}
		}()
		for !stop.Load() && ctx.Err() == nil {
			n := int(seq.Add(1) - 1)
			counted := measuring.Load()
			switch {
			case p.Count > 0 && p.Warmup <= 0:
				// Dense: exactly the sequence numbers [0, Count).
				if n >= p.Count {
					return
				}
			case p.Count > 0 && counted:
				if measured.Add(1) > int64(p.Count) {
					return
				}
			}
			t0 := time.Now()
			if err := op(ctx, w, n); err != nil {
				cancel(fmt.Errorf("operation %d: %w", n, err))
				return
			}
			all.Add(1)
			if counted {
				if p.Count == 0 || p.Warmup <= 0 {
					measured.Add(1)
				}
				if p.Latencies {
					mine = append(mine, time.Since(t0))
				}
			}
		}
	}
	if p.Warmup <= 0 {
		startAt = time.Now()
		measuring.Store(true)
	}
	wg.Add(p.Workers)
	for w := range p.Workers {
		go worker(w)
	}
	if p.Warmup > 0 {
		select {
		case <-time.After(p.Warmup):
		case <-ctx.Done():
		}
		startAt = time.Now()
		measuring.Store(true)
	}
	if p.Count == 0 {
		select {
		case <-time.After(p.Duration):
		case <-ctx.Done():
		}
		stop.Store(true)
	}
	wg.Wait()
	elapsed := time.Since(startAt)
	if err := context.Cause(ctx); err != nil {
		return outcome{}, err
	}
	ops := int(measured.Load())
	if p.Count > 0 {
		ops = min(ops, p.Count)
	}
	return outcome{Ops: ops, Elapsed: elapsed, All: int(all.Load()), Lat: lats}, nil
}

// percentile returns the q-quantile (0..1) of ds by nearest rank.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// median returns the middle of xs (the mean of the two middles).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
