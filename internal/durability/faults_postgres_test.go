package durability

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/podid/podid/internal/store/postgres/pgtest"
)

// TestFaultPostgresOutage is the campaign's database outage: two replicas
// share a PostgreSQL server of the test's own under a write load spread
// over both; at random points of it the server dies (pg_ctl stop -m
// immediate, no shutdown) and comes back after a random while. While it is
// down both replicas answer writes and reads with a 5xx, promptly (no
// hang); once it is back writes are acknowledged again without restarting
// podid, a write on A reaches B's credential path, and in the end nothing
// acknowledged is lost or duplicated. The load's clients send a write
// that got a 5xx again (with its client request token), as an SDK does.
func TestFaultPostgresOutage(t *testing.T) {
	t.Parallel()
	// The probe association is in a cluster of its own: the load's check
	// sees every association of its cluster.
	const cluster, probeCluster, ns, sa = "outage", "outage-probe", "ns", "probe"
	outages := envInt(t, envOutages, 2)
	pg := startOwnPostgres(t)
	rng := faultRand(t)
	row := newFaultRow("PostgreSQL dies and comes back (2 replicas)")
	a := startServer(t, "replica A", pg.dsn)
	b := startServer(t, "replica B", pg.dsn)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	createCluster(t, a.eks(), cluster)
	createCluster(t, a.eks(), probeCluster)
	probe := createAssociation(ctx, t, a, probeCluster, ns, sa, "probe-0")
	token := b.token(t, probeCluster, ns, sa)

	l := newLoad(t, cluster, 4, false, a.eks(), b.eks())
	for _, wr := range l.writers {
		wr.through5xx = true
	}
	l.start()
	for i := 1; i <= outages; i++ {
		l.waitAcks(t, l.acks.Load()+1+rng.Int64N(300), 2*time.Minute)
		spin(time.Duration(rng.Int64N(int64(time.Millisecond))))
		stopped := time.Now()
		pg.crash(t)
		row.injected++
		for _, s := range []*server{a, b} {
			checkUnavailable(ctx, t, s, probeCluster, probe, i)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(2 * time.Second)))) // the outage's length: nothing to wait for
		pg.start(t)
		up := time.Now()

		rev := updateUntilAcked(ctx, t, a, probeCluster, probe, fmt.Sprintf("probe-%d", i))
		writable := time.Now()
		row.down(writable.Sub(stopped))
		if _, err := b.waitRevision(ctx, rev, 30*time.Second); err != nil {
			t.Fatalf("outage %d: replica B's credential path did not follow after the database came back: %v", i, err)
		}
		if got, err := b.assumedRole(ctx, probeCluster, token); err != nil || got != fmt.Sprintf("probe-%d", i) {
			t.Fatalf("outage %d: EKS Auth on B after its wait for A's write: %q, %v; want probe-%d", i, got, err, i)
		}
		row.recovered(time.Since(up))
		t.Logf("outage %d: database down %s; a write acknowledged %s after it was back, on B's credential path %s after",
			i, up.Sub(stopped).Round(time.Millisecond), writable.Sub(up).Round(time.Millisecond), time.Since(up).Round(time.Millisecond))
	}
	l.waitAcks(t, l.acks.Load()+50, 2*time.Minute) // the load goes on after the last outage
	l.end()
	inFlight, retries, replays := l.report(t)
	var answers5xx int
	var slowest time.Duration
	for _, wr := range l.writers {
		answers5xx += wr.answers5xx
		slowest = max(slowest, wr.slowest5xx)
	}
	t.Logf("%d acknowledged writes; %d 5xx answers to the load (the slowest in %s), %d writes sent again, %d of them applied by an attempt answered 5xx",
		l.acks.Load(), answers5xx, slowest.Round(time.Millisecond), retries, replays)
	if inFlight != 0 {
		t.Errorf("%d writes of the load without an answer: a replica hung or died", inFlight)
	}
	if answers5xx == 0 {
		t.Error("the load got no 5xx: the outages missed it")
	}
	if slowest > unavailableWithin {
		t.Errorf("a 5xx during an outage took %s, want at most %s", slowest, unavailableWithin)
	}
	l.check(ctx, t, b.eks(), &row.tally)
	if err := postgresIntegrity(pg.dsn)(ctx); err != nil {
		row.integrity++
		t.Errorf("integrity check after the outages: %v", err)
	}
}

// unavailableWithin bounds how long a replica takes to answer while its
// database is down.
const unavailableWithin = 10 * time.Second

// checkUnavailable checks that s answers a write and a read with a 5xx
// within unavailableWithin while the database is down.
func checkUnavailable(ctx context.Context, t *testing.T, s *server, cluster, id string, outage int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*unavailableWithin)
	defer cancel()
	calls := map[string]func() error{
		"UpdatePodIdentityAssociation": func() error {
			_, err := s.eks().UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
				AssociationId: aws.String(id), RoleArn: aws.String(roleARN(fmt.Sprintf("probe-down-%d", outage)))})
			return err
		},
		"DescribePodIdentityAssociation": func() error {
			_, err := s.eks().DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String(cluster),
				AssociationId: aws.String(id)})
			return err
		},
	}
	for op, call := range calls {
		start := time.Now()
		err := call()
		took := time.Since(start)
		if !serverError(err) || took > unavailableWithin {
			t.Errorf("outage %d: %s on %s while the database is down: %v after %s; want a 5xx within %s",
				outage, op, s.Name(), err, took.Round(time.Millisecond), unavailableWithin)
		}
	}
}

// updateUntilAcked sets the association's role on s, sending the update
// again after each 5xx, and returns the acknowledged write's revision.
func updateUntilAcked(ctx context.Context, t *testing.T, s *server, cluster, id, role string) int64 {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := s.eks().UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
			AssociationId: aws.String(id), RoleArn: aws.String(roleARN(role))})
		if err == nil {
			rev, err := writeRevision(out.ResultMetadata)
			if err != nil {
				t.Fatal(err)
			}
			return rev
		}
		if !serverError(err) || time.Now().After(deadline) {
			t.Fatalf("writes on %s after the database came back: %v", s.Name(), err)
		}
		time.Sleep(through5xxPause) // a client's backoff
	}
}

// ownPostgres is a PostgreSQL server of the test's own (its data directory
// and port, never the shared TEST_POSTGRES_DSN one), which the test may
// crash and start again. ci/postgres.sh makes, starts and stops it.
type ownPostgres struct {
	script, dir, data, port, dsn string
}

// startOwnPostgres initializes and starts a server on a free loopback
// port, removed when the test ends. It skips as every PostgreSQL test here
// does when TEST_POSTGRES_DSN is unset (ci/postgres.sh installs the
// server).
func startOwnPostgres(t *testing.T) *ownPostgres {
	t.Helper()
	pgtest.DSN(t)
	script, err := filepath.Abs(filepath.Join("..", "..", "ci", "postgres.sh"))
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: the postgres user, which owns the data directory,
	// must be able to reach it.
	dir, err := os.MkdirTemp("", "podid-faults-pg-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pg := &ownPostgres{script: script, dir: dir, data: filepath.Join(dir, "data"), port: strconv.Itoa(freePort(t))}
	t.Cleanup(func() {
		if _, err := pg.run("--stop", pg.data); err != nil {
			t.Errorf("stopping the test's PostgreSQL: %v", err)
		}
		os.RemoveAll(dir)
	})
	pg.start(t)
	return pg
}

var dsnLine = regexp.MustCompile(`export TEST_POSTGRES_DSN='([^']+)'`)

// start starts the server (initializing it the first time).
func (pg *ownPostgres) start(t *testing.T) {
	t.Helper()
	out, err := pg.run(pg.data)
	if err != nil {
		t.Fatalf("starting the test's PostgreSQL: %v", err)
	}
	m := dsnLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("ci/postgres.sh printed %q, no DSN", out)
	}
	pg.dsn = m[1]
}

// crash stops the server without a shutdown (pg_ctl stop -m immediate):
// its backends are killed, and it recovers from its WAL when started.
func (pg *ownPostgres) crash(t *testing.T) {
	t.Helper()
	if _, err := pg.run("--crash", pg.data); err != nil {
		t.Fatalf("crashing the test's PostgreSQL: %v", err)
	}
}

// run runs ci/postgres.sh with args for this server's port and returns
// its stdout.
func (pg *ownPostgres) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{pg.script}, args...)...)
	cmd.Env = append(os.Environ(), "PODID_PG_PORT="+pg.port)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ci/postgres.sh %v: %w: %s", args, err, stderr.String())
	}
	return stdout.String(), nil
}

// freePort returns a loopback TCP port that is free now, below the
// kernel's ephemeral range (so no client socket takes it meanwhile).
func freePort(t *testing.T) int {
	t.Helper()
	base := 20000 + os.Getpid()%4000
	for i := range 1000 {
		port := 20000 + (base+i*7)%5000
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port in 20000-24999")
	return 0
}
