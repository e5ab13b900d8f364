package storecore

import "time"

// MaxGather bounds how long a transaction waits for more writes before it
// commits (see Gatherer).
const MaxGather = 2 * time.Millisecond

// Gatherer decides how long a group-commit writer's transaction waits for
// writes to join it. Writes already queued always join. Beyond those, when
// the last transaction carried more writes than are queued now, their
// writers are likely on their way back with the next ones (each was
// answered by the same commit): waiting for them up to half a commit's time
// costs less than the extra commit they would otherwise need, and makes one
// commit (one fsync) carry them all. Without the wait, the first writer
// back commits alone while the rest queue for the next transaction, and
// batches alternate between one and the rest. A lone writer (last batch 1)
// never waits, and a wait nobody answers shrinks the next expectation.
//
// A Gatherer belongs to the writer goroutine: it is not safe for
// concurrent use.
type Gatherer[T any] struct {
	// MaxBatch bounds the writes of one transaction.
	MaxBatch   int
	lastBatch  int
	commitTime time.Duration // moving average of a commit's duration
}

// Committed records a transaction of n writes whose commit took d.
func (g *Gatherer[T]) Committed(n int, d time.Duration) {
	g.commitTime += (d - g.commitTime) / 8
	g.lastBatch = n
}

// Window opens the window of a transaction starting at now. Stop it when
// the transaction commits.
func (g *Gatherer[T]) Window(now time.Time) *Window[T] {
	return &Window[T]{
		want:     min(g.lastBatch, g.MaxBatch),
		max:      g.MaxBatch,
		deadline: now.Add(min(g.commitTime/2, MaxGather)),
	}
}

// Window is one transaction's window for more writes to join it.
type Window[T any] struct {
	want     int       // stop waiting once the batch has this many writes
	max      int       // never take more than this
	deadline time.Time // and wait no later than this
	timer    *time.Timer
}

// Next returns a request to add to a batch of n, or ok false to commit now.
func (w *Window[T]) Next(reqs <-chan T, n int) (req T, ok bool) {
	if n >= w.max {
		return req, false
	}
	select {
	case req := <-reqs:
		return req, true
	default:
	}
	wait := time.Until(w.deadline)
	if n >= w.want || wait <= 0 {
		return req, false
	}
	if w.timer == nil {
		w.timer = time.NewTimer(wait)
	} else {
		w.timer.Reset(wait)
	}
	select {
	case req := <-reqs:
		return req, true
	case <-w.timer.C:
		return req, false
	}
}

// Stop releases the window's timer.
func (w *Window[T]) Stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
}
