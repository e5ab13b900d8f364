package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
)

// Checkpoints copy the WAL's frames into the database file, so that the WAL
// can start over. SQLite runs one itself (wal_autocheckpoint) at the end of
// any COMMIT that leaves the WAL with 1,000 frames or more: on the writer's
// connection, that held the writer for milliseconds (a thousand frames'
// pages copied and two syncs) while its batch waited to be answered and the
// next one to start, every hundred commits or so: in podid bench's Update
// phases, the writer spent 13% of the time there, and every writer waited.
//
// The checkpointer runs them on a connection of its own instead, as a
// PASSIVE checkpoint (it takes no lock the writer needs and waits for
// none), once the frames no checkpoint has copied reach checkpointFrames;
// the writer goes on committing meanwhile. A checkpoint copies only what
// was committed when it started, so under a steady load the WAL would never
// be fully copied at the moment a transaction begins, which is when SQLite
// restarts it from its first frame: the writer's own autocheckpoint stays,
// at restartFrames (the WAL's whole length, copied or not), and then finds
// little left to copy, so the WAL restarts without the long stall.
//
// Durability is SQLite's own, as with its autocheckpoint: a checkpoint syncs
// the WAL before it copies frames (so the database file never holds what the
// WAL does not durably hold, even frames of a commit the writer has not
// synced and acknowledged yet), and syncs the database file before it
// records the frames as copied; the WAL restarts only once every frame is
// copied and synced. The checkpointer's connection keeps synchronous=FULL.

// checkpointFrames is how many frames the WAL holds past the last
// checkpoint before the checkpointer runs the next; restartFrames is the
// writer's own autocheckpoint (SQLite's wal_autocheckpoint). Variables for
// tests.
//
// A checkpoint copies each page once, however many of the frames since the
// last one hold it, and an Update-shaped load rewrites the same few pages
// (the revision counter, the database header, the right edges of the
// growing b-trees) in every commit: checkpoints three times as far apart
// copy those a third as often. 3,000 and 12,000 (a WAL of up to 48 MiB,
// under journal_size_limit) against 1,000 and 4,000, in four runs of
// podid bench --compare (30-40 cycles each, the machine quiet in the first
// only): podid's CPU per Update 0-10 us lower, Update throughput per cycle
// +2.1%, -1.5%, +1.8%, +3.0% (faster in 78 cycles of 130). [INF] Further
// apart (8,000 and 16,000) measured no better.
var (
	checkpointFrames uint32 = 3000
	restartFrames           = 12000
)

// finishFrames is the checkpointer's threshold in the last quarter of
// checkpointFrames before the WAL reaches restartFrames (see poke).
const finishFrames = 64

// checkpointer runs checkpoints on its own connection when poked.
type checkpointer struct {
	conn *sql.Conn
	wal  *walIndex
	// mu is held during each checkpoint (and by walSync's test hook, so
	// that the files it copies do not change under it).
	mu   *sync.Mutex
	kick chan struct{}
	done chan struct{}
	runs atomic.Int64 // checkpoints run to the end, for tests
}

// startCheckpointer opens the checkpointer's connection from db (the
// writer's pool) and starts it. wal is the mapped WAL-index, which tells
// how far checkpoints are behind.
func startCheckpointer(ctx context.Context, db *sql.DB, wal *walIndex, mu *sync.Mutex) (*checkpointer, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening the checkpointer's connection: %w", err)
	}
	c := &checkpointer{conn: conn, wal: wal, mu: mu, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go c.run()
	return c, nil
}

// poke starts a checkpoint if none is running and the WAL holds
// checkpointFrames or more frames that none has copied, or, once it nears
// restartFrames, finishFrames or more: the writer's own checkpoint, which
// the commit that takes the WAL past restartFrames runs, then copies only
// the last few commits' frames (it had copied up to a thousand, which held
// the writer for milliseconds each time the WAL restarted). The writer
// pokes after each commit; it never waits.
func (c *checkpointer) poke() {
	n, frames, ok := c.wal.backlog()
	if !ok || n < checkpointFrames && (n < finishFrames || frames+uint32(checkpointFrames)/4 < uint32(restartFrames)) {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default: // one is running or about to
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	for range c.kick {
		c.mu.Lock()
		// A failure (SQLITE_BUSY when the writer's own checkpoint is
		// running, say) leaves the frames for the next poke or for the
		// writer's autocheckpoint: the WAL only grows meanwhile.
		if _, err := c.conn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)"); err == nil {
			c.runs.Add(1)
		}
		c.mu.Unlock()
	}
}

// close stops the checkpointer after the checkpoint in progress and closes
// its connection.
func (c *checkpointer) close() {
	close(c.kick)
	<-c.done
	c.conn.Close()
}
