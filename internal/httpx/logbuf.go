package httpx

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// NewLogger returns a text logger at level writing to w through a
// LogBuffer (close it when done, so a graceful shutdown loses no line).
func NewLogger(w io.Writer, level slog.Leveler) (*slog.Logger, *LogBuffer) {
	b := &LogBuffer{w: w}
	return slog.New(flushingHandler{newTextHandler(b, &slog.HandlerOptions{Level: level}), b}), b
}

// LogAttrs is l.LogAttrs without the caller's PC, for lines on the
// serving path: slog.Logger finds the PC for every line by walking the
// stack (runtime.Callers, a tenth of a line's cost), and podid's handlers
// never print it. A logger of NewLogger's writes the line without a
// slog.Record (textHandler.handleAttrs).
func LogAttrs(ctx context.Context, l *slog.Logger, level slog.Level, msg string, attrs ...slog.Attr) {
	logAttrsAt(ctx, l, level, time.Now(), msg, attrs...)
}

// logAttrsAt is LogAttrs of a line logged at now (the host's access line
// has read the clock for the request's duration already).
func logAttrsAt(ctx context.Context, l *slog.Logger, level slog.Level, now time.Time, msg string, attrs ...slog.Attr) {
	if !l.Enabled(ctx, level) {
		return
	}
	if h, ok := l.Handler().(flushingHandler); ok {
		if th, ok := h.Handler.(*textHandler); ok && th.handleAttrs(now, level, msg, attrs) {
			h.flushFor(level)
			return
		}
	}
	r := slog.NewRecord(now, level, msg, 0)
	r.AddAttrs(attrs...)
	_ = l.Handler().Handle(ctx, r) // nowhere to report a log write's failure
}

// Log output is batched: a request's log line is one write(2) of its own
// otherwise, a system call per request on the serving path.
const (
	logFlushBytes    = 32 << 10
	logFlushInterval = 100 * time.Millisecond
)

// LogBuffer collects log lines for w and writes them in batches: once
// logFlushBytes have gathered, logFlushInterval after the first line not yet
// written, on Flush, and at Close (so a graceful shutdown loses none).
// Records at Warn and above are written at once (flushingHandler). slog
// handlers write each record with one Write call, so lines never split.
type LogBuffer struct {
	mu        sync.Mutex
	w         io.Writer
	buf       []byte
	scheduled bool // a timed flush is pending
	closed    bool // after Close, writes go straight to w
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	b.buf = append(b.buf, p...)
	switch {
	case len(b.buf) >= logFlushBytes:
		b.flushLocked()
	case !b.scheduled:
		b.scheduled = true
		time.AfterFunc(logFlushInterval, func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.scheduled = false
			b.flushLocked()
		})
	}
	return len(p), nil
}

// Flush writes the lines gathered so far.
func (b *LogBuffer) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

// Close flushes; later lines are written unbuffered.
func (b *LogBuffer) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	b.closed = true
}

func (b *LogBuffer) flushLocked() {
	if len(b.buf) == 0 {
		return
	}
	// Nowhere to report a failed write of the log itself.
	_, _ = b.w.Write(b.buf)
	b.buf = b.buf[:0]
}

// flushingHandler writes records at Warn and above through at once.
type flushingHandler struct {
	slog.Handler
	logs *LogBuffer
}

func (h flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	h.flushFor(r.Level)
	return err
}

// flushFor writes the buffered lines through after a record at level,
// if it is Warn or above.
func (h flushingHandler) flushFor(level slog.Level) {
	if level >= slog.LevelWarn {
		h.logs.Flush()
	}
}

func (h flushingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushingHandler{h.Handler.WithAttrs(attrs), h.logs}
}

func (h flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{h.Handler.WithGroup(name), h.logs}
}
