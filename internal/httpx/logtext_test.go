package httpx

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"testing"
	"time"
)

// FuzzTextHandler holds textHandler to slog.TextHandler's bytes, for the
// records it writes itself and for those it passes on.
func FuzzTextHandler(f *testing.F) {
	f.Add("request", "path", "/clusters/dev/assume-role-for-pod-identity", int64(200), uint64(7), 1.5, true, int64(123456), int64(1796479445123456789), 3600, 0, false)
	f.Add("", "code", "", int64(-1), uint64(0), math.Inf(1), false, int64(0), int64(0), 0, 4, false)
	f.Add("a b", "k=v", "say \"hi\"\n\x00", int64(math.MinInt64), uint64(math.MaxUint64), math.NaN(), false, int64(-5), int64(-62135596800000000), -19800, -4, true)
	f.Add("ünï", "\u00a0", "\xff\ufffd\u2028x\\y", int64(1), uint64(1), 1e-300, true, int64(math.MaxInt64), int64(253402300799999999), 59, 8, false)
	f.Fuzz(func(t *testing.T, msg, key, s string, i int64, u uint64, fl float64, bl bool, d, unixNano int64, offset, level int, withErr bool) {
		when := time.Unix(0, unixNano).In(time.FixedZone("z", offset%(24*3600)))
		rec := slog.NewRecord(when, slog.Level(level), msg, 0)
		rec.AddAttrs(slog.String(key, s), slog.String("s", s), slog.Int64("i", i), slog.Uint64("u", u),
			slog.Float64("f", fl), slog.Bool("b", bl), slog.Duration("d", time.Duration(d)), slog.Time("t", when))
		if withErr {
			rec.AddAttrs(slog.Any("err", errors.New(s)))
		}
		if key == "" {
			rec.AddAttrs(slog.Group("g", slog.String("in", s)))
		}
		var got, want bytes.Buffer
		opts := &slog.HandlerOptions{Level: slog.Level(math.MinInt)}
		if err := newTextHandler(&got, opts).Handle(context.Background(), rec.Clone()); err != nil {
			t.Fatal(err)
		}
		if err := slog.NewTextHandler(&want, opts).Handle(context.Background(), rec.Clone()); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("textHandler wrote\n%q\nslog.TextHandler\n%q", got.String(), want.String())
		}
		// LogAttrs's way, without the record: the same line, or none.
		var attrs []slog.Attr
		rec.Attrs(func(a slog.Attr) bool {
			attrs = append(attrs, a)
			return true
		})
		var line bytes.Buffer
		wrote := newTextHandler(&line, opts).handleAttrs(when, slog.Level(level), msg, attrs)
		if wrote && line.String() != want.String() || !wrote && line.Len() > 0 {
			t.Errorf("textHandler.handleAttrs (%v) wrote\n%q\nslog.TextHandler\n%q", wrote, line.String(), want.String())
		}
	})
}

// BenchmarkAccessLogLine is the host's access-log line through the
// handler NewLogger uses (textHandler) and through slog.TextHandler.
func BenchmarkAccessLogLine(b *testing.B) {
	for name, h := range map[string]slog.Handler{
		"textHandler":      newTextHandler(discardWriter{}, nil),
		"slog.TextHandler": slog.NewTextHandler(discardWriter{}, nil),
	} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				rec := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
				rec.AddAttrs(slog.String("method", "POST"), slog.String("path", "/clusters/dev/assume-role-for-pod-identity"),
					slog.String("op", "AssumeRoleForPodIdentity"), slog.Int("status", 200), slog.String("code", ""),
					slog.Duration("duration", 123456*time.Nanosecond), slog.String("request_id", "0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b"))
				if err := h.Handle(ctx, rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// As the host writes it: LogAttrs through NewLogger's logger.
	b.Run("LogAttrs", func(b *testing.B) {
		l, logs := NewLogger(discardWriter{}, slog.LevelInfo)
		defer logs.Close()
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			LogAttrs(ctx, l, slog.LevelInfo, "request", slog.String("method", "POST"), slog.String("path", "/clusters/dev/assume-role-for-pod-identity"),
				slog.String("op", "AssumeRoleForPodIdentity"), slog.Int("status", 200), slog.String("code", ""),
				slog.Duration("duration", 123456*time.Nanosecond), slog.String("request_id", "0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b"))
		}
	})
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
