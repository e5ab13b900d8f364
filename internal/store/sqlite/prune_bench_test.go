package sqlite

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// seedTrail stores n events straight into audit_events in one write (no
// keys: pruning's reads of the trail walk audit_events_time), event i with
// seq i+1, a UUIDv7-sized ID and time i+1 µs after the epoch; last, when
// not 0, is the newest event's seq instead (a gap in the seqs below it).
func seedTrail(tb testing.TB, s *Store, n int, last int64) {
	tb.Helper()
	err := s.w.do(context.Background(), func(tx *wtx) error {
		_, err := tx.exec(`WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ? - 1)
INSERT INTO audit_events (seq, event_id, time_us, name, source, read_only, username, access_key_id, resources, record)
SELECT CASE WHEN ? > 0 AND i = ? - 1 THEN ? ELSE i + 1 END, printf('0190a000-0000-7000-8000-%012d', i), i + 1,
	'UpdatePodIdentityAssociation', 'eks.amazonaws.com', 0, 'podid-admin', 'AKIAEXAMPLE', '[]', '{}' FROM c`, n, last, n, last)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkPruneEventsAtCap times PruneEvents with keep = 1,000,000 over a
// trail of a million events and nothing to delete: "contiguous" (seqs 1 to
// 1,000,000, a cheap count bound within keep) and "gap" (the newest
// event's seq 2,000,000, so only the walk to the keep+1'th newest tells).
// While each prune runs, another goroutine makes empty writes one after
// another; max-write-us is the longest of those writes (the writer held
// behind the prune), writes the number made.
//
//	go test -run '^$' -bench PruneEventsAtCap -benchtime 10x ./internal/store/sqlite/
func BenchmarkPruneEventsAtCap(b *testing.B) {
	const n = 1_000_000
	for _, c := range []struct {
		name string
		last int64
	}{{"contiguous", 0}, {"gap", 2 * n}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			s, err := open(ctx, filepath.Join(b.TempDir(), "podid.db"), time.Now)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			seedTrail(b, s, n, c.last)
			if _, err := s.PruneEvents(ctx, time.UnixMicro(0), n); err != nil { // warm the cache
				b.Fatal(err)
			}
			var maxWrite time.Duration
			writes := 0
			b.ResetTimer()
			for b.Loop() {
				done := make(chan struct{})
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 1_000_000; i++ { // bounded
						select {
						case <-done:
							return
						default:
						}
						start := time.Now()
						if err := s.w.do(ctx, func(*wtx) error { return nil }); err != nil {
							b.Error(err)
							return
						}
						maxWrite = max(maxWrite, time.Since(start))
						writes++
					}
				}()
				got, err := s.PruneEvents(ctx, time.UnixMicro(0), n)
				close(done)
				wg.Wait()
				if err != nil || got != 0 {
					b.Fatalf("PruneEvents = %d, %v; want 0", got, err)
				}
			}
			b.ReportMetric(float64(maxWrite.Microseconds()), "max-write-us")
			b.ReportMetric(float64(writes)/float64(b.N), "writes/op")
		})
	}
}
