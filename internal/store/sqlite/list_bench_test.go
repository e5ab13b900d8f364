package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podid/podid/internal/store"
)

// BenchmarkListWalk reads List pages as podid bench --scale times them
// (issue 11: a page at 1M associations within 1.2x of one at 1k): walks of
// ten pages of 100 from the start of a cluster's listing, each walk on the
// next cluster, on a store of 1 cluster x 1,000 and of 200 x 5,000 seeded
// like the bench's (random IDs, one cluster after another), reopened after
// seeding.
//
//	go test -run '^$' -bench ListWalk -benchtime 3000x ./internal/store/sqlite
func BenchmarkListWalk(b *testing.B) {
	for _, size := range []struct {
		name          string
		clusters, per int
	}{{"1k", 1, 1000}, {"1M", 200, 5000}} {
		b.Run(size.name, func(b *testing.B) {
			s := seedListStore(b, size.clusters, size.per, size.clusters*size.per)
			ctx := context.Background()
			var after string
			page := 0
			cpu0, io0 := processCPU(), readSyscalls()
			for i := 0; b.Loop(); i++ {
				if page == 10 {
					page, after = 0, ""
				}
				cluster := fmt.Sprintf("scale-%03d", (i/10)%size.clusters)
				items, next, err := s.ListAssociations(ctx, listRegion, cluster, store.AssociationFilter{}, store.Page{After: after, Limit: 100})
				if err != nil {
					b.Fatal(err)
				}
				if len(items) != 100 {
					b.Fatalf("page of %d", len(items))
				}
				after = next
				page++
			}
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(readSyscalls()-io0)/float64(b.N), "reads/op")
		})
	}
}

// processCPU is the process's CPU time (user+system), which means more
// than ns/op on a machine whose cores are shared.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// readSyscalls is the process's read system calls so far (syscr of
// /proc/self/io): SQLite's page cache misses.
func readSyscalls() int64 { return procIO("syscr") }

// procIO is the process's count named field in /proc/self/io so far (0
// where there is none).
func procIO(field string) int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+": "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

const listRegion = "us-west-2"

// seedListStore makes a store of clusters of up to per associations in
// listRegion, the first rows of them seeded with raw SQL (as many rows as
// the scale bench, in seconds), cluster after cluster, and returns it
// reopened.
func seedListStore(b *testing.B, clusters, per, rows int) *Store {
	b.Helper()
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "podid.db")
	s, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	for c := range clusters {
		if _, err := s.CreateCluster(ctx, store.Cluster{Region: listRegion, Name: fmt.Sprintf("scale-%03d", c)}, store.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	now := time.Now().UnixMicro()
	if rows > 0 {
		_, err = db.ExecContext(ctx, `WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n + 1 < ?)
		INSERT INTO associations (region, cluster_name, id, namespace, service_account, role_arn, target_role_arn,
			external_id, policy, disable_session_tags, owner_arn, tags, created_at, modified_at, revision)
		SELECT ?, printf('scale-%03d', n / ?), 'a-' || lower(substr(hex(randomblob(9)), 1, 17)), 'scale', 'sa-' || (n % ?),
			'arn:aws:iam::000000000000:role/bench-a', '', '', '', 0, '', '{}', ?, ?, n + 1000 FROM k`,
			rows, listRegion, per, per, now, now)
		if err == nil {
			// The store's revision counter past the seeded rows', as
			// if the store had written them: the change feed follows it.
			_, err = db.ExecContext(ctx, "UPDATE meta SET revision = (SELECT max(revision) FROM associations)")
		}
	}
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d associations in %v, database %.1f MiB", rows, time.Since(t0).Round(time.Millisecond), float64(fi.Size())/(1<<20))
	s, err = Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}
