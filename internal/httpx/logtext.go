package httpx

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// textHandler writes what slog.TextHandler writes, byte for byte, for the
// records it knows: attributes of the kinds string, integer, float, bool,
// duration and time, none with an empty key. It appends them to a pooled
// buffer in one pass, without slog's per-record handler state (the access
// log line cost a quarter of the host's own time per request through
// slog.TextHandler). Any other record (an error, a group, a LogValuer), and
// every handler WithAttrs or WithGroup derive, goes to slog.TextHandler on
// the same writer. FuzzTextHandler holds the two to the same bytes.
type textHandler struct {
	w    io.Writer // whole lines, one Write each (a LogBuffer serializes them)
	text slog.Handler
}

func newTextHandler(w io.Writer, opts *slog.HandlerOptions) *textHandler {
	return &textHandler{w: w, text: slog.NewTextHandler(w, opts)}
}

func (h *textHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.text.Enabled(ctx, l)
}

func (h *textHandler) WithAttrs(attrs []slog.Attr) slog.Handler { return h.text.WithAttrs(attrs) }
func (h *textHandler) WithGroup(name string) slog.Handler       { return h.text.WithGroup(name) }

// lineBuffers hold lines being formatted; a buffer that grew past
// maxPooledLine is left to the collector.
var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooledLine = 16 << 10

func (h *textHandler) Handle(ctx context.Context, r slog.Record) error {
	bp := lineBuffers.Get().(*[]byte)
	line, ok := appendTextRecord((*bp)[:0], r)
	var err error
	if ok {
		_, err = h.w.Write(line)
	} else {
		err = h.text.Handle(ctx, r)
	}
	putLine(bp, line)
	return err
}

// handleAttrs writes the line of the record slog.NewRecord(t, level, msg,
// 0) with attrs added, as Handle would, if it can without slog (else it
// writes nothing and reports false): LogAttrs's lines skip the record,
// which allocates for more than five attributes.
func (h *textHandler) handleAttrs(t time.Time, level slog.Level, msg string, attrs []slog.Attr) bool {
	bp := lineBuffers.Get().(*[]byte)
	line, ok := appendTextLine((*bp)[:0], t, level, msg, attrs)
	if ok {
		_, _ = h.w.Write(line) // nowhere to report a log write's failure
	}
	putLine(bp, line)
	return ok
}

// putLine gives a line's buffer back to lineBuffers, unless it grew past
// maxPooledLine.
func putLine(bp *[]byte, line []byte) {
	if cap(line) <= maxPooledLine {
		*bp = line[:0]
		lineBuffers.Put(bp)
	}
}

// appendTextRecord appends r's line as slog.TextHandler (no options but
// the level) writes it, or reports false for a record it leaves to it.
func appendTextRecord(b []byte, r slog.Record) ([]byte, bool) {
	b = appendTextHead(b, r.Time, r.Level, r.Message)
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		b, ok = appendTextAttr(b, a)
		return ok
	})
	return append(b, '\n'), ok
}

// appendTextLine is appendTextRecord of the record slog.NewRecord(t,
// level, msg, 0) with attrs added.
func appendTextLine(b []byte, t time.Time, level slog.Level, msg string, attrs []slog.Attr) ([]byte, bool) {
	b = appendTextHead(b, t, level, msg)
	for _, a := range attrs {
		var ok bool
		if b, ok = appendTextAttr(b, a); !ok {
			return b, false
		}
	}
	return append(b, '\n'), true
}

// appendTextHead appends a line's time, level and message.
func appendTextHead(b []byte, t time.Time, level slog.Level, msg string) []byte {
	if !t.IsZero() {
		b = append(b, "time="...)
		b = appendRFC3339Millis(b, t.Round(0))
		b = append(b, ' ')
	}
	b = append(b, "level="...)
	b = appendTextString(b, level.String())
	b = append(b, " msg="...)
	return appendTextString(b, msg)
}

// appendTextAttr appends a's " key=value", or reports false for an
// attribute it leaves to slog.TextHandler (an empty key, a kind it does
// not write).
func appendTextAttr(b []byte, a slog.Attr) ([]byte, bool) {
	if a.Key == "" {
		return b, false
	}
	b = append(b, ' ')
	b = appendTextString(b, a.Key)
	b = append(b, '=')
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		b = appendTextString(b, v.String())
	case slog.KindInt64:
		b = strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		b = strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		b = strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		b = strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		b = append(b, v.Duration().String()...)
	case slog.KindTime:
		b = appendRFC3339Millis(b, v.Time())
	default:
		return b, false
	}
	return b, true
}

// appendRFC3339Millis is slog's time format: RFC 3339 with exactly three
// digits of milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	// RFC3339Nano trims trailing zeros: a tenth of a millisecond more
	// keeps four digits, and the fourth is dropped.
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}

// appendTextString appends s, quoted as strconv.Quote does when
// slog.TextHandler would quote it.
func appendTextString(b []byte, s string) []byte {
	if textNeedsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

// textNeedsQuoting is slog.TextHandler's rule: an empty string, a space,
// '=', '"', an ASCII control character, invalid UTF-8 or U+FFFD, or a
// non-ASCII space or unprintable character.
func textNeedsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}
