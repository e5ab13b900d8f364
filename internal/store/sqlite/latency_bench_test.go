package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/podid/podid/internal/store"
)

// BenchmarkUpdateLatency runs podid bench's Update shape in process as a
// closed loop: 8 writers, each updating its own association (with a fresh
// client request token) and then away for thinkTime (its answer's way
// back to the client and the next request's way in), while an append loop
// stores an audit event per Update in batches every 50 ms, as the
// recorder does. It reports the mean, p50 and p99 of an Update's time in
// the store and writes per commit: the write path's latency, without the
// HTTP and client CPU that podid bench adds around it.
//
//	go test -run '^$' -bench UpdateLatency -benchtime 20000x ./internal/store/sqlite
func BenchmarkUpdateLatency(b *testing.B) {
	const writers, thinkTime = 8, time.Millisecond
	ctx := context.Background()
	s, err := open(ctx, filepath.Join(b.TempDir(), "podid.db"), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	region, cluster := "us-east-1", "bench"
	if _, err := s.CreateCluster(ctx, store.Cluster{Region: region, Name: cluster}, store.WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 200)
	for i := range ids {
		a := store.Association{
			Region: region, ClusterName: cluster, ID: fmt.Sprintf("a-%017d", i),
			Namespace: "bench", ServiceAccount: fmt.Sprint("sa-", i), RoleARN: "arn:aws:iam::000000000000:role/bench-a",
			OwnerARN: "arn:aws:iam::000000000000:root", CreatedAt: time.Now(), ModifiedAt: time.Now(), Tags: map[string]string{},
		}
		if _, err := s.CreateAssociation(ctx, a, walBenchToken("CreatePodIdentityAssociation", region, cluster)); err != nil {
			b.Fatal(err)
		}
		ids[i] = a.ID
	}
	record := walBenchRecord()
	events, appended := recorderLoop(b, s)

	per := b.N/writers + 1
	lat := make([][]time.Duration, writers)
	stats := s.Stats()
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				start := time.Now()
				_, err := s.UpdateAssociation(ctx, region, cluster, ids[w], func(a *store.Association) error {
					a.RoleARN = fmt.Sprint("arn:aws:iam::000000000000:role/bench-", "ab"[i%2:i%2+1])
					a.ModifiedAt = time.Now()
					return nil
				}, walBenchToken("UpdatePodIdentityAssociation", region, cluster))
				if err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(start))
				events <- walBenchEvent(region, cluster, ids[w], record)
				time.Sleep(thinkTime)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(events)
	<-appended
	all := slices.Concat(lat...)
	slices.Sort(all)
	var sum time.Duration
	for _, d := range all {
		sum += d
	}
	after := s.Stats()
	b.ReportMetric(float64(sum.Microseconds())/float64(len(all)), "mean-us")
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-us")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-us")
	b.ReportMetric(float64(after.Writes-stats.Writes)/float64(after.Commits-stats.Commits), "writes/commit")
}

// recorderLoop appends the events sent on events as the audit recorder
// does: a batch once 256 are waiting, or at each 50 ms tick. Close events
// and wait for appended to have the rest appended.
func recorderLoop(b *testing.B, s *Store) (events chan<- store.Event, appended <-chan struct{}) {
	ch, done := make(chan store.Event, 1<<16), make(chan struct{})
	appendBatch := func(batch []store.Event) {
		if len(batch) > 0 {
			if err := s.AppendEvents(context.Background(), batch); err != nil {
				b.Error(err)
			}
		}
	}
	go func() {
		defer close(done)
		var batch []store.Event
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case e, ok := <-ch:
				if !ok {
					appendBatch(batch)
					return
				}
				if batch = append(batch, e); len(batch) < 256 {
					continue
				}
			case <-tick.C:
			}
			appendBatch(batch)
			batch = nil
		}
	}()
	return ch, done
}
