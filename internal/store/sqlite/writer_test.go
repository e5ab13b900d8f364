package sqlite

import (
	"database/sql"
	"errors"
	"slices"
	"sync"
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
	// A second writer on the same file, driven from this goroutine (the
	// store's own is idle), whose syncs wait for gate.
	db, err := sql.Open("sqlite", dsn(s.path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	wal, err := openWALSync(ctx, conn, s.path, &mu)
	if err != nil || wal == nil {
		t.Fatalf("openWALSync: %v, %v", wal, err)
	}
	gate := make(chan struct{})
	wal.syncing = func() { <-gate }
	w := &writer{
		conn: conn, stmts: map[string]*sql.Stmt{}, notify: func() {}, log: &storecore.ChangeLog{}, wal: wal,
		gather: storecore.Gatherer[*writeReq]{MaxBatch: maxBatch},
		reqs:   make(chan *writeReq, 8), bg: make(chan *writeReq, 8),
		syncs: make(chan *syncJob, 1), syncsDone: make(chan struct{}),
	}
	go w.syncLoop()
	defer func() {
		close(w.syncs)
		<-w.syncsDone
		for _, st := range w.stmts {
			st.Close()
		}
		conn.Close()
		wal.close()
	}()

	var ran []string
	write := func(name string, bg bool, then func()) *writeReq {
		return &writeReq{ctx: ctx, bg: bg, done: make(chan writeResult, 1), fn: func(tx *wtx) error {
			ran = append(ran, name)
			if then != nil {
				then()
			}
			_, err := tx.exec("INSERT INTO secrets (name, value, created_at) VALUES (?, x'00', 0)", name)
			return err
		}}
	}
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
