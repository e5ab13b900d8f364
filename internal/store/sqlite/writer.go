package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
)

// maxBatch bounds how many writes share one transaction (one fsync).
const maxBatch = 256

// writer owns the one connection every write goes through. A single
// goroutine runs the writes in order; writes that queue up while one runs
// join the same transaction (group commit), and all of them are
// acknowledged once the WAL holding their COMMIT is on disk. One failing
// write must not take the others down: a write that fails before it
// changed anything (the usual failure) is simply left out; one that may
// have changed something makes the writer roll the transaction back and
// run the others again, each in its own savepoint (runBare, rerun).
//
// The sync is pipelined: the writer connection runs with
// synchronous=NORMAL, so COMMIT writes the transaction's WAL frames without
// waiting for the disk, and a second goroutine (syncLoop) fdatasyncs the
// -wal file and only then answers the transaction's writes and signals
// watchers. Meanwhile the writer runs the next writes in the next
// transaction, which commits once that sync is done (one sync in flight at
// a time, each after the COMMIT it covers). See walSync for why this keeps
// every acknowledged write durable.
type writer struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt // used only by the writer goroutine
	// raw are statements prepared on conn's driver connection (readRow),
	// used only by the writer goroutine.
	raw   map[string]rawStmt
	named []driver.NamedValue // exec's arguments, used only by the writer goroutine
	reqs  chan *writeReq
	// bg carries background writes (doBackground): the writer takes one
	// when it would otherwise wait for the sync in flight, or when idle.
	bg     chan *writeReq
	quit   chan struct{}
	done   chan struct{}
	notify func() // called after a commit that wrote something is durable
	// log learns each durable commit's revisions and association changes
	// (before notify), for the store's RecentChanges and KnownRevisions.
	log *storecore.ChangeLog

	// The store-wide revision counter within the current transaction:
	// the first reservation reads and bumps meta.revision, later ones
	// count in memory, and one UPDATE before COMMIT stores the last
	// revision handed out (a batch of n writes costs two statements
	// instead of n). Used only by the writer goroutine.
	rev revCounter

	// cache holds the associations the writer last read or wrote.
	cache writeCache

	// gather decides how long a transaction waits for writes to join it
	// once no sync is in flight. Used only by the writer goroutine.
	gather storecore.Gatherer[*writeReq]

	// wal syncs the -wal file; nil when SQLite syncs at COMMIT itself
	// (the database is not in WAL mode).
	wal *walSync
	// ckpt runs the checkpoints off the writer's connection; nil when
	// SQLite runs them at COMMIT (no WAL-index mapping, or no wal).
	// ckptMu is held during each (see walSync's test hook).
	ckpt   *checkpointer
	ckptMu sync.Mutex
	// syncs carries committed transactions to syncLoop; syncing is the
	// one in flight (nil when none), and failed, once a sync has failed,
	// the error every later write gets. Used only by the writer goroutine.
	syncs     chan *syncJob
	syncing   *syncJob
	failed    error
	syncsDone chan struct{}

	// For Stats: commits, the foreground writes they carried and the
	// stages of those.
	commits, writes atomic.Int64
	stages          stageTimes
	// waited sums the time the writer's transactions waited, for the
	// sync in flight and for more writes, since it started (a write's
	// share is the growth while it was in its transaction). Used only by
	// the writer goroutine.
	waited waits
}

// waits is time a transaction spent waiting before its COMMIT: for the
// last commit's sync (it could not commit sooner; writes that arrive
// meanwhile join it), and for more writes once it could commit (the
// gatherer's window, a background batch's linger).
type waits struct{ sync, gather time.Duration }

// stageTimes sums the time that the writes which committed spent in each
// stage of the write path, for Stats (podid bench prints the means).
type stageTimes struct {
	writes atomic.Int64 // the writes timed
	// Nanoseconds: waiting for the writer to take the write; in its
	// transaction before COMMIT (running, waiting for more writes, for
	// the writes before it, for the sync in flight); COMMIT; from COMMIT
	// to the answer (the sync); from the answer until the caller has it.
	queued, batched, committing, syncing, returning atomic.Int64
	// Parts of those: of batched, waiting for the sync in flight and for
	// more writes (waits); of syncing, the fdatasync itself.
	syncWait, gatherWait, fdatasync atomic.Int64
}

// record adds the stages of a write answered at now.
func (st *stageTimes) record(req *writeReq, now time.Time) {
	j := req.job
	st.queued.Add(int64(req.taken.Sub(req.start)))
	st.batched.Add(int64(j.start.Sub(req.taken)))
	st.committing.Add(int64(j.committed.Sub(j.start)))
	st.syncing.Add(int64(j.answered.Sub(j.committed)))
	st.returning.Add(int64(now.Sub(j.answered)))
	st.syncWait.Add(int64(req.waited.sync))
	st.gatherWait.Add(int64(req.waited.gather))
	st.fdatasync.Add(int64(j.synced))
	st.writes.Add(1)
}

// syncJob is a committed transaction waiting for its WAL sync.
type syncJob struct {
	batch   []*writeReq
	results []writeResult
	commit  *storecore.Commit // for the log; nil when it took no revision
	took    time.Duration     // COMMIT to durable; set before done closes
	err     error             // the sync's error; set before done closes
	done    chan struct{}     // closed once the batch is answered

	// When its COMMIT started and returned, and when syncLoop answered it
	// (set before the answers go out); synced is how long the sync call
	// itself took.
	start, committed, answered time.Time
	synced                     time.Duration
}

// revCounter is the transaction's view of meta.revision.
type revCounter struct {
	loaded bool  // reserved from meta in this transaction
	base   int64 // meta.revision before the first reservation
	last   int64 // last revision handed out
	stored int64 // meta.revision as this transaction has written it
	iam    int64 // meta.iam_revision as this transaction left it
}

type writeReq struct {
	ctx  context.Context
	fn   func(*wtx) error
	done chan writeResult
	bg   bool // a background write (doBackground)
	// What fn's last successful run changed in the change feed
	// (wtx.changed), and whether it changed more than that lists.
	changes []store.Change
	partial bool
	// When it was submitted and the writer took it, and the transaction
	// that committed it (nil if none did), for the writer's stageTimes;
	// waited is the writer's waits when it last ran, and then what its
	// transaction waited from then to its COMMIT.
	start, taken time.Time
	job          *syncJob
	waited       waits
}

type writeResult struct {
	err      error
	panicked bool
	panicVal any
}

// newWriter starts the writer on a connection of db (and the checkpointer
// on another, when idx, the mapped WAL-index, is not nil). path is the
// database file's: its -wal file is synced after each commit.
func newWriter(ctx context.Context, db *sql.DB, path string, idx *walIndex, log *storecore.ChangeLog, notify func(), scanTokens func(context.Context) (*bloom, error)) (*writer, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &writer{
		conn:      conn,
		stmts:     make(map[string]*sql.Stmt),
		reqs:      make(chan *writeReq),
		bg:        make(chan *writeReq),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
		notify:    notify,
		log:       log,
		gather:    storecore.Gatherer[*writeReq]{MaxBatch: maxBatch},
		syncs:     make(chan *syncJob, 1),
		syncsDone: make(chan struct{}),
	}
	w.cache.tokens.scan = scanTokens
	if w.wal, err = openWALSync(ctx, conn, path, &w.ckptMu); err != nil {
		conn.Close()
		return nil, err
	}
	if w.wal != nil && idx != nil {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", restartFrames)); err != nil {
			w.closeConns()
			return nil, fmt.Errorf("setting wal_autocheckpoint: %w", err)
		}
		if w.ckpt, err = startCheckpointer(ctx, db, idx, &w.ckptMu); err != nil {
			w.closeConns()
			return nil, err
		}
	}
	go w.syncLoop()
	go w.run()
	return w, nil
}

// do runs fn in a write transaction and returns once that transaction is
// durable (nil) or fn's write was rolled back (fn's error, as is). A panic
// in fn is re-raised in the caller's goroutine.
func (w *writer) do(ctx context.Context, fn func(*wtx) error) error {
	req, err := w.submit(ctx, fn, false)
	if err != nil {
		return err
	}
	return w.wait(req)
}

// doBackground runs each of fns as a write of its own, in order, at the
// writer's leisure: the writer takes one when it has run what is queued
// and waits for the sync in flight (it could not commit sooner anyway), or
// when it is idle, so that bulk work (the audit trail's batches) fills the
// time a transaction waits for the last one's sync instead of holding up
// the writes queued behind it. It returns once every write that was taken
// is durable or rolled back: the first error, or a panic, of fns.
func (w *writer) doBackground(ctx context.Context, fns []func(*wtx) error) error {
	reqs := make([]*writeReq, 0, len(fns))
	var err error
	for _, fn := range fns {
		var req *writeReq
		if req, err = w.submit(ctx, fn, true); err != nil {
			break
		}
		reqs = append(reqs, req)
	}
	var panicked *writeResult
	for _, req := range reqs {
		res := w.result(req)
		if res.panicked && panicked == nil {
			panicked = &res
		} else if res.err != nil && err == nil {
			err = noSpace(res.err)
		}
	}
	if panicked != nil {
		panic(panicked.panicVal)
	}
	return err
}

// submit hands fn to the writer, as a background write if bg.
func (w *writer) submit(ctx context.Context, fn func(*wtx) error, bg bool) (*writeReq, error) {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1), bg: bg, start: time.Now()}
	ch := w.reqs
	if bg {
		ch = w.bg
	}
	select {
	case ch <- req:
		req.taken = time.Now() // only this goroutine reads it
		return req, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-w.quit:
		return nil, errClosed
	}
}

// wait returns req's error, or re-raises its panic.
func (w *writer) wait(req *writeReq) error {
	res := w.result(req)
	if res.panicked {
		panic(res.panicVal)
	}
	return noSpace(res.err)
}

// result waits for req's answer. Once accepted, a request always gets an
// answer, promptly: waiting for it rather than for its context means a
// caller never returns an error for a write that then commits.
func (w *writer) result(req *writeReq) writeResult {
	res := <-req.done
	if req.job != nil && !req.bg && res.err == nil && !res.panicked {
		w.stages.record(req, time.Now())
	}
	return res
}

// noSpace marks the error of a write that failed for want of disk space
// (SQLITE_FULL, or ENOSPC from the file system) with store.ErrNoSpace. The
// transaction was rolled back; the writer goes on with the next one.
func noSpace(err error) error {
	var se *sqlite.Error
	if err != nil && ((errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL) || errors.Is(err, syscall.ENOSPC)) {
		return fmt.Errorf("%w: %w", store.ErrNoSpace, err)
	}
	return err
}

// close stops the writer after the batch in progress and its sync.
func (w *writer) close() {
	close(w.quit)
	<-w.done
	w.cache.tokens.close()
}

func (w *writer) closeStmts() {
	<-w.done
	for _, st := range w.stmts {
		st.Close()
	}
	w.stmts = nil
	for _, st := range w.raw {
		st.Close()
	}
	w.raw = nil
	w.closeConns()
}

// closeConns stops the checkpointer and closes the connections and the
// -wal file.
func (w *writer) closeConns() {
	if w.ckpt != nil {
		w.ckpt.close()
	}
	w.conn.Close()
	if w.wal != nil {
		w.wal.close()
	}
}

func (w *writer) run() {
	defer close(w.done)
	defer func() {
		w.awaitSync()
		close(w.syncs)
		<-w.syncsDone
	}()
	for {
		select {
		case <-w.quit:
			return
		case req := <-w.reqs:
			w.runBatch(req)
		case req := <-w.bg:
			w.runBatch(req)
		}
	}
}

// runBatch runs first and whatever else queues up meanwhile in one
// transaction, commits it and hands it to syncLoop, which answers it.
func (w *writer) runBatch(first *writeReq) {
	w.rev = revCounter{}
	began := time.Now()
	window := w.gather.Window(began)
	defer func() { window.Stop() }()
	if w.failed != nil {
		first.done <- writeResult{err: w.failed}
		return
	}
	if _, err := w.exec("BEGIN IMMEDIATE"); err != nil {
		w.answerNow([]*writeReq{first}, nil, fmt.Errorf("beginning transaction: %w", err))
		return
	}
	w.cache.begin()
	// The first write needs no savepoint of its own: if it fails,
	// rolling the whole transaction back undoes it alone.
	res := w.runFirst(first)
	if res.err != nil || res.panicked {
		_, _ = w.exec("ROLLBACK")
		w.answerNow([]*writeReq{first}, []writeResult{res}, nil)
		return
	}
	batch := []*writeReq{first}
	results := []writeResult{res}
	fg := !first.bg // the batch holds a foreground write
	for len(batch) < maxBatch {
		req, ok := w.next(&window, len(batch), fg, began)
		if !ok {
			break
		}
		res, undo := w.runBare(req)
		if undo {
			// The failed write may have changed the transaction:
			// answer it, and run the batch again without it.
			_, _ = w.exec("ROLLBACK")
			w.answerNow([]*writeReq{req}, []writeResult{res}, nil)
			var broken error
			if results, broken = w.rerun(batch); broken != nil {
				w.answerNow(batch, results, broken)
				return
			}
			continue
		}
		batch = append(batch, req)
		results = append(results, res)
		fg = fg || !req.bg
	}
	waiting := time.Now()
	w.awaitSync() // one sync in flight at a time, each after its COMMIT
	w.waited.sync += time.Since(waiting)
	if w.failed != nil {
		_, _ = w.exec("ROLLBACK")
		w.answerNow(batch, results, w.failed)
		return
	}
	if w.rev.loaded && w.rev.last != w.rev.stored {
		if _, err := w.exec("UPDATE meta SET revision = ? WHERE id = 1", w.rev.last); err != nil {
			_, _ = w.exec("ROLLBACK")
			w.answerNow(batch, results, fmt.Errorf("storing revision: %w", err))
			return
		}
	}
	start := time.Now()
	if _, err := w.exec("COMMIT"); err != nil {
		_, _ = w.exec("ROLLBACK")
		w.cache.reset()
		w.answerNow(batch, results, fmt.Errorf("committing transaction: %w", err))
		return
	}
	w.cache.commit()
	if w.rev.loaded {
		w.cache.metaKnown, w.cache.metaRev, w.cache.metaIAM = true, w.rev.last, w.rev.iam
	}
	w.syncing = &syncJob{batch: batch, results: results, commit: w.commitRecord(batch, results), start: start, committed: time.Now(), done: make(chan struct{})}
	for _, req := range batch {
		req.job = w.syncing
		req.waited = waits{sync: w.waited.sync - req.waited.sync, gather: w.waited.gather - req.waited.gather}
	}
	w.syncs <- w.syncing
}

// commitRecord is what the log learns of the transaction that committed
// batch, nil when it took no revision (it changed nothing in the feed).
func (w *writer) commitRecord(batch []*writeReq, results []writeResult) *storecore.Commit {
	if !w.rev.loaded {
		return nil
	}
	c := &storecore.Commit{After: w.rev.base, Through: w.rev.last, IAMRevision: w.rev.iam}
	for i, req := range batch {
		if i < len(results) && results[i].err == nil && !results[i].panicked {
			c.Changes = append(c.Changes, req.changes...)
			c.Partial = c.Partial || req.partial
		}
	}
	return c
}

// next returns a request to add to a batch of n, or ok false to commit
// now. While the last commit's sync is in flight, the transaction takes
// every write that arrives until that sync is done (it could not commit
// sooner), and background writes while no other is queued. Then, as after
// any commit, the gatherer's window waits a little for the writers that
// sync answered, who are likely on their way back: committing at once
// would split the writers into two groups that alternate, each paying a
// commit's fixed cost (its WAL frames of shared pages, its sync) for fewer
// writes. A batch of background writes only (fg false) waits instead for
// a foreground write to commit with, up to bgLinger after it began (at
// began), taking background writes meanwhile: it does not cost a sync of
// its own while foreground writes keep coming.
func (w *writer) next(window **storecore.Window[*writeReq], n int, fg bool, began time.Time) (req *writeReq, ok bool) {
	if w.syncing != nil {
		select {
		case req := <-w.reqs:
			return req, true
		default:
		}
		waiting := time.Now()
		select {
		case req = <-w.reqs:
		case req = <-w.bg:
		case <-w.syncing.done:
			w.awaitSync()
			(*window).Stop()
			*window = w.gather.Window(time.Now())
		}
		w.waited.sync += time.Since(waiting)
		if req != nil {
			return req, true
		}
	}
	waiting := time.Now()
	defer func() { w.waited.gather += time.Since(waiting) }()
	if !fg {
		return w.linger(began)
	}
	return (*window).Next(w.reqs, n)
}

// bgLinger bounds how long a batch of background writes only waits for a
// foreground write (see next).
const bgLinger = 20 * time.Millisecond

// linger returns the next write for a batch of background writes only
// (foreground ones first), or ok false once bgLinger has passed since began.
func (w *writer) linger(began time.Time) (req *writeReq, ok bool) {
	select {
	case req := <-w.reqs:
		return req, true
	default:
	}
	wait := time.Until(began.Add(bgLinger))
	if wait <= 0 {
		return nil, false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case req := <-w.reqs:
		return req, true
	case req := <-w.bg:
		return req, true
	case <-t.C:
		return nil, false
	}
}

// awaitSync waits for the sync in flight, if any, to answer its batch.
func (w *writer) awaitSync() {
	if w.syncing == nil {
		return
	}
	<-w.syncing.done
	if w.syncing.err != nil && w.failed == nil {
		w.failed = w.syncing.err
	}
	w.gather.Committed(len(w.syncing.batch), w.syncing.took)
	w.syncing = nil
}

// syncLoop makes each committed transaction durable, then answers its
// writes and signals watchers.
func (w *writer) syncLoop() {
	defer close(w.syncsDone)
	var failed error
	for job := range w.syncs {
		if failed == nil && w.wal != nil {
			syncing := time.Now()
			err := w.wal.sync()
			job.synced = time.Since(syncing)
			if err != nil {
				// The kernel may have dropped the pages it could not
				// write: nothing after this can be promised durable.
				failed = fmt.Errorf("syncing the write-ahead log (writes refused until restart): %w", err)
			}
		}
		job.answered = time.Now()
		job.err = failed
		job.took = job.answered.Sub(job.start)
		if job.err == nil && job.commit != nil {
			w.log.Committed(*job.commit) // before the writes return
		}
		w.answer(job.batch, job.results, job.err)
		if job.err == nil {
			w.commits.Add(1)
			w.writes.Add(int64(foreground(job.batch)))
			w.notify() // the first write at least succeeded
			if w.ckpt != nil {
				w.ckpt.poke()
			}
		}
		close(job.done)
	}
}

// foreground counts the writes of batch that are not background writes.
func foreground(batch []*writeReq) int {
	n := 0
	for _, req := range batch {
		if !req.bg {
			n++
		}
	}
	return n
}

// answerNow answers a batch that did not commit, after the sync in flight:
// its writes may have read that sync's transaction (an answer can tell of
// it, a not-found for instance), which must be durable first.
func (w *writer) answerNow(batch []*writeReq, results []writeResult, fail error) {
	w.awaitSync()
	w.answer(batch, results, fail)
}

// answer replies to every request in batch; fail, if not nil, replaces the
// result of every request that had succeeded.
func (w *writer) answer(batch []*writeReq, results []writeResult, fail error) {
	for i, req := range batch {
		var res writeResult
		if i < len(results) {
			res = results[i]
		} else {
			res.err = fail
		}
		if fail != nil && res.err == nil && !res.panicked {
			res.err = fail
		}
		req.done <- res
	}
}

// runFirst runs the first request of a transaction, without a savepoint.
func (w *writer) runFirst(req *writeReq) writeResult {
	if err := req.ctx.Err(); err != nil {
		return writeResult{err: err}
	}
	return w.call(req)
}

// runBare runs a request after the first of a transaction without a
// savepoint of its own (a savepoint costs two statements and a copy of
// every page the write touches). Most failed writes fail before they
// change anything (not found, a replayed token, a refused edit) and need
// no undoing; undo reports a failure that may have changed the
// transaction: one after a statement that writes, a panic, or an error of
// SQLite's own (some, such as a full disk, roll the whole transaction
// back). The batch is then run again without that write (rerun).
func (w *writer) runBare(req *writeReq) (res writeResult, undo bool) {
	if err := req.ctx.Err(); err != nil {
		return writeResult{err: err}, false
	}
	rev := w.rev
	tx := &wtx{w: w}
	res = w.callTx(req, tx)
	if res.err == nil && !res.panicked {
		return res, false
	}
	w.rev = rev // unchanged unless the write reserved one, which undo covers
	var se *sqlite.Error
	return res, tx.wrote || res.panicked || errors.As(res.err, &se)
}

// rerun runs batch (writes that had succeeded in a transaction just rolled
// back) again in a new transaction, each inside a savepoint as runOne
// does, so that a write failing now rolls back alone. broken is non-nil
// when the transaction could not be begun or a savepoint undone; results
// then hold what ran.
func (w *writer) rerun(batch []*writeReq) (results []writeResult, broken error) {
	w.rev = revCounter{}
	if _, err := w.exec("BEGIN IMMEDIATE"); err != nil {
		return nil, fmt.Errorf("beginning transaction: %w", err)
	}
	w.cache.begin()
	results = make([]writeResult, 0, len(batch))
	for _, req := range batch {
		res, err := w.runOne(req)
		results = append(results, res)
		if err != nil {
			_, _ = w.exec("ROLLBACK")
			return results, err
		}
	}
	return results, nil
}

// runOne runs one request inside a savepoint. broken is non-nil when the
// savepoint could not be opened or undone, and so the whole transaction must
// be abandoned.
func (w *writer) runOne(req *writeReq) (res writeResult, broken error) {
	if err := req.ctx.Err(); err != nil {
		return writeResult{err: err}, nil
	}
	if _, err := w.exec("SAVEPOINT w"); err != nil {
		return writeResult{err: err}, fmt.Errorf("opening savepoint: %w", err)
	}
	rev := w.rev
	res = w.call(req)
	if res.err == nil && !res.panicked {
		if _, err := w.exec("RELEASE w"); err != nil {
			return writeResult{err: err}, fmt.Errorf("releasing savepoint: %w", err)
		}
		return res, nil
	}
	if _, err := w.exec("ROLLBACK TO w"); err != nil {
		return res, fmt.Errorf("rolling back savepoint: %w", err)
	}
	w.rev = rev // the counter as of the savepoint, as meta now is
	w.cache.dropTx()
	if _, err := w.exec("RELEASE w"); err != nil {
		return res, fmt.Errorf("releasing savepoint: %w", err)
	}
	return res, nil
}

func (w *writer) call(req *writeReq) writeResult { return w.callTx(req, &wtx{w: w}) }

func (w *writer) callTx(req *writeReq, tx *wtx) (res writeResult) {
	req.changes, req.partial = nil, false
	req.waited = w.waited
	defer func() {
		if v := recover(); v != nil {
			res = writeResult{panicked: true, panicVal: v}
		}
	}()
	err := req.fn(tx)
	if err == nil {
		req.changes, req.partial = tx.changes, tx.partial
	}
	return writeResult{err: err}
}

// stmt returns the writer connection's prepared statement for query.
func (w *writer) stmt(query string) (*sql.Stmt, error) {
	if st, ok := w.stmts[query]; ok {
		return st, nil
	}
	st, err := w.conn.PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	w.stmts[query] = st
	return st, nil
}

// exec runs a statement on the writer connection, through the driver's
// interfaces as readRow reads (database/sql's statement bookkeeping,
// argument conversion and result wrapper cost some 0.15-0.2 µs of the
// writer's CPU a statement, five or six of them per Update; the arguments
// are converted as database/sql converts them for this driver, which
// checks none itself). Statements use a context that is never cancelled:
// the driver cancels by interrupting the whole connection, which must not
// reach another request's statements; a request's context is checked
// before it starts instead.
func (w *writer) exec(query string, args ...any) (sql.Result, error) {
	// The driver binds (copies) the arguments: one slice serves every
	// statement (an audit append's has hundreds).
	named := w.named[:0]
	defer func() { clear(named); w.named = named[:0] }()
	for i, v := range args {
		switch v.(type) {
		case string, int64, []byte, bool, float64, nil:
		default:
			var err error
			if v, err = driver.DefaultParameterConverter.ConvertValue(v); err != nil {
				return nil, fmt.Errorf("converting argument %d: %w", i+1, err)
			}
		}
		named = append(named, driver.NamedValue{Ordinal: i + 1, Value: v})
	}
	var res driver.Result
	err := w.conn.Raw(func(dc any) error {
		st, err := w.rawStmt(dc, query)
		if err == nil {
			res, err = st.ExecContext(context.Background(), named)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// rawStmt returns query prepared on dc, the writer's driver connection,
// preparing it the first time.
func (w *writer) rawStmt(dc any, query string) (rawStmt, error) {
	if st, ok := w.raw[query]; ok {
		return st, nil
	}
	st, err := prepareRaw(context.Background(), dc, query)
	if err != nil {
		return nil, err
	}
	if w.raw == nil {
		w.raw = map[string]rawStmt{}
	}
	w.raw[query] = st
	return st, nil
}

// readRow runs a single-row query on the writer's connection through the
// driver's interfaces, as rawStmts does on the read pool (database/sql's
// per-query work and Scan's conversions cost the hottest read of the
// writer, UpdateAssociation's, about as much as SQLite's own work), and
// fills dest with its row's values (see rawStmts.readRow); false when it
// returns no row.
func (w *writer) readRow(query string, args []driver.NamedValue, dest []driver.Value) (found bool, err error) {
	err = w.conn.Raw(func(dc any) error {
		st, err := w.rawStmt(dc, query)
		if err == nil {
			found, err = readRawRow(context.Background(), st, args, dest)
		}
		return err
	})
	return found, err
}

// wtx is what a write function sees: statements inside the current write
// transaction.
type wtx struct {
	w *writer
	// wrote is set once the write ran a statement that may change the
	// database (runBare).
	wrote bool
	// changes are the write's entries in the change feed (changed), for
	// the log; partial is set when it made more (changedUnlisted).
	changes []store.Change
	partial bool
	// The last key keyHash hashed, and its hash.
	hashed string
	hash   int64
}

// keyHash is keyHash(key), which a write with a token needs for its
// lookup and again to store its record.
func (t *wtx) keyHash(key string) int64 {
	if key != t.hashed || t.hashed == "" {
		t.hashed, t.hash = key, keyHash(key)
	}
	return t.hash
}

// changed notes the write's change to an association (a, or a deletion
// when a is nil), at revision rev, for the log: the change feed's entry
// for it, as ChangesSince reads it.
func (t *wtx) changed(rev int64, region, cluster, id string, a *store.Association) {
	c := store.Change{Revision: rev, Region: region, ClusterName: cluster, AssociationID: id, Deleted: a == nil}
	if a != nil {
		cp := cloneAssociation(*a) // the caller keeps a
		c.Association = &cp
	}
	t.changes = append(t.changes, c)
}

// changedUnlisted notes that the write changed associations without
// listing the changes (changed): readers of the log read the feed.
func (t *wtx) changedUnlisted() { t.partial = true }

func (t *wtx) exec(query string, args ...any) (sql.Result, error) {
	t.wrote = true
	return t.w.exec(query, args...)
}

func (t *wtx) query(query string, args ...any) (*sql.Rows, error) {
	st, err := t.w.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(context.Background(), args...)
}

// queryRow runs a single-row query; errors surface from Scan.
func (t *wtx) queryRow(query string, args ...any) *sql.Row {
	st, err := t.w.stmt(query)
	if err != nil {
		// Let the connection report the preparation error from Scan.
		return t.w.conn.QueryRowContext(context.Background(), query, args...)
	}
	return st.QueryRowContext(context.Background(), args...)
}

// revisions reserves n consecutive revisions from the store-wide counter and
// returns the first. Taken inside the write transaction, they grow in commit
// order. The first reservation of a transaction starts from meta.revision
// as the writer's last COMMIT left it, or, if another connection may have
// committed since (writeCache.check), reads and bumps it; later ones count
// on in memory, and the writer stores the last revision handed out before
// COMMIT.
func (t *wtx) revisions(n int) (int64, error) {
	w := t.w
	if c := &w.cache; !w.rev.loaded && c.check(w) && c.metaKnown {
		w.rev = revCounter{loaded: true, base: c.metaRev, last: c.metaRev, stored: c.metaRev, iam: c.metaIAM}
	}
	if w.rev.loaded {
		first := w.rev.last + 1
		w.rev.last += int64(n)
		return first, nil
	}
	var last, iam int64
	t.wrote = true
	// Read through the driver (readRow): SQLite makes a statement's
	// changes at its first step, before its RETURNING row.
	var v [2]driver.Value
	found, err := w.readRow("UPDATE meta SET revision = revision + ?1 WHERE id = 1 RETURNING revision, iam_revision",
		[]driver.NamedValue{{Ordinal: 1, Value: int64(n)}}, v[:])
	if err == nil && !found {
		err = sql.ErrNoRows
	}
	if err == nil {
		d := rawDecoder{v: v[:]}
		d.integer(&last, &iam)
		err = d.err
	}
	if err != nil {
		return 0, fmt.Errorf("assigning revision: %w", err)
	}
	w.rev = revCounter{loaded: true, base: last - int64(n), last: last, stored: last, iam: iam}
	return last - int64(n) + 1, nil
}

// errNoRows reports whether err means a query found nothing.
func errNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
