package audit_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podid/podid/internal/audit"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
)

// gatedAudit is a SQLite audit store that reports the size of every
// append on appended, and, when gate is not nil, says on entered that an
// append began and holds it until gate is closed.
type gatedAudit struct {
	store.Audit
	gate, entered chan struct{}
	appended      chan int
}

func (g *gatedAudit) AppendEvents(ctx context.Context, events []store.Event) error {
	if g.gate != nil {
		select {
		case g.entered <- struct{}{}:
		default:
		}
		<-g.gate
	}
	err := g.Audit.AppendEvents(ctx, events)
	g.appended <- len(events)
	return err
}

// recordingHost is a host whose one write operation the Recorder made
// from cfg records (cfg.Store is g, on a fresh SQLite database), and a
// function serving one request through it.
func recordingHost(t *testing.T, g *gatedAudit, cfg audit.Config) (*audit.Recorder, func()) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g.Audit = st
	cfg.Store, cfg.Region, cfg.AccountID = g, "us-east-1", "000000000000"
	cfg.ClusterARN = func(r, n string) string { return "arn:aws:eks:" + r + ":000000000000:cluster/" + n }
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	rec := audit.New(cfg)
	rec.Start()
	t.Cleanup(rec.Close)
	host := httpx.New(httpx.Config{Logger: cfg.Logger, Observer: rec})
	if err := host.Handle("POST /clusters/{name}/things", httpx.EKS, "CreateThing", func(w http.ResponseWriter, r *http.Request) error {
		return httpx.WriteJSON(w, map[string]any{"ok": true})
	}); err != nil {
		t.Fatal(err)
	}
	return rec, func() {
		w := httptest.NewRecorder()
		host.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/clusters/dev/things", strings.NewReader(`{}`)))
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// nextAppend is the size of the store's next append, within 10 seconds.
func nextAppend(t *testing.T, g *gatedAudit) int {
	t.Helper()
	select {
	case n := <-g.appended:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no append within 10s")
		return 0
	}
}

// TestQueueBatches: a batch's worth of events is appended at once, without
// waiting for the flush interval; fewer wait for it, or for Flush.
func TestQueueBatches(t *testing.T) {
	g := &gatedAudit{appended: make(chan int, 16)}
	rec, serve := recordingHost(t, g, audit.Config{BatchSize: 4, FlushInterval: time.Hour})
	for range 4 {
		serve()
	}
	if n := nextAppend(t, g); n != 4 {
		t.Errorf("first append: %d events, want the batch of 4", n)
	}
	serve()
	rec.Flush(t.Context())
	if n := nextAppend(t, g); n != 1 {
		t.Errorf("append of Flush: %d events, want 1", n)
	}
	if s := rec.Stats(); s != (audit.Stats{Stored: 5}) {
		t.Errorf("stats %+v, want 5 stored", s)
	}
}

// TestQueueFlushInterval: a lone event is appended FlushInterval after it
// was queued.
func TestQueueFlushInterval(t *testing.T) {
	g := &gatedAudit{appended: make(chan int, 16)}
	_, serve := recordingHost(t, g, audit.Config{BatchSize: 100, FlushInterval: 10 * time.Millisecond})
	for range 3 {
		serve()
		if n := nextAppend(t, g); n != 1 {
			t.Errorf("append: %d events, want 1", n)
		}
	}
}

// TestQueueFull: while the store holds an append, events fill the queue;
// one more waits MaxWait for room and is dropped.
func TestQueueFull(t *testing.T) {
	g := &gatedAudit{gate: make(chan struct{}), entered: make(chan struct{}, 1), appended: make(chan int, 16)}
	rec, serve := recordingHost(t, g, audit.Config{BatchSize: 1, QueueSize: 2, MaxWait: 20 * time.Millisecond, FlushInterval: time.Hour})
	fillQueue(t, g, serve)
	serve() // waits MaxWait, dropped
	close(g.gate)
	rec.Flush(t.Context())
	if s, want := rec.Stats(), (audit.Stats{Stored: 3, Dropped: 1}); s != want {
		t.Errorf("stats %+v, want %+v", s, want)
	}
}

// TestQueueRoom: a request waiting for room in a full queue gets its event
// queued once the store catches up.
func TestQueueRoom(t *testing.T) {
	g := &gatedAudit{gate: make(chan struct{}), entered: make(chan struct{}, 1), appended: make(chan int, 16)}
	rec, serve := recordingHost(t, g, audit.Config{BatchSize: 1, QueueSize: 2, MaxWait: time.Minute, FlushInterval: time.Hour})
	fillQueue(t, g, serve)
	done := make(chan struct{})
	go func() {
		defer close(done)
		serve() // waits for room
	}()
	close(g.gate)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting request was not let through within 10s")
	}
	rec.Flush(t.Context())
	if s, want := rec.Stats(), (audit.Stats{Stored: 4}); s != want {
		t.Errorf("stats %+v, want %+v", s, want)
	}
}

// fillQueue serves a request whose event the append loop takes and the
// gate holds, then two that fill a queue of 2.
func fillQueue(t *testing.T, g *gatedAudit, serve func()) {
	t.Helper()
	serve()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no append began within 10s")
	}
	serve()
	serve()
}

// TestQueueRecordsReused: the buffers of stored records are written again
// for later events (recordBuffers), and every stored record is still its
// own event's: requests served while an append is under way (held here)
// do not write into its records.
func TestQueueRecordsReused(t *testing.T) {
	g := &gatedAudit{gate: make(chan struct{}), entered: make(chan struct{}, 1), appended: make(chan int, 64)}
	rec, serve := recordingHost(t, g, audit.Config{BatchSize: 4, FlushInterval: time.Hour})
	for range 4 {
		serve()
	}
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no append began within 10s")
	}
	const events = 24
	for range events - 4 {
		serve()
	}
	close(g.gate)
	rec.Flush(t.Context())
	got, _, err := g.LookupEvents(t.Context(), store.EventQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != events {
		t.Fatalf("%d events stored, want %d", len(got), events)
	}
	for _, e := range got {
		var r struct {
			EventID, RequestID string
		}
		if err := json.Unmarshal(e.Record, &r); err != nil {
			t.Fatalf("event %s: record %q: %v", e.ID, e.Record, err)
		}
		if r.EventID != e.ID || r.RequestID != e.ID {
			t.Errorf("event %s has the record of event %s (request %s)", e.ID, r.EventID, r.RequestID)
		}
	}
}
