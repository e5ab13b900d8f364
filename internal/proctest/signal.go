package proctest

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// SignalWriter is an io.Writer for a process's or logger's output that
// records everything written and closes Seen the first time the output
// contains the text it waits for. Safe for concurrent writes.
type SignalWriter struct {
	mu     sync.Mutex
	buf    strings.Builder
	want   string
	seen   chan struct{}
	closed bool
}

// NewSignalWriter returns a SignalWriter waiting for want.
func NewSignalWriter(want string) *SignalWriter {
	return &SignalWriter{want: want, seen: make(chan struct{})}
}

func (w *SignalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.closed && strings.Contains(w.buf.String(), w.want) {
		w.closed = true
		close(w.seen)
	}
	return len(p), nil
}

// Seen is closed once the output contains the awaited text.
func (w *SignalWriter) Seen() <-chan struct{} { return w.seen }

// String returns everything written so far.
func (w *SignalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// WaitFor fails the test if ch is not closed within 30 seconds; what names
// the awaited event in the message.
func WaitFor(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}
