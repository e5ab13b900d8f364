package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
)

// walSync makes the -wal file durable after a COMMIT that the writer
// connection made with synchronous=NORMAL (SQLite wrote the transaction's
// WAL frames, ending with its commit frame, but did not wait for the disk).
// The writer acknowledges a transaction's writes only after a sync of the
// -wal file that started once its COMMIT had returned.
//
// Why every acknowledged write survives a crash of the machine:
//   - Recovery replays the WAL from its header up to the last commit frame
//     whose checksum chain is intact. A sync that starts after COMMIT N
//     returned puts every frame up to N's commit frame on disk (frames
//     that the next transaction writes meanwhile may or may not be there:
//     the checksums stop recovery before any torn or partial one).
//   - SQLite keeps the rest consistent under NORMAL itself: a checkpoint
//     syncs the WAL before it copies frames into the database file and
//     syncs the database file before the WAL may be restarted; the new
//     header of a restarted WAL is synced before frames are written after
//     it. So a WAL restart, which overwrites old frames, only ever
//     overwrites frames already durable in the database file. The same
//     holds for checkpoints run on the checkpointer's connection, which
//     keeps synchronous=FULL (see checkpoint.go).
//   - One sync is in flight at a time and COMMIT N+1 waits for sync N
//     (writer.awaitSync), so acknowledgements go out in commit order and
//     a later sync covers every earlier commit.
//   - A failed sync may have lost pages the kernel could not write; the
//     writer then refuses every later write until the process restarts
//     and recovery reads what the disk really holds.
//
// The -wal file is opened once, after the writer's connection opened it
// and for as long as that connection lives: SQLite deletes it only when the
// last connection to the database closes, and truncates (journal_size_limit)
// but never replaces it while one is open.
type walSync struct {
	f       *os.File
	syncing func()      // walSyncing as of Open
	ckpt    *sync.Mutex // held by checkpoints: syncing runs under it
}

// walSyncing, when not nil, is called as each sync of a -wal file starts:
// tests take the files then, the least that a loss of power after the
// sync could leave (no COMMIT runs meanwhile: the writer's next waits for
// this sync). No checkpoint runs meanwhile either (it would change the
// database file under the copy, which a loss of power could not do: SQLite
// syncs what a checkpoint wrote before it lets the WAL restart).
var walSyncing func()

// openWALSync switches conn, the writer's connection, to synchronous=NORMAL
// and opens path's -wal file for syncing. It returns nil (SQLite syncs at
// COMMIT, as the connection's synchronous=FULL asks) when the database is
// not in WAL mode.
func openWALSync(ctx context.Context, conn *sql.Conn, path string, ckpt *sync.Mutex) (*walSync, error) {
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return nil, fmt.Errorf("reading journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return nil, nil
	}
	f, err := os.Open(path + "-wal")
	if err != nil {
		return nil, fmt.Errorf("opening the write-ahead log: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		f.Close()
		return nil, fmt.Errorf("setting synchronous=NORMAL: %w", err)
	}
	return &walSync{f: f, syncing: walSyncing, ckpt: ckpt}, nil
}

// sync makes the -wal file's content, as of the call, durable.
func (s *walSync) sync() error {
	if s.syncing != nil {
		s.ckpt.Lock()
		s.syncing()
		s.ckpt.Unlock()
	}
	return dataSync(s.f)
}

func (s *walSync) close() { s.f.Close() }
