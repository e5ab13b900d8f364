package durability

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/podid/podid/internal/store/postgres"
	"github.com/podid/podid/internal/store/postgres/pgtest"
	"github.com/podid/podid/internal/store/sqlite"
)

// The write load of the kill tests.
const (
	killWriters   = 8   // concurrent clients
	killHotPerW   = 2   // associations each writer updates over and over
	killAfterAcks = 200 // acknowledged writes before SIGKILL
	killCycles    = 2   // load, kill and restart, twice
	killCluster   = "durable"
	targetAccount = "111122223333"
)

// TestKillSQLite kills podid serve on SQLite with SIGKILL in the middle of
// a write load, restarts it on the same file and checks every write.
func TestKillSQLite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "podid.db")
	runKillTest(t, "sqlite:"+path, func(ctx context.Context) error {
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			return err
		}
		defer s.Close()
		return s.IntegrityCheck(ctx)
	})
}

// TestKillPostgres is TestKillSQLite on PostgreSQL (a fresh schema).
func TestKillPostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	runKillTest(t, dsn, func(ctx context.Context) error {
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			return err
		}
		defer s.Close()
		return s.IntegrityCheck(ctx)
	})
}

// runKillTest runs the load against podid serve on storeDSN, kills the
// server after killAfterAcks acknowledged writes, restarts it on the same
// store and checks every association against what the clients were told;
// it sends the writes left without an answer again (same client request
// tokens); then again on the restarted server (a load on a cluster of its own),
// checking both loads' writes. At the end it stops the server and runs
// integrity on the store.
func runKillTest(t *testing.T, storeDSN string, integrity func(context.Context) error) {
	srv := startServer(t, "podid serve", storeDSN)
	var loads []*load
	for cycle := 1; cycle <= killCycles; cycle++ {
		cluster := fmt.Sprintf("%s-%d", killCluster, cycle)
		createCluster(t, srv.eks(), cluster)
		l := newLoad(t, cluster, killWriters, false, srv.eks())
		loads = append(loads, l)
		l.start()
		l.waitAcks(t, killAfterAcks, 40*time.Second)
		srv.kill(t) // with writes in flight; the writers end at their first unanswered one
		l.end()
		inFlight, _, _ := l.report(t)
		t.Logf("killed after %d acknowledged writes, %d in flight", l.acks.Load(), inFlight)

		restarted := time.Now()
		srv = startServer(t, fmt.Sprintf("podid serve (restart %d)", cycle), storeDSN)
		ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
		for _, l := range loads {
			t.Run(fmt.Sprintf("restart %d/%s", cycle, l.cluster), func(t *testing.T) { l.check(ctx, t, srv.eks()) })
		}
		l.resolve(ctx, t, srv.eks(), restarted)
		cancel()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	srv.stop(t)
	if err := integrity(ctx); err != nil {
		t.Errorf("integrity check after kill and restart: %v", err)
	}
}
