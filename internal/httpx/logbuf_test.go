package httpx_test

import (
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/proctest"
)

// TestLogBuffer: info lines are written in batches, warnings at once, and
// Close writes every line gathered; concurrent lines never interleave.
func TestLogBuffer(t *testing.T) {
	out := proctest.NewSignalWriter("msg=later")
	logger, logs := httpx.NewLogger(out, slog.LevelInfo)

	logger.Warn("at once", "n", 1)
	if got := out.String(); !strings.Contains(got, "level=WARN msg=\"at once\" n=1\n") {
		t.Errorf("after a warning the output is %q, want the warning", got)
	}
	logger.Info("later")
	proctest.WaitFor(t, out.Seen(), "an info line to be flushed") // logFlushInterval

	var wg sync.WaitGroup
	const goroutines, lines = 8, 500
	for g := range goroutines {
		wg.Go(func() {
			for i := range lines {
				logger.Info("request", "g", g, "i", i, "pad", strings.Repeat("x", i%97))
			}
		})
	}
	wg.Wait()
	logs.Close()
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != 2+goroutines*lines {
		t.Fatalf("%d lines written, want %d", len(got), 2+goroutines*lines)
	}
	line := regexp.MustCompile(`^time=\S+ level=(INFO|WARN) msg=(request g=\d i=\d+ pad=(x+|"")|later|"at once" n=1)$`)
	for _, l := range got {
		if !line.MatchString(l) {
			t.Fatalf("malformed line %q", l)
		}
	}
	logger.Info("after close")
	if !strings.HasSuffix(out.String(), "msg=\"after close\"\n") {
		t.Error("a line logged after Close was not written at once")
	}
}
