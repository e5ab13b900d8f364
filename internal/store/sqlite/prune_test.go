package sqlite

import (
	"context"
	"testing"
	"time"
)

// holdWriter runs a write that blocks until the returned release is
// called (once; also at cleanup), and returns once the writer is in it.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	held, unblock, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- s.w.do(context.Background(), func(*wtx) error {
			close(held)
			<-unblock
			return nil
		})
	}()
	select {
	case <-held:
	case err := <-done:
		t.Fatalf("holding the writer: %v", err)
	}
	released := false
	release = func() {
		if !released {
			released = true
			close(unblock)
			if err := <-done; err != nil {
				t.Errorf("held write: %v", err)
			}
		}
	}
	t.Cleanup(release)
	return release
}

// pruneWhileHeld prunes with the writer held and fails unless PruneEvents
// returns (0, nil) without it: it has nothing to delete.
func pruneWhileHeld(t *testing.T, s *Store, keep int) {
	t.Helper()
	release := holdWriter(t, s)
	got := make(chan error, 1)
	go func() {
		n, err := s.PruneEvents(context.Background(), time.UnixMicro(0), keep)
		if err == nil && n != 0 {
			t.Errorf("PruneEvents(keep %d) = %d; want 0", keep, n)
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		release()
		<-got
		t.Fatalf("PruneEvents(keep %d) with nothing to delete waited for the writer", keep)
	}
	release()
}

// TestPruneEventsReadsOffTheWriter: PruneEvents with nothing to delete
// returns while a write holds the writer, both when the seqs' span is
// within keep (no walk) and when only the walk to the keep+1'th newest
// event tells (a gap in the seqs), and then prunes by count exactly.
func TestPruneEventsReadsOffTheWriter(t *testing.T) {
	s := openWithClock(t, time.Now)
	seedTrail(t, s, 20, 0)
	pruneWhileHeld(t, s, 20)

	t2 := openWithClock(t, time.Now)
	seedTrail(t, t2, 20, 1000) // seqs 1..19 and 1000: a span of 1000
	pruneWhileHeld(t, t2, 100)
	pruneWhileHeld(t, t2, 20)
	if n, err := t2.PruneEvents(t.Context(), time.UnixMicro(0), 5); err != nil || n != 15 {
		t.Fatalf("PruneEvents(keep 5) = %d, %v; want 15", n, err)
	}
	if n := countRows(t, t2, "audit_events"); n != 5 {
		t.Errorf("%d events left; want 5", n)
	}
}
