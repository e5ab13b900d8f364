package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podid/podid/internal/store"
)

// TestPowerLossKeepsAcknowledgedWrites checks the pipelined WAL sync
// (walSync): as each sync of the -wal file starts, the test copies the
// database and its -wal file, which is the least that a machine losing
// power once the sync returned could find on disk (the database file
// changes only in checkpoints, which SQLite syncs; the sync makes what the
// -wal file held when it started durable). Each write that concurrent
// writers see acknowledged must be in the copy taken before its
// acknowledgement, so in the WAL before the sync that acknowledged it
// began, opened as a restart after the crash would open it. Frequent checkpoints, the checkpointer's (every 4 frames) and
// the writer's own (at 8), copy frames while writes commit and make the
// WAL restart (old frames overwritten) during the run.
func TestPowerLossKeepsAcknowledgedWrites(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "podid.db")
	setCheckpointFrames(t, 4, restartFrames)
	var taken atomic.Int64 // copies complete
	walSyncing = func() {
		n := taken.Load() + 1
		for _, suffix := range []string{"", "-wal"} {
			b, err := os.ReadFile(path + suffix)
			if err != nil {
				panic(err)
			}
			if err := os.WriteFile(snapshotPath(dir, n)+suffix, b, 0o600); err != nil {
				panic(err)
			}
		}
		taken.Store(n)
	}
	t.Cleanup(func() { walSyncing = nil })
	s, err := open(ctx, path, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.w.wal == nil {
		t.Fatal("the writer does not sync the WAL itself (not in WAL mode?)")
	}
	if err := s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.exec("PRAGMA wal_autocheckpoint = 8")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateCluster(ctx, store.Cluster{Name: "c1"}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}

	// Each writer owns one association and updates it again and again
	// (with a client request token, as the SDKs send them).
	const writers, updates = 4, 30
	acks := make(chan ack, writers*(updates+1))
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			id := fmt.Sprintf("a-%016d%010d", g, 0)
			a, err := s.CreateAssociation(ctx, testAssociation(id, fmt.Sprint("sa-", g)), store.WriteOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			acks <- ack{id, a.RoleARN, taken.Load()}
			for i := range updates {
				role := fmt.Sprintf("arn:aws:iam::000000000000:role/r-%d-%d", g, i)
				idem := &store.Idempotency{Key: fmt.Sprintf("update/%d/%d", g, i), Hash: role}
				a, err := s.UpdateAssociation(ctx, "", "c1", id, func(a *store.Association) error {
					a.RoleARN = role
					return nil
				}, store.WriteOptions{Idempotency: idem})
				if err != nil {
					t.Error(err)
					return
				}
				acks <- ack{id, a.RoleARN, taken.Load()}
			}
		})
	}
	wg.Wait()
	close(acks)

	byCopy := map[int64][]ack{}
	for a := range acks {
		byCopy[a.copy] = append(byCopy[a.copy], a)
	}
	if len(byCopy) < 2 {
		t.Errorf("acknowledgements saw %d distinct copies; want the run to span many syncs", len(byCopy))
	}
	for n, want := range byCopy {
		if n == 0 {
			t.Errorf("%d writes acknowledged before any sync of the WAL", len(want))
			continue
		}
		checkCopy(t, snapshotPath(dir, n), want)
	}
	st := s.Stats()
	if st.Commits < 10 {
		t.Errorf("%d commits; want the writes spread over many", st.Commits)
	}
	// Every write here succeeds: each is counted once and timed once.
	if st.Commits > st.Writes {
		t.Errorf("stats %+v: want Commits <= Writes", st)
	}
	if st.Stages.Writes != st.Writes || st.Stages.Committing <= 0 || st.Stages.Syncing <= 0 {
		t.Errorf("stage times %+v for %d writes: want every write timed, COMMIT and the sync taking time", st.Stages, st.Writes)
	}
	if s.w.ckpt == nil || s.w.ckpt.runs.Load() == 0 {
		t.Error("no checkpoint ran on the checkpointer's connection")
	}
}

func snapshotPath(dir string, n int64) string {
	return filepath.Join(dir, fmt.Sprintf("copy-%d.db", n))
}

// ack is a write seen acknowledged: the association's role it set, and
// how many copies had been taken when it returned.
type ack struct {
	id, role string
	copy     int64
}

// checkCopy opens the copy at path (recovering its WAL, as a restart
// does) and checks that each association has its acknowledged role.
func checkCopy(t *testing.T, path string, want []ack) {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("opening the copy %s: %v", filepath.Base(path), err)
	}
	defer s.Close()
	if err := s.IntegrityCheck(t.Context()); err != nil {
		t.Errorf("copy %s: %v", filepath.Base(path), err)
	}
	for _, w := range want {
		a, err := s.GetAssociation(t.Context(), "", "c1", w.id)
		if err != nil {
			t.Errorf("copy %s: acknowledged write to %s lost: %v", filepath.Base(path), w.id, err)
			continue
		}
		if a.RoleARN != w.role {
			t.Errorf("copy %s: %s has role %s, want the acknowledged %s", filepath.Base(path), w.id, a.RoleARN, w.role)
		}
	}
}
