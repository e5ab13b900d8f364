package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/postgres/pgtest"
	"github.com/podid/podid/internal/store/storetest"
)

// BenchmarkListPage measures one 100-item page of ListAssociations from a
// random point of a cluster, with 1,000 associations in the store (one
// cluster) and with a million (200 clusters x 5,000, a random cluster each
// time). The two stores are queried alternately, so that load from other
// processes on the machine falls on both alike, and the benchmark reports
// each one's time per page and their ratio (goal: at most 1.5). The rows are
// loaded with one INSERT ... SELECT (a million creates through the API take
// far longer; podid's bench command does those). The million needs
// PODID_PG_SCALE=1 and takes minutes to load:
//
//	eval "$(ci/postgres.sh)"
//	PODID_PG_SCALE=1 go test -run '^$' -bench ListPage -benchtime 2000x ./internal/store/postgres/
func BenchmarkListPage(b *testing.B) {
	if os.Getenv("PODID_PG_SCALE") == "" {
		b.Skip("set PODID_PG_SCALE=1 to load a million associations")
	}
	base := pgtest.DSN(b)
	type target struct {
		name                 string
		clusters, perCluster int
		store                store.Store
		elapsed              time.Duration
	}
	targets := []*target{
		{name: "1k", clusters: 1, perCluster: 1000},
		{name: "1M", clusters: 200, perCluster: 5000},
	}
	for _, tg := range targets {
		dsn := pgtest.Schema(b, base)
		tg.store = pgtest.Open(b, dsn)
		load(b, dsn, tg.clusters, tg.perCluster)
	}
	ctx := b.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	pages := 0
	b.ResetTimer()
	for b.Loop() {
		for _, tg := range targets {
			c := fmt.Sprintf("c%03d", rng.IntN(tg.clusters))
			after := fmt.Sprintf("a-%017d", rng.IntN(tg.perCluster-101))
			start := time.Now()
			items, next, err := tg.store.ListAssociations(ctx, "", c, store.AssociationFilter{}, store.Page{After: after, Limit: 100})
			tg.elapsed += time.Since(start)
			if err != nil || len(items) != 100 || next == "" {
				b.Fatalf("%s: ListAssociations(%s after %s) = %d items, next %q, %v", tg.name, c, after, len(items), next, err)
			}
		}
		pages++
	}
	for _, tg := range targets {
		b.ReportMetric(float64(tg.elapsed.Nanoseconds())/float64(pages), "ns/page@"+tg.name)
	}
	b.ReportMetric(float64(targets[1].elapsed)/float64(targets[0].elapsed), "ratio-1M/1k")
}

// load fills the store's tables directly: clusters c000... with perCluster
// associations each, IDs a-00000000000000000..., revisions 1...
func load(b *testing.B, dsn string, clusters, perCluster int) {
	b.Helper()
	// A million rows and their three indexes take minutes on a small
	// machine: more than pgtest.Exec allows.
	ctx, cancel := context.WithTimeout(b.Context(), 30*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	exec := func(sql string, args ...any) {
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			b.Fatalf("loading: %v", err)
		}
	}
	exec(`INSERT INTO clusters (name, created_at, version, role_arn, client_request_token, tags,
	issuer_url, issuer_jwks_url, association_count, revision)
	SELECT 'c' || lpad(i::text, 3, '0'), 0, '1.31', 'arn:aws:iam::000000000000:role/c', '', '{}', '', '', $2, i + 1
	FROM generate_series(0, $1 - 1) i`, clusters, perCluster)
	exec(`INSERT INTO associations (id, cluster_name, namespace, service_account, role_arn, target_role_arn,
	external_id, policy, disable_session_tags, owner_arn, tags, created_at, modified_at, revision)
	SELECT 'a-' || lpad(j::text, 17, '0'), 'c' || lpad(i::text, 3, '0'), 'ns-' || (j % 50), 'sa-' || j,
		'arn:aws:iam::000000000000:role/r' || j, '', '', '', false, '', '{"team":"a"}', 0, 0,
		$1 + 1 + i * $2 + j
	FROM generate_series(0, $1 - 1) i, generate_series(0, $2 - 1) j`, clusters, perCluster)
	exec(`UPDATE revision_counter SET revision = (SELECT max(revision) FROM associations)`)
	exec(`ANALYZE associations`)
	exec(`ANALYZE clusters`)
}

// BenchmarkUpdateParallel measures UpdateAssociation with a client request
// token (as the SDKs send it) from 16 goroutines, each on its own
// association: the writes the group commit batches. Besides the time, it
// reports per update the PostgreSQL server's CPU (its processes': the
// server must run on this machine), this process's (the store's side;
// the benchmark's own loop is small beside it) and the WAL the server
// wrote, which other work on a shared machine disturbs far less than the
// time.
//
// audit=true appends an Update-shaped audit event per update beside the
// writes, every 50 ms as audit.Recorder does by default (in podid serve
// every Update is audited): its appends take CPU, and their WAL, from the
// writer's transactions, and that is in the figures.
//
//	eval "$(ci/postgres.sh)"
//	go test -run '^$' -bench UpdateParallel ./internal/store/postgres/
func BenchmarkUpdateParallel(b *testing.B) {
	for _, audit := range []bool{false, true} {
		b.Run(fmt.Sprint("audit=", audit), func(b *testing.B) { benchUpdateParallel(b, audit) })
	}
}

func benchUpdateParallel(b *testing.B, audit bool) {
	ctx := context.Background()
	dsn := pgtest.Schema(b, pgtest.DSN(b))
	s := pgtest.Open(b, dsn)
	if _, err := s.CreateCluster(ctx, store.Cluster{Name: "c1"}, store.WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	const workers = 16
	ids := make(chan string, workers)
	for w := range workers {
		a, err := s.CreateAssociation(ctx, store.Association{
			ID: fmt.Sprintf("a-%017d", w), ClusterName: "c1", Namespace: "ns", ServiceAccount: fmt.Sprint("sa-", w),
			RoleARN: "arn:aws:iam::000000000000:role/r",
		}, store.WriteOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ids <- a.ID
	}
	var updates atomic.Int64
	stop := make(chan struct{})
	appended := make(chan struct{})
	go func() {
		defer close(appended)
		if !audit {
			return
		}
		appendAudit(b, s, &updates, stop)
	}()
	postmaster := postmasterOf(b, dsn)
	wal := walMeter(b, dsn)
	cpu0, self0 := serverTicks(b, postmaster), processCPU()
	b.ResetTimer()
	b.SetParallelism(workers / 2) // 16 goroutines on 2 CPUs
	b.RunParallel(func(pb *testing.PB) {
		id := <-ids
		for i := 0; pb.Next(); i++ {
			_, err := s.UpdateAssociation(ctx, "", "c1", id, func(a *store.Association) error {
				a.RoleARN = fmt.Sprint("arn:aws:iam::000000000000:role/r", i)
				a.ModifiedAt = time.Now()
				return nil
			}, store.WriteOptions{Idempotency: &store.Idempotency{Key: fmt.Sprint("UpdatePodIdentityAssociation/c1/", id, "/", i), Hash: "h"}})
			if err != nil {
				b.Error(err)
				return
			}
			updates.Add(1)
		}
	})
	close(stop)
	<-appended
	b.StopTimer()
	b.ReportMetric(float64(serverTicks(b, postmaster)-cpu0)*1e4/float64(b.N), "server-cpu-us/op") // 100 ticks a second
	b.ReportMetric(float64((processCPU()-self0).Microseconds())/float64(b.N), "podid-cpu-us/op")
	b.ReportMetric(float64(wal())/float64(b.N), "wal-bytes/op")
}

// appendAudit appends an Update-shaped event for each update counted in
// updates, every 50 ms (audit.DefaultFlushInterval), until stop is
// closed, then the rest.
func appendAudit(b *testing.B, s store.Audit, updates *atomic.Int64, stop <-chan struct{}) {
	record := storetest.EventRecord()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	done := 0
	for {
		stopped := false
		select {
		case <-tick.C:
		case <-stop:
			stopped = true
		}
		if n := int(updates.Load()); n > done {
			if err := s.AppendEvents(context.Background(), storetest.UpdateEvents(n-done, done, record)); err != nil {
				b.Error(err)
				return
			}
			done = n
		}
		if stopped {
			return
		}
	}
}
