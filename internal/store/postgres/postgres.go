// Package postgres is podid's multi-replica store: a store.Store and
// store.Watcher on PostgreSQL through pgx (pgxpool). Several podid replicas
// may share one database; each sees the others' writes at once and hears of
// them through LISTEN/NOTIFY.
//
// Isolation: transactions run at READ COMMITTED. Every write transaction
// first locks the one row of revision_counter (SELECT ... FOR UPDATE) and
// writes the advanced counter back before it commits. That row lock
// serializes writers across all replicas, which gives two things at once:
//
//   - Revisions grow in commit order. A sequence would not: a transaction
//     can draw a number, then commit after one that drew a later number, and
//     a change-feed reader at the later revision would skip the earlier one.
//     Under the counter lock the next writer can draw only after the previous
//     one committed, so a reader that sees revision R sees everything below.
//   - Read-modify-write needs no retry loop. At READ COMMITTED each statement
//     reads the latest committed data, and once a writer holds the counter
//     lock nothing else commits a write until it is done, so the existence
//     checks, the per-cluster count and the update's read all see the state
//     the write will commit on. Updates still lock their row
//     (SELECT ... FOR UPDATE) and creates still rely on unique indexes, so a
//     rule is never held by the counter lock alone.
//
// The cost is that write transactions (and their commit fsyncs) run one at a
// time; reads never wait. Within a replica, writes that arrive while a
// transaction runs share the next one (group commit, writer.go): one
// counter lock and one commit flush for all of them, their statements
// pipelined. A serialization failure or deadlock (40001,
// 40P01: impossible under the lock on PostgreSQL, routine on
// SERIALIZABLE-only databases) is retried a bounded number of times.
//
// Durability: a write returns nil only after COMMIT succeeded, so it is as
// durable as the server's synchronous_commit setting makes it (on, by
// default: flushed to the WAL on disk).
//
// The schema is created and upgraded by an ordered list of migrations, each
// applied in its own transaction under an advisory lock and recorded in
// schema_migrations, so replicas may start at once. A store uses the first
// schema of the connection's search_path; set search_path in the DSN to keep
// several stores apart in one database.
//
// Idempotency records expire after 24 hours; deletion tombstones stay in the
// change feed for 24 hours, after which a reader that far behind must resync
// from a full listing.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
)

const (
	// maxAttempts bounds how often a write is tried when the database
	// reports a serialization failure or deadlock.
	maxAttempts = 5
	// commitTimeout bounds a COMMIT, which runs even if the caller's
	// context ends meanwhile (see write).
	commitTimeout = 30 * time.Second
	// defaultMaxConns is the pool size unless the DSN sets pool_max_conns.
	// Writers wait for each other on the counter lock while holding a
	// connection, so the pool leaves room for readers beside them.
	defaultMaxConns = 16
	// idleInTransactionTimeout is the server-side bound (milliseconds) on
	// a session idle inside a transaction, unless the DSN sets one.
	idleInTransactionTimeout = "60000"
	// channelPrefix names the notification channel: channelPrefix plus
	// the store's schema, so stores in different schemas do not wake
	// each other.
	channelPrefix = "podid_changes"
)

// errClosed is returned by operations on a closed Store.
var errClosed = errors.New("store closed")

// Store is a store.Store backed by a PostgreSQL database. Create it with
// Open; it is safe for concurrent use, and several Stores (replicas) may
// share one database.
type Store struct {
	storecore.IAM // the IAM methods, over iamWrite and iamRead

	pool    *pgxpool.Pool
	channel string // the LISTEN/NOTIFY channel
	// notifications: the database has LISTEN/NOTIFY. Without it
	// (CockroachDB, older YugabyteDB), writes notify no one and Watch
	// polls the revision counter instead.
	notifications bool
	now           func() time.Time // the clock, for record expiry

	mu      sync.Mutex
	closed  bool
	changed store.Signal // Watch subscribers

	localRev atomic.Int64 // the last revision this replica committed and signalled
	// committing is the last revision of the commit the writer has sent
	// and not yet signalled (0: none).
	committing atomic.Int64
	known      known // the revisions Watch signals announce (KnownRevisions)
	// log is the writer's record of its recent commits (RecentChanges);
	// the listener tells it of other replicas' (Elsewhere).
	log       storecore.ChangeLog
	listenMu  sync.Mutex // serializes starting the listener
	listening bool       // the listener runs (started by the first Watch)

	bg        storecore.Background // the prune loop and the listener
	closeOnce sync.Once

	// The writer (writer.go): write sends to reqs; runWriter stops when
	// quit is closed and then closes writerDone.
	reqs       chan *writeReq
	quit       chan struct{}
	writerDone chan struct{}
	gather     storecore.Gatherer[*writeReq] // used by runWriter only
	tx         wtx                           // runWriter's, reset for each transaction (tryBatch)
	rows       rowCache                      // runWriter's
}

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value string, as pgx parses it, including pgxpool's pool_* settings)
// and brings its schema up to date.
func Open(ctx context.Context, dsn string) (*Store, error) {
	s, err := open(ctx, dsn, time.Now)
	if err != nil {
		return nil, fmt.Errorf("opening postgres store: %w", err)
	}
	return s, nil
}

func open(ctx context.Context, dsn string, now func() time.Time) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors can quote the DSN, password included.
		return nil, errors.New("parsing the DSN: not a valid PostgreSQL connection string")
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	// A replica that stops half-way through a write (hung, or cut off
	// from the database) must not hold the revision counter lock, and so
	// every replica's writes, for longer than this.
	if _, ok := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = idleInTransactionTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrating schema: %w", err)
	}
	var schema string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("reading the current schema: %w", err)
	}
	notifications, err := probeNotify(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("probing for LISTEN/NOTIFY: %w", err)
	}
	s := &Store{
		pool:          pool,
		channel:       channelName(schema),
		notifications: notifications,
		now:           now,
		reqs:          make(chan *writeReq),
		quit:          make(chan struct{}),
		writerDone:    make(chan struct{}),
		gather:        storecore.Gatherer[*writeReq]{MaxBatch: maxBatch},
	}
	go s.runWriter()
	s.IAM = storecore.NewIAM(s.iamWrite, s.iamRead)
	if err := s.bg.StartPruning(ctx, s.prune); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// probeNotify reports whether the database has pg_notify, by calling it in
// a transaction that is rolled back (so nothing is sent).
func probeNotify(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	_, err = tx.Exec(ctx, "SELECT pg_notify($1, '')", channelPrefix+"_probe")
	switch code, _ := pgCode(err); code {
	case "":
		return err == nil, err
	case codeUndefinedFunction, codeFeatureNotSupported:
		return false, nil
	default:
		return false, err
	}
}

// channelName is the notification channel for a schema. Channel names are
// identifiers: at most 63 bytes.
func channelName(schema string) string {
	c := channelPrefix
	if schema != "public" {
		c += "_" + schema
	}
	if len(c) > 63 {
		c = c[:63]
	}
	return c
}

// Close stops the store's background work, closes every Watch channel and
// the connection pool. Calls after Close fail.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.changed.Close()
		s.bg.Close()
		s.mu.Unlock()
		s.bg.Wait()
		close(s.quit) // after the prune loop, which writes
		<-s.writerDone
		s.pool.Close()
	})
	return nil
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// PostgreSQL error codes the store acts on.
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeUndefinedFunction    = "42883"
	codeFeatureNotSupported  = "0A000"
	codeDiskFull             = "53100"
	codeDivisionByZero       = "22012"
)

func pgCode(err error) (code, constraint string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, pe.ConstraintName
	}
	return "", ""
}

func retryable(err error) bool {
	code, _ := pgCode(err)
	return code == codeSerializationFailure || code == codeDeadlockDetected
}

// errNoRows reports whether err means a query found nothing.
func errNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// prune deletes expired records. It takes no revision and no counter lock:
// nothing it removes is visible to readers of current state.
func (s *Store) prune(ctx context.Context) error {
	now := s.now()
	_, err := s.pool.Exec(ctx, "DELETE FROM idempotency WHERE created_at < $1", storecore.Micros(now.Add(-storecore.IdempotencyTTL)))
	if err == nil {
		_, err = s.pool.Exec(ctx, "DELETE FROM tombstones WHERE deleted_at < $1", storecore.Micros(now.Add(-storecore.TombstoneTTL)))
	}
	if err != nil {
		return fmt.Errorf("pruning expired records: %w", err)
	}
	return nil
}
