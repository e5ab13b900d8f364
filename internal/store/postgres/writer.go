package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
)

// maxBatch bounds how many writes share one transaction.
const maxBatch = 128

// batchTimeout bounds a batch's transaction, commit included: the
// statements run on a context no caller can cancel (see wtx), so this is
// what ends a batch stuck on an unreachable database.
const batchTimeout = 2 * commitTimeout

// Group commit (storecore.Gatherer decides how long a transaction waits
// for the writers its last commit answered). Every write transaction holds the revision counter's row
// lock until its COMMIT has returned, so transactions, and the WAL flushes
// that make them durable, run one at a time across all replicas. Within a
// replica, one goroutine (runWriter) therefore runs the writes: those that
// queue up while a transaction runs go together into the next one, which
// takes the counter lock once and commits (one flush) for all of them.
//
// A write whose function fails (its own error, a panic, or a statement the
// database refused, which aborts the transaction) is answered with that
// failure when it was the transaction's first, and the transaction is
// rolled back and run again without it: the others' functions are
// read-modify-write closures, run again on what is then committed, as a
// serialization retry would. A write that fails after others of its
// transaction is not answered yet: its failure may come from them (a
// create refused as a duplicate of an earlier create in the batch), and
// they may not commit once the transaction is rolled back (another
// replica's write can come first). The writes before it run again and
// commit on their own, and it then runs first in the next transaction,
// where its answer rests on committed writes alone.
//
// Prefetching: a write may declare its first read (prefetch), which then
// goes with the batch's first round trip, after BEGIN and the counter
// lock, instead of in a round trip of its own. A prefetched read is only
// used if nothing earlier in the batch can have changed what it read:
// every earlier write is itself a prefetching write of other keys
// (prefetch.keys). The first write that breaks this ends prefetching for
// the batch; it and those after read as usual. A batch of n such updates
// costs two round trips.
//
// Row cache: an update of an association this replica's writer last
// wrote (rowCache) does not read it when the batch may rely on the cache:
// prefetching hands it the cached row instead (prefetch.hit), and only its
// client request token's record, if it has a token, is read ahead (by the
// token's key alone: an index probe whatever the table's size when the
// statement was planned, which a lookup of the batch's tokens by
// "key = ANY ($1)" was not). Such a batch assumes the counter
// reads what this replica's last commit left and computes its revisions
// from that; its counter lock (lockCounter) fails the transaction in SQL
// when the counter has moved (another replica committed since), before
// anything commits. A batch of hits without tokens sends everything,
// COMMIT included, in one round trip. When the check fails, or a hit
// write fails (its function may have failed on a row the transaction had
// not confirmed yet), nothing is answered: the batch runs again
// (errRerun), without the cache for that write, or for the next staleSkip
// batches.

type writeReq struct {
	ctx  context.Context
	fn   func(*wtx) error
	done chan writeResult
	pre  *prefetch // the write's first read, or nil
	// noCache: the write reads its row although the row cache may
	// have it (a hit failed: see Row cache).
	noCache bool
}

// prefetch is a write's first read: one row, scanned into dest.
type prefetch struct {
	// keys name what the read reads and the write then changes; two
	// prefetches of one batch that share a key are not both sent ahead.
	keys []string
	sql  string
	args []any
	dest []any
	// Set by tryBatch: sent, the read went ahead and dest (or noRows:
	// it found no row) holds its result in the running transaction;
	// hit, the row was not read: row is the association keys[0] names,
	// from the row cache, and only the write's token's record was
	// (tokenSQL: tokenFound, it holds one).
	sent, noRows, hit, tokenFound bool
	row                           store.Association
	// tokenSQL reads the write's client request token's record alone
	// into tokenDest ("": the write has no token).
	tokenSQL             string
	tokenArgs, tokenDest []any
}

type writeResult struct {
	err      error
	panicked bool
	panicVal any
}

// write runs fn in a write transaction (see the package comment and Group
// commit above) and returns once it committed (nil) or fn's error, as is.
// A panic in fn is re-raised in the caller's goroutine.
func (s *Store) write(ctx context.Context, fn func(*wtx) error) error {
	return s.run(ctx, &writeReq{fn: fn})
}

// doneChans holds empty answer channels (writeReq.done) for reuse: the
// writer answers each write it accepted exactly once, so a channel whose
// answer was received is empty and nobody else holds it.
var doneChans = sync.Pool{New: func() any { return make(chan writeResult, 1) }}

// run runs req's write, as write does.
func (s *Store) run(ctx context.Context, req *writeReq) error {
	if s.isClosed() {
		return errClosed
	}
	done := doneChans.Get().(chan writeResult)
	req.ctx, req.done = ctx, done
	select {
	case s.reqs <- req:
	case <-ctx.Done():
		doneChans.Put(done)
		return ctx.Err()
	case <-s.quit:
		doneChans.Put(done)
		return errClosed
	}
	// Once accepted, a write is always answered (within batchTimeout):
	// waiting for that rather than for ctx means a caller never returns
	// an error for a write that then commits.
	res := <-done
	doneChans.Put(done)
	if res.panicked {
		panic(res.panicVal)
	}
	return res.err
}

// runWriter runs the writes until quit is closed.
func (s *Store) runWriter() {
	defer close(s.writerDone)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case <-s.quit:
			return
		case req := <-s.reqs:
			batch = append(batch[:0], req)
			window := s.gather.Window(time.Now())
			for {
				req, ok := window.Next(s.reqs, len(batch))
				if !ok {
					break
				}
				batch = append(batch, req)
			}
			window.Stop()
			if d, ok := s.runBatch(batch); ok {
				s.gather.Committed(len(batch), d)
			}
			clear(batch)
		}
	}
}

// runBatch commits batch's writes in as few transactions as their
// failures allow, and answers every one. ok reports a commit, and d how
// long the last COMMIT took.
func (s *Store) runBatch(batch []*writeReq) (d time.Duration, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	// pending run in one transaction; rest wait for them to commit (see
	// the failures above).
	pending, rest := batch, []*writeReq(nil)
	for attempt := 0; ; {
		// A write whose caller gave up before it started is not started.
		pending = slices.DeleteFunc(pending, func(req *writeReq) bool {
			if err := req.ctx.Err(); err != nil {
				req.done <- writeResult{err: err}
				return true
			}
			return false
		})
		if len(pending) == 0 {
			if len(rest) == 0 {
				return d, ok
			}
			pending, rest = rest, nil
			continue
		}
		failed, took, err := s.tryBatch(ctx, pending)
		switch {
		case err == nil && failed < 0:
			for _, req := range pending {
				req.done <- writeResult{}
			}
			d, ok = took, true
			pending = nil // then rest, if any
		case err == nil && failed == 0:
			// pending[0] was answered; the rest run again.
			pending = pending[1:]
		case err == nil:
			// pending[failed] failed after earlier writes: they
			// commit first, then it runs first.
			rest = append(slices.Clone(pending[failed:]), rest...)
			pending = pending[:failed]
		case errors.Is(err, errRerun):
			// Again, with less from the row cache: each rerun
			// takes a write, or the whole batch, off it.
		case retryable(err) && attempt < maxAttempts-1:
			attempt++
			select {
			case <-time.After(time.Duration(attempt) * 5 * time.Millisecond):
			case <-ctx.Done():
			}
		default:
			for _, req := range append(pending, rest...) {
				req.done <- writeResult{err: noSpace(err)}
			}
			return d, ok
		}
	}
}

// tryBatch runs pending's writes in one transaction. It returns failed < 0
// and err nil once they committed (d: how long the COMMIT took); failed >= 0
// (err nil) when that write's function failed and the transaction was
// rolled back, the write answered only when it was the first (failed 0:
// see the failures above); or the error that stopped the whole
// transaction.
//
// Round trips: BEGIN and the counter lock go with the first write's first
// statement, and the batch's own statements (the counter, NOTIFY) with
// the last write's deferred ones and COMMIT, so a batch of n writes that
// each read once costs n+1 round trips.
func (s *Store) tryBatch(ctx context.Context, pending []*writeReq) (failed int, d time.Duration, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return -1, 0, err
	}
	t := s.resetTx(ctx, conn.Conn(), pending)
	var rows *rowCache
	var expectRev, expectIAM any // NULL: no check
	if s.rows.use() {
		// Revisions follow the counter as this replica left it;
		// lockCounter checks that it still reads so.
		rows, t.guarded, t.locked = &s.rows, true, true
		t.base, t.iam = s.rows.rev, s.rows.iam
		expectRev, expectIAM = s.rows.rev, s.rows.iam
	}
	// Roll back on every way out but a commit: an open transaction would
	// keep the counter locked, stopping every writer on every replica.
	// A connection left in a transaction (the ROLLBACK failed: the
	// connection is broken, and the server rolls back when it closes) is
	// destroyed by Release rather than returned to the pool.
	defer func() {
		if !t.committed {
			_, _ = t.conn.Exec(ctx, "ROLLBACK")
		}
		conn.Release()
	}()
	t.later("BEGIN ISOLATION LEVEL READ COMMITTED")
	t.laterRead(func(br pgx.BatchResults) error {
		if err := br.QueryRow().Scan(&t.base, &t.iam); err != nil {
			if code, _ := pgCode(err); code == codeDivisionByZero && t.guarded {
				t.stale = true
			}
			return fmt.Errorf("locking the revision counter: %w", err)
		}
		t.locked = true
		return nil
	}, lockCounter, expectRev, expectIAM)
	if t.prefetch(pending, rows) {
		if err := t.flush(); err != nil {
			if t.deferErr != nil {
				return s.failDeferred(t, pending)
			}
			return -1, 0, err
		}
	}
	for i, req := range pending {
		t.cur = i
		res := call(t, req.fn)
		if t.deferErr != nil && t.deferOwner != i {
			// An earlier write's deferred statement, or the batch's
			// own, failed (and so did this one's, in the aborted
			// transaction).
			return s.failDeferred(t, pending)
		}
		if res.err == nil && !res.panicked {
			continue
		}
		if req.pre != nil && req.pre.hit {
			// Its function saw the cached row, which the
			// transaction has not confirmed yet.
			req.noCache = true
			return -1, 0, errRerun
		}
		if !res.panicked && retryable(res.err) {
			return -1, 0, res.err // the database's conflict, not the write's
		}
		if i > 0 {
			return i, 0, nil // run again once the writes before it committed
		}
		res.err = noSpace(res.err)
		req.done <- res
		return 0, 0, nil
	}
	// Reserving a revision read the counter (revisions). A batch that
	// reserved none sends BEGIN and the lock with its COMMIT.
	t.cur = batchOwn
	if t.used > 0 {
		last := t.base + t.used
		// The notification is delivered to listeners at commit, in
		// commit order, with the revisions it brings (see
		// notification); it goes in the counter's statement, one
		// statement fewer a batch.
		if s.notifications {
			t.later(advanceNotifying, last, s.channel, notification(last, t.iam))
		} else {
			t.later(advance, last)
		}
	}
	t.laterRead(func(br pgx.BatchResults) error {
		ct, err := br.Exec()
		if err == nil && ct.String() == "ROLLBACK" {
			err = pgx.ErrTxCommitRollback
		}
		if err != nil {
			return fmt.Errorf("committing: %w", err)
		}
		t.committed = true
		return nil
	}, "COMMIT")
	if t.used > 0 {
		// Its notification may reach the listener before this
		// goroutine reads COMMIT's answer (see listenLoop).
		s.committing.Store(t.base + t.used)
	}
	t0 := time.Now()
	if err := t.flush(); err != nil {
		if t.used > 0 {
			// Not committed, or not known to be: the listener may
			// have taken another replica's notification of the same
			// revision for this one's, so readers reread the feed.
			// (Before the ROLLBACK: while this transaction holds the
			// counter lock, no other commit takes the revision.)
			s.committing.Store(0)
			s.log.Elsewhere(0)
			s.notifyLocal()
		}
		if t.deferErr != nil {
			return s.failDeferred(t, pending)
		}
		return -1, 0, err
	}
	if !t.committed { // cannot happen: flush read COMMIT's result or failed
		return -1, 0, errors.New("committing: no answer to COMMIT")
	}
	d = time.Since(t0)
	if t.used > 0 {
		// Under the counter lock, this transaction's revisions and
		// IAM revision were the newest committed. The log learns them
		// before the writes return and before watchers are signalled.
		s.log.Committed(storecore.Commit{After: t.base, Through: t.base + t.used, IAMRevision: t.iam, Changes: t.changes, Partial: t.partial})
		s.known.learn(t.base+t.used, t.iam)
		s.signalled(t.base + t.used)
		s.committing.Store(0) // after signalled: localRev covers it
	}
	s.rows.committed(t)
	return -1, d, nil
}

// resetTx readies the writer's wtx for a transaction of pending's writes
// on conn, keeping the arrays of the last one (the log copies the changes).
func (s *Store) resetTx(ctx context.Context, conn *pgx.Conn, pending []*writeReq) *wtx {
	t := &s.tx
	changes, deferred := t.changes, t.deferred
	clear(changes) // drop the last transaction's associations
	clear(deferred)
	*t = wtx{conn: conn, ctx: ctx, n: len(pending), cur: batchOwn, changes: changes[:0], deferred: deferred[:0]}
	if cap(t.changes) < len(pending) {
		t.changes = make([]store.Change, 0, len(pending))
	}
	return t
}

// lockCounter locks and reads the revision counter, and fails the
// transaction (division by zero) unless it reads revision $1 and IAM
// revision $2, when they are not NULL (see Row cache). The row is locked
// before it is compared: a transaction that waited for the lock compares
// the version that transaction committed.
const lockCounter = `WITH c AS MATERIALIZED (SELECT revision, iam_revision FROM revision_counter WHERE id = 1 FOR UPDATE)
	SELECT revision, iam_revision FROM c WHERE 1 / (revision = $1 AND iam_revision = $2)::int IS DISTINCT FROM 0`

// errRerun is a batch's outcome when it is to run again at once with
// less from the row cache (see Row cache).
var errRerun = errors.New("rerun without the row cache")

// advance moves the revision counter to the batch's last revision ($1);
// advanceNotifying also notifies channel $2 with payload $3.
const (
	advance          = "UPDATE revision_counter SET revision = $1 WHERE id = 1"
	advanceNotifying = "WITH c AS (" + advance + ") SELECT pg_notify($2, $3)"
)

// prefetch queues the reads of pending's first writes that can go ahead
// (see Prefetching), or hands them their rows from rows (nil: none, see
// Row cache), and reports whether any read was queued.
func (t *wtx) prefetch(pending []*writeReq, rows *rowCache) bool {
	for _, req := range pending {
		if req.pre != nil {
			req.pre.sent, req.pre.noRows, req.pre.hit, req.pre.tokenFound = false, false, false, false
			req.pre.row = store.Association{}
		}
	}
	var read map[string]bool
	sent := false
	for i, req := range pending {
		p := req.pre
		if p == nil || slices.ContainsFunc(p.keys, func(k string) bool { return read[k] }) {
			break
		}
		if read == nil {
			read = make(map[string]bool)
		}
		for _, k := range p.keys {
			read[k] = true
		}
		if rows != nil && !req.noCache {
			if p.row, p.hit = rows.get(p.keys[0]); p.hit {
				if p.tokenSQL != "" {
					t.cur = i
					t.laterRead(func(br pgx.BatchResults) error {
						err := br.QueryRow().Scan(p.tokenDest...)
						p.tokenFound = err == nil
						if errNoRows(err) {
							err = nil
						}
						return err
					}, p.tokenSQL, p.tokenArgs...)
					sent = true
				}
				continue
			}
		}
		t.cur = i
		t.laterRead(func(br pgx.BatchResults) error {
			err := br.QueryRow().Scan(p.dest...)
			if errNoRows(err) {
				p.noRows, err = true, nil
			}
			return err
		}, p.sql, p.args...)
		p.sent, sent = true, true
	}
	t.cur = batchOwn
	return sent
}

// failDeferred reports the write whose deferred statement failed, and
// answers it when it was the transaction's first (as tryBatch does a
// function's failure), unless the failure is the database's conflict
// (retried as a whole).
func (s *Store) failDeferred(t *wtx, pending []*writeReq) (failed int, d time.Duration, err error) {
	switch {
	case t.stale:
		s.rows.stale()
		return -1, 0, errRerun
	case t.deferOwner >= 0 && pending[t.deferOwner].pre != nil && pending[t.deferOwner].pre.hit:
		// A hit's failure may come from what it did not read.
		pending[t.deferOwner].noCache = true
		return -1, 0, errRerun
	}
	if t.deferOwner == batchOwn || retryable(t.deferErr) {
		return -1, 0, t.deferErr
	}
	if t.deferOwner == 0 {
		pending[0].done <- writeResult{err: noSpace(t.deferErr)}
	}
	return t.deferOwner, 0, nil
}

// noSpace marks an error of a disk-full database with store.ErrNoSpace.
func noSpace(err error) error {
	if code, _ := pgCode(err); code == codeDiskFull {
		return fmt.Errorf("%w: %w", store.ErrNoSpace, err)
	}
	return err
}

// call runs fn, turning a panic into a result.
func call(t *wtx, fn func(*wtx) error) (res writeResult) {
	defer func() {
		if v := recover(); v != nil {
			res = writeResult{panicked: true, panicVal: v}
		}
	}()
	return writeResult{err: fn(t)}
}

// wtx is what a write function sees: the batch's transaction, which holds
// the revision counter lock, and the revisions reserved so far.
//
// Statements run on the batch's context, whichever context the function
// passes: in a transaction shared with other callers, one caller's
// cancellation must not abort the others' statements (pgx cancels a
// statement by interrupting the connection). A caller's context is checked
// before its write starts instead.
//
// Pipelining: a write function reads, then writes, and its writes (later)
// need no answer. They are sent with the next statement, usually the next
// write's first read, in one round trip, or with the batch's last
// statements and COMMIT; a failure among them is the write's that queued
// them (deferErr, deferOwner), or the batch's own (batchOwn: BEGIN, the
// counter lock, the counter's update, COMMIT). A statement the server
// refuses aborts the transaction, and the server skips the rest of the
// round trip, COMMIT included.
type wtx struct {
	conn *pgx.Conn // in a transaction once the first round trip went
	ctx  context.Context
	n    int   // the writes in the batch
	base int64 // the counter's value when the transaction locked it
	iam  int64 // the IAM revision: as locked, or as this transaction set it
	used int64 // revisions reserved by this transaction

	locked    bool // base was read: the transaction holds the counter lock
	committed bool // COMMIT succeeded
	// guarded: base and iam are the row cache's, which the counter lock
	// checks (lockCounter); stale: that check failed.
	guarded, stale bool

	// The batch's entries in the change feed (changed), for the log
	// (storecore.ChangeLog); partial: it made more (changedUnlisted).
	// A batch commits only if every write in it succeeded, so these are
	// all the committed writes'.
	changes []store.Change
	partial bool

	cur        int        // the write running now (its index in the batch), or batchOwn
	queued     pgx.Batch  // deferred statements not sent yet
	deferred   []deferred // what to do with each one's result
	deferErr   error      // the first failure of a deferred statement
	deferOwner int        // and the write that queued it
}

// changed notes a write's change to an association (a, or a deletion
// when a is nil) at revision rev: the change feed's entry for it, as
// ChangesSince reads it.
func (t *wtx) changed(rev int64, region, cluster, id string, a *store.Association) {
	c := store.Change{Revision: rev, Region: region, ClusterName: cluster, AssociationID: id, Deleted: a == nil}
	if a != nil {
		cp := *a
		cp.Tags = maps.Clone(a.Tags) // the caller keeps a
		c.Association = &cp
	}
	t.changes = append(t.changes, c)
}

// changedUnlisted notes that a write changed associations without listing
// the changes (changed): readers of the log read the feed instead.
func (t *wtx) changedUnlisted() { t.partial = true }

// batchOwn owns the batch's own deferred statements.
const batchOwn = -1

// deferred is a queued statement's owner and, for a statement whose
// result the batch reads, how (nil: its command tag is enough).
type deferred struct {
	owner int
	read  func(pgx.BatchResults) error
}

// revisions reserves n consecutive revisions and returns the first. The
// counter is read with the transaction's first statement; reserving before
// any was sent sends BEGIN and the lock now (a failure is the batch's, in
// deferErr).
func (t *wtx) revisions(n int) int64 {
	if !t.locked && t.deferErr == nil {
		_ = t.flush()
	}
	first := t.base + t.used + 1
	t.used += int64(n)
	return first
}

// later queues a statement whose outcome the write function does not read
// and that none of its later statements depends on: it is sent with the
// transaction's next statement (see Pipelining).
func (t *wtx) later(sql string, args ...any) {
	t.laterRead(nil, sql, args...)
}

// laterRead queues a statement whose result read reads when it arrives.
func (t *wtx) laterRead(read func(pgx.BatchResults) error, sql string, args ...any) {
	if t.queued.QueuedQueries == nil {
		// A round trip of a batch of n prefetching writes sends n+2
		// statements (Round trips above): one array, not a doubling.
		t.queued.QueuedQueries = make([]*pgx.QueuedQuery, 0, t.n+2)
	}
	t.queued.Queue(sql, args...)
	t.deferred = append(t.deferred, deferred{owner: t.cur, read: read})
}

// send sends the deferred statements, then sql (if not ""), in one round
// trip, and reads the deferred ones' results; the caller reads sql's and
// closes the results.
func (t *wtx) send(sql string, args ...any) pgx.BatchResults {
	b, ds := t.queued, t.deferred
	t.queued, t.deferred = pgx.Batch{}, nil
	if sql != "" {
		b.Queue(sql, args...)
	}
	br := t.conn.SendBatch(t.ctx, &b)
	for _, d := range ds {
		var err error
		if d.read != nil {
			err = d.read(br)
		} else {
			_, err = br.Exec()
		}
		if err != nil && t.deferErr == nil {
			t.deferErr, t.deferOwner = err, d.owner
		}
	}
	if t.deferred == nil { // no read queued more: ds is free again
		clear(ds)
		t.deferred = ds[:0]
	}
	return br
}

// flush sends the deferred statements.
func (t *wtx) flush() error {
	if t.queued.Len() == 0 {
		return t.deferErr
	}
	if err := t.send("").Close(); err != nil && t.deferErr == nil {
		return err
	}
	return t.deferErr
}

func (t *wtx) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.queued.Len() == 0 {
		return t.conn.Exec(t.ctx, sql, args...)
	}
	br := t.send(sql, args...)
	ct, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return ct, err
}

func (t *wtx) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	if t.queued.Len() == 0 {
		return t.conn.QueryRow(t.ctx, sql, args...)
	}
	return pipelinedRow{t.send(sql, args...)}
}

func (t *wtx) Query(_ context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := t.flush(); err != nil {
		return nil, err
	}
	return t.conn.Query(t.ctx, sql, args...)
}

// pipelinedRow is a row read after deferred statements.
type pipelinedRow struct{ br pgx.BatchResults }

func (r pipelinedRow) Scan(dest ...any) error {
	err := r.br.QueryRow().Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}
