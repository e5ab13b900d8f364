package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
// join the same transaction (group commit), each after the first in its own
// savepoint so that one failing write rolls back alone, and all of them are
// acknowledged after the one COMMIT that makes them durable.
type writer struct {
	conn   *sql.Conn
	stmts  map[string]*sql.Stmt // used only by the writer goroutine
	reqs   chan *writeReq
	quit   chan struct{}
	done   chan struct{}
	notify func() // called after a commit that wrote something

	// The store-wide revision counter within the current transaction:
	// the first reservation reads and bumps meta.revision, later ones
	// count in memory, and one UPDATE before COMMIT stores the last
	// revision handed out (a batch of n writes costs two statements
	// instead of n). Used only by the writer goroutine.
	rev revCounter

	// gather decides how long a transaction waits for writes to join it.
	// Used only by the writer goroutine.
	gather storecore.Gatherer[*writeReq]

	commits, writes atomic.Int64 // for Stats
}

// revCounter is the transaction's view of meta.revision.
type revCounter struct {
	loaded bool  // reserved from meta in this transaction
	last   int64 // last revision handed out
	stored int64 // meta.revision as this transaction has written it
}

type writeReq struct {
	ctx  context.Context
	fn   func(*wtx) error
	done chan writeResult
}

type writeResult struct {
	err      error
	panicked bool
	panicVal any
}

func newWriter(ctx context.Context, db *sql.DB, notify func()) (*writer, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &writer{
		conn:   conn,
		stmts:  make(map[string]*sql.Stmt),
		reqs:   make(chan *writeReq),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		notify: notify,
		gather: storecore.Gatherer[*writeReq]{MaxBatch: maxBatch},
	}
	go w.run()
	return w, nil
}

// do runs fn in a write transaction and returns once that transaction has
// committed (nil) or fn's write was rolled back (fn's error, as is). A panic
// in fn is re-raised in the caller's goroutine.
func (w *writer) do(ctx context.Context, fn func(*wtx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1)}
	select {
	case w.reqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.quit:
		return errClosed
	}
	// Once accepted, the request always gets an answer, promptly: waiting
	// for it rather than for ctx means a caller never returns an error
	// for a write that then commits.
	res := <-req.done
	if res.panicked {
		panic(res.panicVal)
	}
	return noSpace(res.err)
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

// close stops the writer after the batch in progress.
func (w *writer) close() {
	close(w.quit)
	<-w.done
}

func (w *writer) closeStmts() {
	<-w.done
	for _, st := range w.stmts {
		st.Close()
	}
	w.stmts = nil
	w.conn.Close()
}

func (w *writer) run() {
	defer close(w.done)
	batch := make([]*writeReq, 0, maxBatch)
	results := make([]writeResult, 0, maxBatch)
	for {
		select {
		case <-w.quit:
			return
		case req := <-w.reqs:
			batch = append(batch[:0], req)
			results = w.runBatch(batch, results[:0])
			clear(batch)
		}
	}
}

// runBatch runs batch[0] and whatever else queues up meanwhile in one
// transaction, then answers every request.
func (w *writer) runBatch(batch []*writeReq, results []writeResult) []writeResult {
	w.rev = revCounter{}
	window := w.gather.Window(time.Now())
	defer window.Stop()
	if _, err := w.exec("BEGIN IMMEDIATE"); err != nil {
		w.answer(batch, results, fmt.Errorf("beginning transaction: %w", err))
		return results
	}
	for i := 0; ; i++ {
		if i == 0 {
			// The first write needs no savepoint of its own: if it
			// fails, rolling the whole transaction back undoes it
			// alone. The rest of the batch, if any, starts afresh.
			res := w.runFirst(batch[0])
			if res.err != nil || res.panicked {
				_, _ = w.exec("ROLLBACK")
				batch[0].done <- res
				if len(batch) == 1 {
					return results
				}
				return w.runBatch(batch[1:], results)
			}
			results = append(results, res)
		} else {
			res, broken := w.runOne(batch[i])
			results = append(results, res)
			if broken != nil {
				// The transaction can no longer be trusted: undo all
				// of it. Writes that had succeeded are reported failed.
				_, _ = w.exec("ROLLBACK")
				w.answer(batch, results, broken)
				return results
			}
		}
		if i+1 < len(batch) {
			continue
		}
		req, ok := window.Next(w.reqs, len(batch))
		if !ok {
			break
		}
		batch = append(batch, req)
	}
	if w.rev.loaded && w.rev.last != w.rev.stored {
		if _, err := w.exec("UPDATE meta SET revision = ? WHERE id = 1", w.rev.last); err != nil {
			_, _ = w.exec("ROLLBACK")
			w.answer(batch, results, fmt.Errorf("storing revision: %w", err))
			return results
		}
	}
	t0 := time.Now()
	if _, err := w.exec("COMMIT"); err != nil {
		_, _ = w.exec("ROLLBACK")
		w.answer(batch, results, fmt.Errorf("committing transaction: %w", err))
		return results
	}
	w.gather.Committed(len(batch), time.Since(t0))
	w.answer(batch, results, nil)
	w.commits.Add(1)
	w.writes.Add(int64(len(batch)))
	w.notify() // the first write at least succeeded
	return results
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
	if _, err := w.exec("RELEASE w"); err != nil {
		return res, fmt.Errorf("releasing savepoint: %w", err)
	}
	return res, nil
}

func (w *writer) call(req *writeReq) (res writeResult) {
	defer func() {
		if v := recover(); v != nil {
			res = writeResult{panicked: true, panicVal: v}
		}
	}()
	return writeResult{err: req.fn(&wtx{w: w})}
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

// exec runs a statement on the writer connection. Statements use a context
// that is never cancelled: the driver cancels by interrupting the whole
// connection, which must not reach another request's statements; a
// request's context is checked before it starts instead.
func (w *writer) exec(query string, args ...any) (sql.Result, error) {
	st, err := w.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(context.Background(), args...)
}

// wtx is what a write function sees: statements inside the current write
// transaction.
type wtx struct {
	w *writer
}

func (t *wtx) exec(query string, args ...any) (sql.Result, error) {
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
// order. The first reservation of a transaction reads and bumps
// meta.revision (another process may have written since our last commit);
// later ones count on in memory, and the writer stores the last revision
// handed out before COMMIT.
func (t *wtx) revisions(n int) (int64, error) {
	w := t.w
	if w.rev.loaded {
		first := w.rev.last + 1
		w.rev.last += int64(n)
		return first, nil
	}
	var last int64
	err := t.queryRow("UPDATE meta SET revision = revision + ? WHERE id = 1 RETURNING revision", n).Scan(&last)
	if err != nil {
		return 0, fmt.Errorf("assigning revision: %w", err)
	}
	w.rev = revCounter{loaded: true, last: last, stored: last}
	return last - int64(n) + 1, nil
}

// errNoRows reports whether err means a query found nothing.
func errNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
