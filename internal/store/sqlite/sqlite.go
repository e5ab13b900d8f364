// Package sqlite is podid's embedded default store: a store.Store and
// store.Watcher on one SQLite database file, through the pure-Go
// modernc.org/sqlite driver (no cgo).
//
// Durability: the database runs in WAL mode, and a write is acknowledged only
// once the WAL holding its commit is on disk, so an acknowledged write
// survives a crash of the process (kill -9) or of the machine. The writer
// commits with synchronous=NORMAL and syncs the -wal file itself, in a
// pipeline with the next transaction (see walSync); every other connection
// keeps synchronous=FULL.
//
// Concurrency: every write runs on one dedicated writer connection, one at a
// time, inside BEGIN IMMEDIATE transactions, so writers serialize and no
// update is lost; reads go through a pool of read-only connections that see
// the last committed state (WAL readers never block the writer). Writes that
// arrive while a commit is in flight are grouped into the next transaction
// (group commit): one fsync acknowledges many writes, and a failing write
// rolls back alone (one that failed before changing anything is left out;
// otherwise the others run again without it, each in a savepoint). A read
// through the pool can see a committed write up to one sync before it is
// durable and acknowledged; Watch signals only durable ones.
//
// The schema is created and upgraded by an ordered list of migrations, each
// applied in its own transaction and recorded in schema_migrations.
//
// A read-modify-write function (UpdateAssociation's, UpdateCluster's) runs
// on the writer: it may read through the Store but must not write through it,
// which would wait for itself.
//
// Idempotency records expire after 24 hours; deletion tombstones in the change
// feed are kept for 24 hours, after which a reader that far behind must
// resync from a full listing (readers resync periodically anyway).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/podid/podid/internal/privfs"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

const (
	// busyTimeout bounds how long a connection waits for a lock held by
	// another process (a second podid on the same file, a backup tool).
	busyTimeout = 10 * time.Second
)

// errClosed is returned by operations on a closed Store.
var errClosed = errors.New("store closed")

// Store is a store.Store backed by one SQLite database file. Create it with
// Open; it is safe for concurrent use.
type Store struct {
	storecore.IAM // the IAM methods, over iamWrite and iamReadLatest

	path string
	rdb  *sql.DB // read-only pool
	wdb  *sql.DB // the writer's and the checkpointer's connections
	rst  stmtCache
	raw  rawStmts // the hottest point reads, on the read pool
	// assocs and clusters answer GetAssociation and GetClusterPublic
	// while no commit has changed the database since they read the record
	// (DescribePodIdentityAssociation's and DescribeCluster's reads).
	// clusterNames answers ListClusters' pages the same way.
	wal          *walIndex
	assocs       readCache[assocKey, store.Association]
	clusters     readCache[clusterKey, store.Cluster]
	clusterNames readCache[clusterPageKey, []string]

	w *writer
	// log is the writer's record of its recent commits (RecentChanges,
	// KnownRevisions).
	log storecore.ChangeLog

	now func() time.Time // the clock, for expiry of stored records

	mu      sync.Mutex
	closed  bool
	changed store.Signal // Watch subscribers

	bg        storecore.Background // the prune loop
	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the SQLite database at path, creating its
// parent directory, and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	s, err := open(ctx, path, time.Now)
	if err != nil {
		return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
	}
	return s, nil
}

func open(ctx context.Context, path string, now func() time.Time) (*Store, error) {
	if path == "" {
		return nil, errors.New("empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), privfs.DirMode); err != nil {
		return nil, fmt.Errorf("creating directory: %w", err)
	}
	// The database holds STS's sealing key and the clusters' signing keys:
	// made 0600 before SQLite opens it (its -wal and -shm copy its mode),
	// and refused when another user owns or may read any of the three.
	if err := privfs.Touch(abs); err != nil {
		return nil, err
	}
	if err := privfs.CheckAll(abs+"-wal", abs+"-shm"); err != nil {
		return nil, err
	}

	wdb, err := sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, err
	}
	// Two connections, never recycled: all writes are serialized on the
	// writer's, and checkpoints run on the checkpointer's.
	wdb.SetMaxOpenConns(2)
	wdb.SetMaxIdleConns(2)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)

	if err := migrate(ctx, wdb); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("migrating schema: %w", err)
	}

	rdb, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		wdb.Close()
		return nil, err
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	rdb.SetMaxOpenConns(readers)
	rdb.SetMaxIdleConns(readers)
	rdb.SetConnMaxLifetime(0)
	rdb.SetConnMaxIdleTime(0)

	s := &Store{
		path: abs,
		rdb:  rdb,
		wdb:  wdb,
		rst:  stmtCache{db: rdb},
		raw:  rawStmts{db: rdb},

		assocs:       readCache[assocKey, store.Association]{clone: cloneAssociation},
		clusters:     readCache[clusterKey, store.Cluster]{clone: cloneCluster},
		clusterNames: readCache[clusterPageKey, []string]{clone: slices.Clone[[]string], size: clusterPages},
		now:          now,
	}
	if err := rdb.PingContext(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	// The migrations made the WAL-index; without a mapping of it (another
	// platform) GetAssociation always reads the database.
	if wal, err := mapWALIndex(abs); err == nil {
		s.wal, s.assocs.wal, s.clusters.wal, s.clusterNames.wal = wal, wal, wal, wal
	}
	w, err := newWriter(ctx, wdb, abs, s.wal, &s.log, s.notify, s.scanKeyHashes)
	if err != nil {
		s.closeDBs()
		return nil, err
	}
	s.w = w
	s.IAM = storecore.NewIAM(s.iamWrite, s.iamReadLatest)
	if err := s.bg.StartPruning(ctx, s.prune); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Page cache bounds, per connection (see dsn).
const (
	writerCacheKiB = 8 << 10
	readerCacheKiB = 1 << 10
)

// dsn builds the driver's data source name for the database file at abs.
//
// PRAGMAs, per connection:
//   - journal_mode=WAL: readers never block the writer nor it them, and a
//     commit appends to one file (one fsync) instead of rewriting pages.
//   - synchronous=FULL: the WAL is fsynced at every commit, so a
//     committed (acknowledged) write survives power loss, not only a
//     process crash (NORMAL would only promise the latter). The writer's
//     connection switches to NORMAL once open and syncs the WAL itself
//     before it acknowledges (walSync); FULL stays for migrations, and for
//     the writer should the database not be in WAL mode.
//   - busy_timeout: wait for a lock held by another process instead of
//     failing at once with SQLITE_BUSY.
//   - foreign_keys=ON: associations cannot outlive their cluster.
//   - temp_store=MEMORY: sorts and temporary b-trees stay off disk.
//   - cache_size: the page caches are bounded so their sum stays small:
//     writerCacheKiB for the writer, which walks the b-trees of every
//     write (their upper levels and the audit tables' right edges are its
//     hot set), and readerCacheKiB for each reader, whose cache is
//     discarded at each read after a commit anyway (WAL) and so never
//     stays warm for long under writes. A page cache fills up to its bound
//     as the tables grow and is never given back, so the bound is what
//     the process keeps: 16 MiB on each of five connections made a
//     steady load's RSS climb by 16 MiB over ten minutes (issue 11).
//   - journal_size_limit: truncate the WAL after checkpoints so it does
//     not stay at its high-water mark.
//   - query_only on the read pool, so a read path can never write.
//
// The writer opens its transactions with BEGIN IMMEDIATE (_txlock), taking
// the write lock up front so a transaction never fails half-way on lock
// upgrade, and writes its -wal file through walVFSName's VFS, a commit's
// frames with one system call.
func dsn(abs string, readOnly bool) string {
	u := url.URL{Scheme: "file", Path: abs}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", "temp_store(MEMORY)")
	cacheKiB := writerCacheKiB
	if readOnly {
		cacheKiB = readerCacheKiB
	}
	q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", cacheKiB))
	q.Add("_pragma", "journal_size_limit(67108864)")
	if readOnly {
		q.Add("_pragma", "query_only(ON)")
	} else {
		q.Set("_txlock", "immediate")
		q.Set("vfs", walVFSName)
	}
	return u.String() + "?" + q.Encode()
}

// Close stops the writer and closes the database. Pending writes finish
// first; calls after Close fail.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.changed.Close()
		s.mu.Unlock()
		s.bg.Close()
		s.bg.Wait()
		if s.w != nil {
			s.w.close()
		}
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	s.assocs.stop()
	s.clusters.stop()
	s.clusterNames.stop()
	if s.wal != nil {
		s.wal.close()
		s.wal = nil
	}
	s.rst.close()
	s.raw.close()
	if s.w != nil {
		s.w.closeStmts()
	}
	return errors.Join(s.rdb.Close(), s.wdb.Close())
}

// WriteStats counts the writer's work since Open.
type WriteStats struct {
	Commits int64 // transactions committed and synced (one fsync of the WAL each)
	// Writes counts the write operations they carried (group commit:
	// >= Commits), but for background writes (the audit trail's appends).
	Writes int64
	// Stages sums the time the writes that committed spent in each stage
	// of the write path.
	Stages WriteStages
}

// WriteStages sums, over Writes writes that committed, the time they spent
// waiting for the writer to take them (Queued), in their transaction before
// its COMMIT (Batched), in COMMIT (Committing), from COMMIT until the sync
// that made them durable answered them (Syncing), and from that answer
// until their callers had it (Returning). Of Batched, the transaction
// waited SyncWait for the last commit's sync (it could not commit sooner)
// and GatherWait for more writes to join it once it could (the gatherer's
// window); of Syncing, FDataSync is the sync call itself, the rest the sync
// goroutine's wake-up and answers.
type WriteStages struct {
	Writes                                          int64
	Queued, Batched, Committing, Syncing, Returning time.Duration
	SyncWait, GatherWait, FDataSync                 time.Duration
}

// Stats reports how many writes were committed in how many transactions,
// and the time they took.
func (s *Store) Stats() WriteStats {
	st := &s.w.stages
	return WriteStats{
		Commits: s.w.commits.Load(), Writes: s.w.writes.Load(),
		Stages: WriteStages{
			Writes: st.writes.Load(), Queued: time.Duration(st.queued.Load()), Batched: time.Duration(st.batched.Load()),
			Committing: time.Duration(st.committing.Load()), Syncing: time.Duration(st.syncing.Load()),
			Returning: time.Duration(st.returning.Load()),
			SyncWait:  time.Duration(st.syncWait.Load()), GatherWait: time.Duration(st.gatherWait.Load()),
			FDataSync: time.Duration(st.fdatasync.Load()),
		},
	}
}

// IntegrityCheck runs SQLite's integrity and foreign key checks over the
// whole database and reports any problem found.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	rows, err := s.rdb.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("checking integrity: %w", err)
	}
	var problems []error
	for rows.Next() {
		var msg string
		if err := rows.Scan(&msg); err != nil {
			rows.Close()
			return fmt.Errorf("checking integrity: %w", err)
		}
		if msg != "ok" {
			problems = append(problems, errors.New(msg))
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("checking integrity: %w", err)
	}
	rows, err = s.rdb.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return fmt.Errorf("checking foreign keys: %w", err)
	}
	for rows.Next() {
		var table, parent string
		var rowid, fkid sql.NullInt64
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			rows.Close()
			return fmt.Errorf("checking foreign keys: %w", err)
		}
		problems = append(problems, fmt.Errorf("table %s: row without its %s", table, parent))
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("checking foreign keys: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("database %s is damaged: %w", s.path, errors.Join(problems...))
	}
	return nil
}

// Watch returns a channel that receives a value after one or more writes
// commit. Signals coalesce: a slow reader sees one pending signal for many
// commits. The channel is closed when ctx ends or the store closes.
func (s *Store) Watch(ctx context.Context) (<-chan struct{}, error) {
	ch, ok := s.changed.Subscribe(ctx)
	if !ok {
		return nil, errClosed
	}
	return ch, nil
}

// notify signals every watcher that a write committed.
func (s *Store) notify() { s.changed.Notify() }

// RecentChanges implements store.RecentChanges: what this process's recent
// commits changed, known to the writer (storecore.ChangeLog). Another
// process writing the same file takes revisions in between, which the log
// sees and then answers nothing until this process commits again.
func (s *Store) RecentChanges(after int64) ([]store.Change, int64, bool) {
	return s.log.RecentChanges(after)
}

// KnownRevisions implements store.KnownRevisions: the revisions of this
// process's last commit that took one (another process's later commits
// are seen by reading Revision and IAMRevision, as readers' polls do).
func (s *Store) KnownRevisions() (rev, iamRev int64, ok bool) {
	return s.log.KnownRevisions()
}

func (s *Store) prune(ctx context.Context) error {
	now := s.now()
	err := s.w.do(ctx, func(tx *wtx) error {
		if err := pruneIdempotency(tx, storecore.Micros(now.Add(-storecore.IdempotencyTTL))); err != nil {
			return err
		}
		_, err := tx.exec("DELETE FROM tombstones WHERE deleted_at < ?", storecore.Micros(now.Add(-storecore.TombstoneTTL)))
		return err
	})
	if err != nil {
		return fmt.Errorf("pruning expired records: %w", err)
	}
	return nil
}

// stmtCache prepares each distinct query once per pool; database/sql then
// prepares it once per connection and reuses it. Lookups take no lock.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex // serializes preparation
	m  sync.Map   // query string -> *sql.Stmt
}

func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := c.m.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.m.Store(query, st)
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m.Range(func(k, st any) bool {
		st.(*sql.Stmt).Close()
		c.m.Delete(k)
		return true
	})
}

// queryRow runs a read-only single-row query on the read pool.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) (*sql.Row, error) {
	ctx, err := pointRead(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.rst.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(ctx, args...), nil
}

// pointRead is the context for a short, bounded read (a row by key, a page
// of the change feed): ctx's values without its cancellation, once ctx is
// checked. Such a read takes microseconds, while a cancellable context costs
// more than that: database/sql and the driver each start a goroutine per
// query to watch it.
func pointRead(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.WithoutCancel(ctx), nil
}

// query runs a read-only query on the read pool.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.rst.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}
