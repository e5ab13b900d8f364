package sqlite

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podid/podid/internal/store"
)

// BenchmarkCreateAtScale creates associations as podid bench --scale times
// them (issue 4: Create at 1M associations at least 0.8 of Create at the
// start): at the start, into the first cluster of an empty store; at 1M,
// the last 1,000 of 200 x 5,000 into the last cluster of a store seeded
// with the rest (random IDs, one cluster after another), each with a
// client request token as the SDK sends one, from 8 writers at once as
// the bench's workers. Per Create: the process's CPU, read system calls
// (SQLite page-cache misses) and bytes written (WAL frames); writer: the
// store alone; feed: with the change feed read after every commit signal,
// as podid serve's association cache reads it (at most once per 5 ms
// there, so this is its upper bound).
//
//	go test -run '^$' -bench CreateAtScale -benchtime 1000x ./internal/store/sqlite
func BenchmarkCreateAtScale(b *testing.B) {
	const edge = 1000
	parent := b
	for _, size := range []struct {
		name          string
		clusters, per int
	}{{"start", 1, 5000}, {"1M", 200, 5000}} {
		// One store for the size, seeded once (and closed with the
		// parent) for both runs: testing also runs each with b.N = 1
		// before the timed run.
		var s *Store
		var n atomic.Int64
		seeded := size.clusters*size.per - edge
		if size.clusters == 1 {
			seeded = 0
		}
		for _, feed := range []bool{false, true} {
			name := size.name + "/writer"
			if feed {
				name = size.name + "/feed"
			}
			b.Run(name, func(b *testing.B) {
				if s == nil {
					s = seedListStore(parent, size.clusters, size.per, seeded)
				}
				ctx := context.Background()
				cluster := fmt.Sprintf("scale-%03d", size.clusters-1)
				first := seeded % size.per
				stopFeed := func() {}
				if feed {
					stopFeed = followFeed(b, s)
				}
				cpu0, reads0, written0, stats0 := processCPU(), readSyscalls(), procIO("wchar"), s.Stats()
				b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0))) // the bench's 8 workers
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						k := first + int(n.Add(1)-1)
						token := rand.Text()
						now := time.Now()
						_, err := s.CreateAssociation(ctx, store.Association{
							Region: listRegion, ID: "a-" + rand.Text()[:17], ClusterName: cluster,
							Namespace: "scale", ServiceAccount: fmt.Sprintf("sa-%d", k),
							RoleARN: "arn:aws:iam::000000000000:role/bench-a", CreatedAt: now, ModifiedAt: now,
						}, store.WriteOptions{Idempotency: &store.Idempotency{
							Key:  "CreatePodIdentityAssociation/" + listRegion + "/" + cluster + "/" + token,
							Hash: token + token,
						}})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
				stopFeed()
				b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
				b.ReportMetric(float64(readSyscalls()-reads0)/float64(b.N), "reads/op")
				b.ReportMetric(float64(procIO("wchar")-written0)/float64(b.N), "written-B/op")
				if st := s.Stats(); st.Commits > stats0.Commits {
					b.ReportMetric(float64(st.Writes-stats0.Writes)/float64(st.Commits-stats0.Commits), "writes/commit")
				}
			})
		}
	}
}

// followFeed reads the change feed after every commit signal, as podid
// serve's association cache does, until the returned function is called
// (which waits for the last read).
func followFeed(b *testing.B, s *Store) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	watch, err := s.Watch(ctx)
	if err != nil {
		b.Fatal(err)
	}
	after, err := s.Revision(ctx)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range watch {
			if _, err := s.Revision(ctx); err != nil {
				return
			}
			changes, err := s.ChangesSince(ctx, after, 500)
			if err != nil {
				return
			}
			if len(changes) > 0 {
				after = changes[len(changes)-1].Revision
			}
		}
	}()
	return func() { cancel(); <-done }
}
