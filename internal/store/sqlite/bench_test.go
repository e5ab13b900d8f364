package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
)

// BenchmarkStore100k measures the hot operations on a store holding 100,000
// associations (20 clusters of 5,000):
//
//	go test -run '^$' -bench Store100k -benchtime 2s ./internal/store/sqlite
func BenchmarkStore100k(b *testing.B) {
	const clusters, perCluster = 20, 5000
	ctx := context.Background()
	dir := b.TempDir()
	s, err := sqlite.Open(ctx, filepath.Join(dir, "podid.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	start := time.Now()
	ids := seed(b, s, clusters, perCluster)
	b.Logf("seeded %d associations in %v (%.0f creates/s, group-committed)",
		clusters*perCluster, time.Since(start).Round(time.Millisecond), float64(clusters*perCluster)/time.Since(start).Seconds())
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.Logf("after seeding: Go heap in use %.1f MiB, RSS %s, database %s", float64(ms.HeapInuse)/(1<<20), rss(), fileSize(filepath.Join(dir, "podid.db")))
	defer func() { b.Logf("after the benchmarks: RSS %s", rss()) }()

	pick := func(i int) (string, string) {
		c := i % clusters
		return fmt.Sprint("bench-", c), ids[c][(i/clusters)%perCluster]
	}
	runCPU(b, s, "Get", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			c, id := pick(i)
			if _, err := s.GetAssociation(ctx, "", c, id); err != nil {
				b.Fatal(err)
			}
		}
	})
	runCPU(b, s, "GetParallel", func(b *testing.B) {
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c, id := pick(int(n.Add(1)))
				if _, err := s.GetAssociation(ctx, "", c, id); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	for _, limit := range []int{10, 100} {
		runCPU(b, s, fmt.Sprint("ListPage", limit), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				c, id := pick(i)
				if _, _, err := s.ListAssociations(ctx, "", c, store.AssociationFilter{}, store.Page{After: id, Limit: limit}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	update := func(i int) error {
		c, id := pick(i)
		_, err := s.UpdateAssociation(ctx, "", c, id, func(a *store.Association) error {
			a.RoleARN = "arn:aws:iam::000000000000:role/r" + strconv.Itoa(i)
			a.ModifiedAt = time.Now()
			return nil
		}, store.WriteOptions{})
		return err
	}
	runCPU(b, s, "Update", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := update(i); err != nil {
				b.Fatal(err)
			}
		}
	})
	runCPU(b, s, "UpdateParallel", func(b *testing.B) {
		var n atomic.Int64
		b.SetParallelism(16) // many concurrent clients, as a server sees
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := update(int(n.Add(1))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	if _, err := s.CreateCluster(ctx, store.Cluster{Name: "bench-create"}, store.WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	var created atomic.Int64
	create := func() error {
		n := created.Add(1)
		_, err := s.CreateAssociation(ctx, association("bench-create", "ns", "sa-"+strconv.FormatInt(n, 10), n),
			store.WriteOptions{})
		return err
	}
	runCPU(b, s, "Create", func(b *testing.B) {
		for b.Loop() {
			if err := create(); err != nil {
				b.Fatal(err)
			}
		}
	})
	runCPU(b, s, "CreateParallel", func(b *testing.B) {
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := create(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

var idSeq atomic.Int64

func association(cluster, ns, sa string, n int64) store.Association {
	now := time.Now()
	return store.Association{
		ID:             fmt.Sprintf("a-%017s", strconv.FormatInt(n+idSeq.Add(1)<<32, 36)),
		ClusterName:    cluster,
		Namespace:      ns,
		ServiceAccount: sa,
		RoleARN:        "arn:aws:iam::000000000000:role/" + sa,
		Tags:           map[string]string{"team": "bench"},
		CreatedAt:      now,
		ModifiedAt:     now,
	}
}

// seed creates clusters x perCluster associations with 32 concurrent
// writers (so that group commit batches them) and returns each cluster's
// association IDs.
func seed(b *testing.B, s *sqlite.Store, clusters, perCluster int) [][]string {
	b.Helper()
	ctx := context.Background()
	ids := make([][]string, clusters)
	for c := range clusters {
		if _, err := s.CreateCluster(ctx, store.Cluster{Name: fmt.Sprint("bench-", c)}, store.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
		ids[c] = make([]string, perCluster)
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= clusters*perCluster {
					return
				}
				c, k := i%clusters, i/clusters
				a, err := s.CreateAssociation(ctx, association(fmt.Sprint("bench-", c), "ns-"+strconv.Itoa(k%3), "sa-"+strconv.Itoa(k), int64(i)),
					store.WriteOptions{MaxPerCluster: perCluster})
				if err != nil {
					errs <- err
					return
				}
				ids[c][k] = a.ID
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return ids
}

// rss reports the process's resident set size from /proc (Linux).
func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func fileSize(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.1f MiB", float64(fi.Size())/(1<<20))
}

// runCPU runs a sub-benchmark and also reports the process's CPU time per
// operation (user+system), which stays meaningful on a machine whose cores
// are shared with other work, unlike ns/op.
func runCPU(b *testing.B, s *sqlite.Store, name string, f func(b *testing.B)) {
	b.Helper()
	b.Run(name, func(b *testing.B) {
		before, stats, written := sqlite.ProcessCPU(), s.Stats(), sqlite.ProcIO("wchar")
		f(b)
		if b.N > 0 {
			b.ReportMetric(float64((sqlite.ProcessCPU()-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
			// Bytes through write system calls: nearly all of it WAL
			// frames (4 KiB pages and their headers).
			b.ReportMetric(float64(sqlite.ProcIO("wchar")-written)/float64(b.N), "written-B/op")
		}
		if after := s.Stats(); after.Commits > stats.Commits {
			b.ReportMetric(float64(after.Writes-stats.Writes)/float64(after.Commits-stats.Commits), "writes/commit")
		}
	})
}
