package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/podid/podid/internal/store/sqlite"
	"github.com/podid/podid/internal/store/storetest"
)

// BenchmarkAppendEventsAt appends batches of 50 Update-shaped events to a
// trail holding none and (with PODID_AUDIT_SCALE=1) a million events
// already, reporting the process's CPU and bytes written (the WAL) per
// event:
//
//	PODID_AUDIT_SCALE=1 go test -run '^$' -bench AppendEventsAt -benchtime 20000x ./internal/store/sqlite/
func BenchmarkAppendEventsAt(b *testing.B) {
	record := storetest.EventRecord()
	for _, existing := range []int{0, 1_000_000} {
		b.Run(fmt.Sprint(existing), func(b *testing.B) {
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "podid.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			storetest.SeedEvents(ctx, b, st, existing, record)
			const batch = 50
			var ru0 syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			w0 := sqlite.ProcIO("wchar")
			n := 0
			b.ResetTimer()
			for b.Loop() {
				if err := st.AppendEvents(ctx, storetest.UpdateEvents(batch, existing+n, record)); err != nil {
					b.Fatal(err)
				}
				n += batch
			}
			var ru1 syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
			b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-us/event")
			b.ReportMetric(float64(sqlite.ProcIO("wchar")-w0)/float64(n), "wbytes/event")
		})
	}
}

// BenchmarkLookupEventsAt is storetest.BenchLookupEventsAt on SQLite: the
// newest page of 50 by a rare resource name, by a resource type every
// event has, and with no attribute, from a trail of 100,000 events (a
// million with PODID_AUDIT_SCALE=1).
func BenchmarkLookupEventsAt(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "podid.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	storetest.BenchLookupEventsAt(b, st, nil)
}
