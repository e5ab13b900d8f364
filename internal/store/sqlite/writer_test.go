package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/podid/podid/internal/store/storecore"
)

// TestBackgroundWrites: doBackground runs each write on its own, returns
// the first failure once every write is answered, and the others commit.
func TestBackgroundWrites(t *testing.T) {
	ctx := t.Context()
	s := openWithClock(t, time.Now)
	insert := func(name string) func(*wtx) error {
		return func(tx *wtx) error {
			_, err := tx.exec("INSERT INTO secrets (name, value, created_at) VALUES (?, x'00', 0)", name)
			return err
		}
	}
	errFail := errors.New("refused")
	err := s.w.doBackground(ctx, []func(*wtx) error{insert("a"), func(*wtx) error { return errFail }, insert("b")})
	if err != errFail {
		t.Errorf("doBackground() = %v, want %v", err, errFail)
	}
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("recovered %v, want the write's panic", v)
			}
		}()
		_ = s.w.doBackground(ctx, []func(*wtx) error{func(*wtx) error { panic("boom") }, insert("c")})
	}()
	for _, name := range []string{"a", "b", "c"} {
		var n int
		if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM secrets WHERE name = ?", name).Scan(&n); err != nil || n != 1 {
			t.Errorf("secret %s: %d rows, %v; want 1", name, n, err)
		}
	}
}

// TestBackgroundWriteFillsTheSyncWait: while the last commit's sync is in
// flight, a transaction takes the foreground writes queued first, and then
// a background write; all of them commit together after that sync.
func TestBackgroundWriteFillsTheSyncWait(t *testing.T) {
	ctx := t.Context()
	s := openWithClock(t, time.Now)
	// A second writer on the same file, driven from this goroutine, whose
	// syncs wait for gate.
	w := testWriter(t, s, true)
	gate := make(chan struct{})
	w.wal.syncing = func() { <-gate }

	var ran []string
	write := func(name string, bg bool, then func()) *writeReq { return secretWrite(ctx, name, bg, &ran, then) }
	first := write("first", false, nil)
	w.runBatch(first) // committed; its sync waits for gate
	bg := write("bg", true, func() { close(gate) })
	w.bg <- bg
	c, d := write("c", false, nil), write("d", false, nil)
	w.reqs <- d
	w.runBatch(c)
	w.awaitSync()
	if want := []string{"first", "c", "d", "bg"}; !slices.Equal(ran, want) {
		t.Errorf("writes ran in the order %v, want %v", ran, want)
	}
	for _, req := range []*writeReq{first, c, d, bg} {
		if res := <-req.done; res.err != nil || res.panicked {
			t.Errorf("write %p: %+v", req, res)
		}
	}
	if c.job == first.job || d.job != c.job || bg.job != c.job {
		t.Errorf("transactions: first %p, c %p, d %p, bg %p; want c, d and bg in one after first's", first.job, c.job, d.job, bg.job)
	}
}

// testWriter starts a second writer on s's database file for a test to
// drive from its own goroutine (runBatch) while the store's writer is idle,
// and stops it when the test ends. With wal it syncs the -wal file as the
// store's writer does (a test may hook each sync: wal.syncing).
func testWriter(t *testing.T, s *Store, wal bool) *writer {
	t.Helper()
	ctx := t.Context()
	db, err := sql.Open("sqlite", dsn(s.path, false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := &writer{
		conn: conn, stmts: map[string]*sql.Stmt{}, notify: func() {}, log: &storecore.ChangeLog{},
		gather: storecore.Gatherer[*writeReq]{MaxBatch: maxBatch},
		reqs:   make(chan *writeReq, 8), bg: make(chan *writeReq, 8), done: make(chan struct{}),
		syncs: make(chan *syncJob, 1), syncsDone: make(chan struct{}),
	}
	if wal {
		if w.wal, err = openWALSync(ctx, conn, s.path, &w.ckptMu); err != nil || w.wal == nil {
			conn.Close()
			t.Fatalf("opening the -wal file for syncing: %v, %v", w.wal, err)
		}
	}
	go w.syncLoop()
	t.Cleanup(func() {
		close(w.syncs)
		<-w.syncsDone
		close(w.done)
		w.closeStmts()
	})
	return w
}

// TestBackgroundBatchWaitsForForeground: a transaction that holds only
// background writes takes the next background write and then a foreground
// one, and commits with it, rather than cost a sync of its own.
func TestBackgroundBatchWaitsForForeground(t *testing.T) {
	ctx := t.Context()
	s := openWithClock(t, time.Now)
	w := testWriter(t, s, false)
	fg := secretWrite(ctx, "fg", false, nil, nil)
	b1, b2 := secretWrite(ctx, "b1", true, nil, nil), secretWrite(ctx, "b2", true, nil, func() { w.reqs <- fg })
	w.bg <- b2
	w.runBatch(b1)
	for len(w.bg) > 0 || len(w.reqs) > 0 { // left for a transaction of their own
		select {
		case req := <-w.bg:
			w.runBatch(req)
		case req := <-w.reqs:
			w.runBatch(req)
		}
	}
	w.awaitSync()
	for _, req := range []*writeReq{b1, b2, fg} {
		if res := <-req.done; res.err != nil || res.panicked {
			t.Errorf("write %p: %+v", req, res)
		}
	}
	if b2.job != b1.job || fg.job != b1.job {
		t.Errorf("transactions: b1 %p, b2 %p, fg %p; want one", b1.job, b2.job, fg.job)
	}
}

// secretWrite is a write request that notes name in ran (if not nil), calls
// then (if not nil) and stores a secret named name.
func secretWrite(ctx context.Context, name string, bg bool, ran *[]string, then func()) *writeReq {
	return &writeReq{ctx: ctx, bg: bg, done: make(chan writeResult, 1), fn: func(tx *wtx) error {
		if ran != nil {
			*ran = append(*ran, name)
		}
		if then != nil {
			then()
		}
		_, err := tx.exec("INSERT INTO secrets (name, value, created_at) VALUES (?, x'00', 0)", name)
		return err
	}}
}

// TestWriteStageParts: a write whose transaction waits for the last
// commit's sync counts that wait as a part of its time before COMMIT, and
// the sync call as a part of its time from COMMIT to the answer.
func TestWriteStageParts(t *testing.T) {
	ctx := t.Context()
	s := openWithClock(t, time.Now)
	w := testWriter(t, s, true)
	gate := make(chan struct{})
	w.wal.syncing = func() { <-gate }

	write := func(name string, then func()) *writeReq {
		req := secretWrite(ctx, name, false, nil, then)
		req.start = time.Now()
		req.taken = req.start
		return req
	}
	first := write("first", nil)
	w.runBatch(first) // committed; its sync waits for gate
	second := write("second", func() { close(gate) })
	w.runBatch(second) // waits for first's sync, which second let go
	w.awaitSync()
	if res := w.result(first); res.err != nil || res.panicked {
		t.Errorf("first: %+v", res)
	}
	if res := w.result(second); res.err != nil || res.panicked {
		t.Errorf("second: %+v", res)
	}
	st := &w.stages
	batched, syncWait, gatherWait := st.batched.Load(), st.syncWait.Load(), st.gatherWait.Load()
	syncing, fdatasync := st.syncing.Load(), st.fdatasync.Load()
	if syncWait <= 0 || syncWait+gatherWait > batched {
		t.Errorf("before COMMIT %v: waited %v for the last sync and %v for more writes; want a wait for the sync, within the time before COMMIT",
			time.Duration(batched), time.Duration(syncWait), time.Duration(gatherWait))
	}
	if fdatasync <= 0 || fdatasync > syncing {
		t.Errorf("COMMIT to answer %v, of which the sync call %v; want the sync call within it", time.Duration(syncing), time.Duration(fdatasync))
	}
}
