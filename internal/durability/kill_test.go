package durability

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

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
	dsn, integrity := sqliteStore(t)
	runKillTest(t, dsn, integrity)
}

// TestKillPostgres is TestKillSQLite on PostgreSQL (a fresh schema).
func TestKillPostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	runKillTest(t, dsn, postgresIntegrity(dsn))
}

// sqliteStore returns the DSN of a SQLite store in a new temporary
// directory and a func that runs the store's integrity check.
func sqliteStore(t *testing.T) (string, func(context.Context) error) {
	path := filepath.Join(t.TempDir(), "podid.db")
	return "sqlite:" + path, sqliteIntegrity(path)
}

// sqliteIntegrity returns a func that runs the integrity check of the
// SQLite store at path.
func sqliteIntegrity(path string) func(context.Context) error {
	return func(ctx context.Context) error {
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			return err
		}
		defer s.Close()
		return s.IntegrityCheck(ctx)
	}
}

// postgresIntegrity returns a func that runs the integrity check of the
// PostgreSQL store dsn.
func postgresIntegrity(dsn string) func(context.Context) error {
	return func(ctx context.Context) error {
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			return err
		}
		defer s.Close()
		return s.IntegrityCheck(ctx)
	}
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
		srv.Kill(t) // with writes in flight; the writers end at their first unanswered one
		l.end()
		inFlight, _, _ := l.report(t)
		t.Logf("killed after %d acknowledged writes, %d in flight", l.acks.Load(), inFlight)

		restarted := time.Now()
		srv = startServer(t, fmt.Sprintf("podid serve (restart %d)", cycle), storeDSN)
		ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
		for _, l := range loads {
			t.Run(fmt.Sprintf("restart %d/%s", cycle, l.cluster), func(t *testing.T) { l.check(ctx, t, srv.eks(), nil) })
		}
		l.resolve(ctx, t, srv.eks(), restarted)
		cancel()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	srv.Stop(t)
	if err := integrity(ctx); err != nil {
		t.Errorf("integrity check after kill and restart: %v", err)
	}
}

// TestKillDuringClusterDeleteSQLite kills podid serve while it deletes a
// cluster with many associations (one transaction): after a restart the
// cluster is there with all of them, or gone with all of them.
func TestKillDuringClusterDeleteSQLite(t *testing.T) {
	t.Parallel()
	dsn, integrity := sqliteStore(t)
	runKillClusterDelete(t, dsn, integrity)
}

// TestKillDuringClusterDeletePostgres is the same on PostgreSQL.
func TestKillDuringClusterDeletePostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	runKillClusterDelete(t, dsn, postgresIntegrity(dsn))
}

func runKillClusterDelete(t *testing.T, storeDSN string, integrity func(context.Context) error) {
	const perCluster = 100
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	srv := startServer(t, "podid serve", storeDSN)
	// The kill lands at different points of the delete: before it starts,
	// in it, after it.
	for round, killAfter := range []time.Duration{0, 2 * time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond} {
		cluster := fmt.Sprintf("doomed-%d", round)
		createCluster(t, srv.eks(), cluster)
		ids := make([]string, perCluster)
		var g errgroup.Group
		g.SetLimit(8)
		for i := range ids {
			g.Go(func() error {
				out, err := srv.eks().CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
					Namespace: aws.String("ns"), ServiceAccount: aws.String("sa-" + strconv.Itoa(i)), RoleArn: aws.String(roleARN("doomed"))})
				if err == nil {
					ids[i] = aws.ToString(out.Association.AssociationId)
				}
				return err
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		deleted := make(chan error, 1)
		go func() {
			_, err := srv.eks().DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String(cluster)})
			deleted <- err
		}()
		time.Sleep(killAfter) // chooses where the kill lands; nothing to wait for
		srv.Kill(t)
		acked := <-deleted == nil
		srv = startServer(t, fmt.Sprintf("podid serve (restart %d)", round+1), storeDSN)

		c := srv.eks()
		_, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(cluster)})
		switch code := apiError(err); {
		case err == nil:
			if acked {
				t.Errorf("round %d: DeleteCluster was acknowledged, but the cluster is there after the restart", round)
			}
			var got []string
			p := eks.NewListPodIdentityAssociationsPaginator(c, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(cluster)})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range page.Associations {
					got = append(got, aws.ToString(a.AssociationId))
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(ids))
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("round %d: the cluster survived the kill, its associations differ (-got +want):\n%s", round, diff)
			}
		case code == "ResourceNotFoundException":
			// Gone: with all its associations (a new cluster of the name
			// starts empty; IntegrityCheck finds orphans).
			createCluster(t, c, cluster)
			list, err := c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(cluster)})
			if err != nil || len(list.Associations) != 0 {
				t.Errorf("round %d: cluster deleted by the killed server and created again: associations %v, %v; want none", round, list, err)
			}
		default:
			t.Fatalf("round %d: DescribeCluster after the restart: %v", round, err)
		}
		t.Logf("round %d: kill %s after DeleteCluster was sent: acknowledged %t, cluster gone %t", round, killAfter, acked, err != nil)
	}
	srv.Stop(t)
	if err := integrity(ctx); err != nil {
		t.Errorf("integrity check after the kills: %v", err)
	}
}
