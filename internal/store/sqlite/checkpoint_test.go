package sqlite

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/podid/podid/internal/store"
)

// TestCheckpointsKeepWALShort: under writes that never pause, the
// checkpointer copies the WAL's frames into the database while the writer
// commits, and the WAL still restarts from its first frame (the writer's
// own checkpoint at restartFrames finds little left to copy): its length
// stays near restartFrames instead of growing with the load.
func TestCheckpointsKeepWALShort(t *testing.T) {
	ctx := t.Context()
	s := openCheckpointed(t, 16, 64)
	const writers, updates = 4, 150
	var mu sync.Mutex
	longest, restarts, last := uint32(0), 0, uint32(0)
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			id := fmt.Sprintf("a-%016d%010d", g, 0)
			if _, err := s.CreateAssociation(ctx, testAssociation(id, fmt.Sprint("sa-", g)), store.WriteOptions{}); err != nil {
				t.Error(err)
				return
			}
			for i := range updates {
				if _, err := s.UpdateAssociation(ctx, "", "c1", id, func(a *store.Association) error {
					a.RoleARN = fmt.Sprintf("arn:aws:iam::000000000000:role/r-%d-%d", g, i)
					return nil
				}, store.WriteOptions{Idempotency: &store.Idempotency{Key: fmt.Sprintf("u/%d/%d", g, i), Hash: "h"}}); err != nil {
					t.Error(err)
					return
				}
				if h, ok := s.wal.header(); ok {
					mu.Lock()
					if h[4] < last {
						restarts++
					}
					if restarts > 0 { // the migrations' frames come before
						longest = max(longest, h[4])
					}
					last = h[4]
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if n := s.w.ckpt.runs.Load(); n == 0 {
		t.Error("no checkpoint ran on the checkpointer's connection")
	}
	if restarts < 3 {
		t.Errorf("the WAL restarted %d times in %d updates (longest %d frames); want it to again and again", restarts, writers*updates, longest)
	}
	if longest > 8*uint32(restartFrames) {
		t.Errorf("after its first restart the WAL reached %d frames; want it kept near %d", longest, restartFrames)
	}
	t.Logf("%d restarts, longest %d frames, %d checkpoints by the checkpointer", restarts, longest, s.w.ckpt.runs.Load())
}

// TestCheckpointerFinishesBeforeRestart: as the WAL nears restartFrames,
// the checkpointer copies it down to a few commits' frames even though
// checkpointFrames are not waiting, so that the writer's own checkpoint at
// restartFrames (in the COMMIT that reaches it) has little left to copy.
// checkpointFrames is set above restartFrames: only that rule runs it.
func TestCheckpointerFinishesBeforeRestart(t *testing.T) {
	ctx := t.Context()
	s := openCheckpointed(t, 1000, 600)
	id := fmt.Sprintf("a-%026d", 0)
	if _, err := s.CreateAssociation(ctx, testAssociation(id, "sa"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	restarts, last := 0, uint32(0)
	var before []uint32 // the backlog after the last commit before each restart
	prev := uint32(0)
	for i := 0; restarts < 3 && i < 5000; i++ {
		if _, err := s.UpdateAssociation(ctx, "", "c1", id, func(a *store.Association) error {
			a.RoleARN = fmt.Sprintf("arn:aws:iam::000000000000:role/r-%d", i)
			return nil
		}, store.WriteOptions{Idempotency: &store.Idempotency{Key: fmt.Sprint("u/", i), Hash: "h"}}); err != nil {
			t.Fatal(err)
		}
		n, frames, ok := s.wal.backlog()
		if !ok {
			continue
		}
		if frames < last {
			restarts++
			before = append(before, prev)
		}
		last, prev = frames, n
	}
	if restarts < 3 {
		t.Fatalf("the WAL restarted %d times", restarts)
	}
	if s.w.ckpt.runs.Load() == 0 {
		t.Errorf("no checkpoint ran on the checkpointer's connection before the WAL's restarts (backlogs %v)", before)
	}
	t.Logf("%d checkpoints by the checkpointer; backlog before each restart: %v", s.w.ckpt.runs.Load(), before)
}

// setCheckpointFrames sets checkpointFrames and restartFrames for tb,
// restoring them once it ends.
func setCheckpointFrames(tb testing.TB, ckpt uint32, restart int) {
	c, r := checkpointFrames, restartFrames
	tb.Cleanup(func() { checkpointFrames, restartFrames = c, r })
	checkpointFrames, restartFrames = ckpt, restart
}

// openCheckpointed opens a store with cluster c1 whose checkpointer runs at
// ckpt frames and whose writer's own checkpoint at restart (both restored
// after the test); it skips where SQLite checkpoints at COMMIT.
func openCheckpointed(t *testing.T, ckpt uint32, restart int) *Store {
	t.Helper()
	setCheckpointFrames(t, ckpt, restart)
	s, err := open(t.Context(), filepath.Join(t.TempDir(), "podid.db"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if s.wal == nil || s.w.ckpt == nil {
		t.Skip("no WAL-index mapping on this platform: SQLite checkpoints at COMMIT")
	}
	if _, err := s.CreateCluster(t.Context(), store.Cluster{Name: "c1"}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	return s
}
