package storecore_test

import (
	"testing"
	"time"

	"github.com/podid/podid/internal/store/storecore"
)

// TestGatherWindow: a transaction takes what is queued, waits for more only
// while it has fewer writes than the last one carried and its window is
// open, never takes more than MaxBatch, and a lone writer (last batch 1)
// never waits.
func TestGatherWindow(t *testing.T) {
	reqs := make(chan int, 4)
	g := storecore.Gatherer[int]{MaxBatch: 8}
	g.Committed(1, time.Hour)
	reqs <- 1
	w := g.Window(time.Now())
	defer w.Stop()
	if got, ok := w.Next(reqs, 1); !ok || got != 1 {
		t.Errorf("a queued write did not join (got %v, %v)", got, ok)
	}
	if got, ok := w.Next(reqs, 2); ok {
		t.Errorf("after the last batch's size, Next = %v, want none at once", got)
	}

	// A write sent while the window is open joins. The window is
	// MaxGather at most, and a loaded machine may not run the sender
	// within it: some attempt must see the write join.
	g.Committed(3, time.Hour)
	joined := false
	for attempt := 0; attempt < 50 && !joined; attempt++ {
		w := g.Window(time.Now())
		sent := make(chan struct{})
		go func() { reqs <- 2; close(sent) }()
		got, ok := w.Next(reqs, 1)
		w.Stop()
		<-sent
		if ok && got != 2 {
			t.Fatalf("below the last batch's size, Next = %v; want the write that arrived while waiting", got)
		}
		if !ok {
			<-reqs // arrived after the window: take it back
		}
		joined = ok
	}
	if !joined {
		t.Error("below the last batch's size, a write sent while the window was open never joined in 50 windows")
	}

	w = g.Window(time.Now().Add(-time.Hour)) // long closed
	defer w.Stop()
	if got, ok := w.Next(reqs, 1); ok {
		t.Errorf("after the window, Next = %v, want none", got)
	}

	reqs <- 3
	if got, ok := g.Window(time.Now()).Next(reqs, 8); ok {
		t.Errorf("at MaxBatch, Next = %v, want none", got)
	}
	<-reqs
}

// TestGatherWindowBounded: the window is at most MaxGather, however slow
// commits are.
func TestGatherWindowBounded(t *testing.T) {
	g := storecore.Gatherer[int]{MaxBatch: 8}
	g.Committed(4, time.Hour)
	reqs := make(chan int)
	t0 := time.Now()
	w := g.Window(t0)
	defer w.Stop()
	if _, ok := w.Next(reqs, 1); ok {
		t.Fatal("Next returned a write nobody sent")
	}
	if waited := time.Since(t0); waited < storecore.MaxGather {
		t.Errorf("gave up after %v, want the whole window (%v)", waited, storecore.MaxGather)
	}
}
