package durability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/podid/podid/internal/store/postgres/pgtest"
)

// TestFaultKillSQLite is the campaign's kill -9 on SQLite: envKillCycles
// cycles, each killing podid serve at a random point of a mixed write
// load and checking everything after the restart (see runKillCampaign).
func TestFaultKillSQLite(t *testing.T) {
	t.Parallel()
	dsn, integrity := sqliteStore(t)
	runKillCampaign(t, newFaultRow("kill -9 under load (SQLite)"), dsn, integrity)
}

// TestFaultKillPostgres is TestFaultKillSQLite on PostgreSQL.
func TestFaultKillPostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	runKillCampaign(t, newFaultRow("kill -9 under load (PostgreSQL)"), dsn, postgresIntegrity(dsn))
}

// The kill campaign's load: fewer writers than the kill tests' (more
// cycles), with clusters made and deleted beside them.
const (
	campaignWriters   = 6
	maxAcksBeforeKill = 400 // a cycle's kill lands after 1 to this many acknowledged writes
	churnAssociations = 8   // per cluster of the churn
	churnReady        = 2   // clusters of the churn made before the load
	credentialSample  = 48  // keys whose credentials are checked per cycle
)

// runKillCampaign runs the kill cycles on one store. Each cycle starts a
// load on a cluster of its own (creates with and without client request
// tokens, updates, deletes, tag writes) and, beside it, a churn of
// clusters created with associations and deleted; after a random number of
// acknowledged writes and a random fraction of a millisecond more, podid
// serve gets SIGKILL. After the restart: every acknowledged write is
// there, once; a write without an answer is there whole or not at all; a
// deleted cluster is gone with its associations; the writes without an
// answer are sent again (and must be replayed, not applied twice); EKS
// Auth agrees with the store; the store's integrity check passes. At the
// end every cycle's cluster is checked again.
func runKillCampaign(t *testing.T, row *faultRow, storeDSN string, integrity func(context.Context) error) {
	cycles := envInt(t, envKillCycles, 3)
	rng := faultRand(t)
	srv := startServer(t, "podid serve", storeDSN)
	var loads []*load
	for cycle := 1; cycle <= cycles; cycle++ {
		cluster := fmt.Sprintf("kill-%d", cycle)
		createCluster(t, srv.eks(), cluster)
		l := newLoad(t, cluster, campaignWriters, false, srv.eks())
		loads = append(loads, l)
		ch := newChurn(t, srv.eks(), fmt.Sprintf("churn-%d", cycle))
		l.start()
		ch.start()
		afterAcks := 1 + rng.Int64N(maxAcksBeforeKill)
		l.waitAcks(t, afterAcks, 60*time.Second)
		spin(time.Duration(rng.Int64N(int64(time.Millisecond))))
		killed := time.Now()
		srv.Kill(t)
		row.injected++
		l.end()
		ch.end()
		inFlight, _, _ := l.report(t)
		ch.report(t)

		launched := time.Now()
		srv = &server{srv.Restart(t)}
		ready := time.Now()
		row.down(ready.Sub(killed))
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		if _, err := srv.waitCurrent(ctx); err != nil {
			t.Fatalf("cycle %d: the credential path did not catch up with the store after the restart: %v", cycle, err)
		}
		row.recovered(time.Since(launched))
		t.Logf("cycle %d: killed after %d acknowledged writes (%d wanted; +%d in the churn), %d in flight; ready %s after the kill",
			cycle, l.acks.Load(), afterAcks, ch.acks.Load(), inFlight, ready.Sub(killed).Round(time.Millisecond))

		t.Run(fmt.Sprintf("cycle %d", cycle), func(t *testing.T) {
			l.check(ctx, t, srv.eks(), &row.tally)
			ch.check(ctx, t, srv.eks(), &row.tally)
			l.resolve(ctx, t, srv.eks(), launched)
			ch.resolve(ctx, t, srv.eks())
			checkCredentials(ctx, t, srv, l, rng, row)
			if err := integrity(ctx); err != nil {
				row.integrity++
				t.Errorf("integrity check after kill %d: %v", cycle, err)
			}
		})
		cancel()
		if t.Failed() {
			break // the first cycle that failed tells the story
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for _, l := range loads {
		t.Run("end/"+l.cluster, func(t *testing.T) { l.check(ctx, t, srv.eks(), nil) })
	}
	srv.Stop(t)
	if err := integrity(ctx); err != nil {
		row.integrity++
		t.Errorf("integrity check after the campaign: %v", err)
	}
}

// spin returns after d, busily: the kill's offset within a millisecond,
// finer than a timer's.
func spin(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

// waitCurrent waits until the server's credential path has every write
// the store holds (GET /podid/v1/wait without a revision) and returns that
// revision.
func (s *server) waitCurrent(ctx context.Context) (int64, error) {
	var out struct{ Revision int64 }
	err := s.adminCall(ctx, http.MethodGet, "/podid/v1/wait?"+url.Values{"timeout": {"30s"}}.Encode(), nil, &out)
	return out.Revision, err
}

// checkCredentials checks that EKS Auth agrees with the store after a
// restart (every write of l acknowledged by then): a pod of a key gets its
// association's role (the target role when there is one), and a pod of a
// deleted key gets ResourceNotFoundException. It checks every hot key and
// a random sample of the others.
func checkCredentials(ctx context.Context, t *testing.T, srv *server, l *load, rng *rand.Rand, row *faultRow) {
	t.Helper()
	if _, err := srv.waitCurrent(ctx); err != nil {
		t.Fatalf("waiting for the credential path: %v", err)
	}
	var keys []*keyRecord
	for _, wr := range l.writers {
		keys = append(keys, wr.records...)
	}
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	checked := 0
	for _, r := range keys {
		if !r.hot && checked >= credentialSample {
			continue
		}
		checked++
		want := "error:ResourceNotFoundException"
		if r.create == acked && r.delete != acked {
			a := r.created
			if r.hot {
				a = r.updates[r.lastAcked]
			}
			want = roleName(a)
		}
		got, err := srv.assumedRole(ctx, l.cluster, srv.token(t, l.cluster, r.namespace, r.serviceAccount))
		if err != nil {
			t.Fatalf("EKS Auth for %s: %v", r.serviceAccount, err)
		}
		if got != want {
			row.integrity++
			t.Errorf("EKS Auth for %s after the restart: %s; the store says %s", r.serviceAccount, got, want)
		}
	}
}

// roleName is the role EKS Auth's credentials for a are for: the target
// role's name when a has one, else the role's.
func roleName(a *types.PodIdentityAssociation) string {
	arn := aws.ToString(a.RoleArn)
	if t := aws.ToString(a.TargetRoleArn); t != "" {
		arn = t
	}
	return arn[strings.LastIndexByte(arn, '/')+1:]
}

// churn makes clusters with associations and deletes them, one cluster
// at a time, beside a load, so that a kill lands in a cluster's creation,
// its associations' or its deletion (one transaction over all of them).
// It ends at its first write without an answer.
type churn struct {
	c        *eks.Client
	prefix   string
	clusters []*churnCluster
	acks     atomic.Int64
	errs     []string
	stop     atomic.Bool
	done     chan struct{}
}

// churnCluster is the churn's knowledge of one cluster.
type churnCluster struct {
	name           string
	create, delete outcome
	records        []*keyRecord // its associations (created with tokens)
	acks           int64        // acknowledged writes about it
}

// newChurn makes the churn's first clusters (made with their
// associations before the load starts, so that the churn's first writes
// are cluster deletions: CreateCluster is slow, it makes signing keys).
func newChurn(t *testing.T, c *eks.Client, prefix string) *churn {
	t.Helper()
	ch := &churn{c: c, prefix: prefix, done: make(chan struct{})}
	for i := range churnReady {
		if !ch.makeCluster(i) {
			t.Fatalf("making cluster %d of the churn: %v", i, ch.errs)
		}
	}
	return ch
}

func (ch *churn) start() {
	go func() {
		defer close(ch.done)
		for i := 0; i < 1000 && !ch.stop.Load(); i++ {
			if i >= churnReady && !ch.makeCluster(i) {
				return
			}
			if !ch.deleteCluster(ch.clusters[i]) {
				return
			}
		}
	}()
}

func (ch *churn) end() {
	ch.stop.Store(true)
	<-ch.done
}

// answered counts an acknowledged write, or keeps an unexpected answer;
// it reports whether the churn goes on.
func (ch *churn) answered(cl *churnCluster, err error) bool {
	if err == nil {
		ch.acks.Add(1)
		cl.acks++
		return true
	}
	if apiError(err) != "" {
		ch.errs = append(ch.errs, err.Error())
	}
	return false
}

// makeCluster creates cluster i and its associations.
func (ch *churn) makeCluster(i int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl := &churnCluster{name: fmt.Sprintf("%s-%d", ch.prefix, i), create: unknown}
	ch.clusters = append(ch.clusters, cl)
	_, err := ch.c.CreateCluster(ctx, &eks.CreateClusterInput{Name: aws.String(cl.name), RoleArn: aws.String(roleARN("cluster-role")),
		ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-1", "subnet-2"}}})
	if !ch.answered(cl, err) {
		return false
	}
	cl.create = acked
	wr := &writer{}
	for k := range churnAssociations {
		r := wr.newRecord(cl.name, fmt.Sprintf("sa-%d", k), &eks.CreatePodIdentityAssociationInput{
			RoleArn: aws.String(roleARN(fmt.Sprintf("%s-%d", cl.name, k))),
			Tags:    map[string]string{"writer": "churn", "i": fmt.Sprint(k), "kind": "churn"}}, true)
		cl.records = append(cl.records, r)
		r.create = unknown
		in := r.requested
		out, err := ch.c.CreatePodIdentityAssociation(ctx, &in)
		if !ch.answered(cl, err) {
			return false
		}
		r.create, r.created = acked, out.Association
	}
	return true
}

// deleteCluster deletes cl.
func (ch *churn) deleteCluster(cl *churnCluster) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl.delete = unknown
	_, err := ch.c.DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String(cl.name)})
	if !ch.answered(cl, err) {
		return false
	}
	cl.delete = acked
	return true
}

// report fails the test for every unexpected answer.
func (ch *churn) report(t *testing.T) {
	t.Helper()
	for _, e := range ch.errs {
		t.Errorf("churn: %s", e)
	}
}

// check compares each cluster of the churn on c with what it was told: a
// cluster whose deletion was acknowledged is gone; one whose deletion had
// no answer is gone, or there with exactly its associations; one not
// being deleted is there (unless its creation had no answer) with its
// acknowledged associations, and a create without an answer whole or not
// at all.
func (ch *churn) check(ctx context.Context, t *testing.T, c *eks.Client, tl *tally) {
	t.Helper()
	for _, cl := range ch.clusters {
		_, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(cl.name)})
		exists := err == nil
		if err != nil && apiError(err) != "ResourceNotFoundException" {
			t.Fatalf("DescribeCluster %s: %v", cl.name, err)
		}
		tl.checked.Add(cl.acks)
		switch {
		case cl.delete == acked && exists:
			tl.fail(t, lostWrite, "cluster %s: its DeleteCluster was acknowledged, but it is there", cl.name)
		case !exists && cl.create == acked && cl.delete == notSent:
			tl.fail(t, lostWrite, "cluster %s: its CreateCluster was acknowledged, but it is gone", cl.name)
		case exists:
			stored := listAll(ctx, t, c, cl.name)
			for _, r := range cl.records {
				got := stored[r.serviceAccount]
				delete(stored, r.serviceAccount)
				if cl.delete == unknown && r.create == acked && len(got) == 0 {
					// The cluster is there, so its delete was not
					// applied: none of its associations may be gone.
					tl.fail(t, wrongState, "cluster %s survived its DeleteCluster without %s: deleted in part", cl.name, r.serviceAccount)
					continue
				}
				t.Run(cl.name+"/"+r.serviceAccount, func(t *testing.T) { checkRecord(t, tl, r, got) })
			}
			for sa, got := range stored {
				tl.fail(t, wrongState, "cluster %s: association %v for %s was never requested", cl.name, ids(got), sa)
			}
		}
	}
}

// resolve deletes every cluster of the churn still there, as a client
// would finish its work after the restart; afterwards none is left.
func (ch *churn) resolve(ctx context.Context, t *testing.T, c *eks.Client) {
	t.Helper()
	for _, cl := range ch.clusters {
		if cl.delete == acked {
			continue
		}
		_, err := c.DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String(cl.name)})
		if err != nil && apiError(err) != "ResourceNotFoundException" {
			t.Errorf("DeleteCluster %s after the restart: %v", cl.name, err)
			continue
		}
		cl.delete = acked
	}
}
