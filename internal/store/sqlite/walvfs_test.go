package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/podid/podid/internal/store"
)

// TestWALVFSWritesCommitBeforeReturning checks walVFSName's buffered -wal
// writes: once a write returns, the -wal file on disk ends with its
// transaction's commit frame, for a transaction of a few frames and for one
// larger than the buffer (written in pieces), and a connection of the
// default VFS reads what it wrote.
func TestWALVFSWritesCommitBeforeReturning(t *testing.T) {
	setCheckpointFrames(t, 1<<31, 1<<30) // keep every frame in the WAL
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "podid.db")
	s, err := open(ctx, path, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	side, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	defer side.Close()

	commits := func() (n int, last walFrame) {
		t.Helper()
		pages, err := walPages(path + "-wal")
		if err != nil || len(pages) == 0 {
			t.Fatalf("reading the WAL: %d frames, %v", len(pages), err)
		}
		for _, p := range pages {
			if p.commit {
				n++
			}
		}
		return n, pages[len(pages)-1]
	}
	before, _ := commits()
	record := walBenchRecord()
	for i, events := range []int{1, 400} { // 400 events: some 600 KiB of frames
		batch := make([]store.Event, events)
		for j := range batch {
			batch[j] = walBenchEvent("us-east-1", "c", fmt.Sprint("a-", j), record)
			batch[j].ID = uuid.NewString()
		}
		// One write, one transaction (AppendEvents would split it).
		if err := s.w.do(ctx, appendEvents(batch)); err != nil {
			t.Fatal(err)
		}
		n, last := commits()
		if n != before+i+1 || !last.commit {
			t.Errorf("after %d-event write %d: %d commits in the WAL (want %d), last frame a commit frame: %v", events, i, n, before+i+1, last.commit)
		}
	}
	var stored int
	if err := side.QueryRowContext(ctx, "SELECT count(*) FROM audit_events").Scan(&stored); err != nil || stored != 401 {
		t.Errorf("the default VFS reads %d events (%v), want 401", stored, err)
	}
}
