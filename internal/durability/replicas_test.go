package durability

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/podid/podid/internal/store/postgres/pgtest"
)

// startReplicas starts n podid serve replicas on one fresh PostgreSQL
// schema (skipping without TEST_POSTGRES_DSN), the i-th with extra[i]'s
// flags if given, and returns them and the DSN.
func startReplicas(t testing.TB, n int, extra ...[]string) ([]*server, string) {
	t.Helper()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	var out []*server
	for i := range n {
		var flags []string
		if i < len(extra) {
			flags = extra[i]
		}
		out = append(out, startServer(t, "replica "+string(rune('A'+i)), dsn, flags...))
	}
	return out, dsn
}

func integrityPostgres(ctx context.Context, t *testing.T, dsn string) {
	t.Helper()
	if err := postgresIntegrity(dsn)(ctx); err != nil {
		t.Errorf("integrity check: %v", err)
	}
}

// TestReplicaKilledUnderLoad: two replicas share a load; one is killed
// with SIGKILL; clients send each write without an answer again, with the
// same client request token, to the other. Every write is acknowledged in
// the end, and the store holds exactly what the clients were told: nothing
// lost, one association per key, retried creates answered with the
// association the first attempt made.
func TestReplicaKilledUnderLoad(t *testing.T) {
	t.Parallel()
	const cluster = "replicated"
	rs, dsn := startReplicas(t, 2)
	a, b := rs[0], rs[1]
	createCluster(t, a.eks(), cluster)
	l := newLoad(t, cluster, killWriters, true, a.eks(), b.eks())
	l.start()
	l.waitAcks(t, 150, 40*time.Second)
	a.Kill(t)
	l.waitAcks(t, 300, 40*time.Second) // on B alone from now on
	l.end()
	inFlight, retries, replays := l.report(t)
	t.Logf("%d acknowledged writes, %d sent again to replica B, %d of them applied by A before it died", l.acks.Load(), retries, replays)
	if inFlight != 0 {
		t.Errorf("%d writes left without an answer; with the retries against replica B, want none", inFlight)
	}
	if retries == 0 {
		t.Error("no write was sent again to replica B: the kill did not interrupt the load")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	l.check(ctx, t, b.eks(), nil)
	b.Stop(t)
	integrityPostgres(ctx, t, dsn)
}

// TestReplicasConsistent: what is written on one replica is read on the
// other at once: Describe, List, tags, and deletions.
func TestReplicasConsistent(t *testing.T) {
	t.Parallel()
	const cluster = "consistent"
	rs, _ := startReplicas(t, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	createCluster(t, rs[0].eks(), cluster)
	if _, err := rs[1].eks().DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(cluster)}); err != nil {
		t.Fatalf("DescribeCluster on B after CreateCluster on A: %v", err)
	}
	for i := range 10 {
		w, r := rs[i%2].eks(), rs[(i+1)%2].eks()
		sa := "sa-" + strconv.Itoa(i)
		created, err := w.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
			Namespace: aws.String("ns"), ServiceAccount: aws.String(sa), RoleArn: aws.String(roleARN(sa + "-v1")),
			Tags: map[string]string{"i": strconv.Itoa(i)}})
		if err != nil {
			t.Fatal(err)
		}
		id := created.Association.AssociationId
		checkDescribe(ctx, t, r, "create", created.Association)
		list, err := r.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(cluster),
			Namespace: aws.String("ns"), ServiceAccount: aws.String(sa)})
		if err != nil || len(list.Associations) != 1 || aws.ToString(list.Associations[0].AssociationId) != aws.ToString(id) {
			t.Errorf("List for %s on the other replica after the create: %v, %+v; want %s", sa, err, list, aws.ToString(id))
		}

		updated, err := w.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
			AssociationId: id, RoleArn: aws.String(roleARN(sa + "-v2"))})
		if err != nil {
			t.Fatal(err)
		}
		checkDescribe(ctx, t, r, "update", updated.Association)

		if _, err := w.TagResource(ctx, &eks.TagResourceInput{ResourceArn: created.Association.AssociationArn,
			Tags: map[string]string{"added": "yes"}}); err != nil {
			t.Fatal(err)
		}
		tags, err := r.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: created.Association.AssociationArn})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tags.Tags, map[string]string{"i": strconv.Itoa(i), "added": "yes"}); diff != "" {
			t.Errorf("tags on the other replica after TagResource (-got +want):\n%s", diff)
		}

		if _, err := w.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: aws.String(cluster),
			AssociationId: id}); err != nil {
			t.Fatal(err)
		}
		_, err = r.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String(cluster), AssociationId: id})
		if code := apiError(err); code != "ResourceNotFoundException" {
			t.Errorf("Describe on the other replica after the delete: %v, want ResourceNotFoundException", err)
		}
	}
	list, err := rs[1].eks().ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(cluster)})
	if err != nil || len(list.Associations) != 0 {
		t.Errorf("List after every association was deleted: %v, %+v; want none", err, list)
	}

	// A client request token used on one replica is known to the other.
	in := &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster), Namespace: aws.String("ns"),
		ServiceAccount: aws.String("idem"), RoleArn: aws.String(roleARN("idem")), ClientRequestToken: aws.String(requestToken())}
	first, again := sendTwice(t, "create", rs[0], rs[1],
		func(c *eks.Client) (*eks.CreatePodIdentityAssociationOutput, error) {
			return c.CreatePodIdentityAssociation(ctx, in)
		},
		func(out *eks.CreatePodIdentityAssociationOutput) *types.PodIdentityAssociation {
			return out.Association
		})
	firstRev, err := writeRevision(first.ResultMetadata)
	if err != nil {
		t.Fatal(err)
	}
	if againRev, err := writeRevision(again.ResultMetadata); err != nil || againRev < firstRev {
		t.Errorf("X-Podid-Revision of the replayed create: %d, %v; want at least the create's, %d", againRev, err, firstRev)
	}
	other := *in
	other.RoleArn = aws.String(roleARN("idem-other"))
	_, err = rs[1].eks().CreatePodIdentityAssociation(ctx, &other)
	if code := apiError(err); code != "InvalidParameterException" {
		t.Errorf("create on B with A's token and another role: %v; want InvalidParameterException", err)
	}
	up := &eks.UpdatePodIdentityAssociationInput{ClusterName: aws.String(cluster), AssociationId: first.Association.AssociationId,
		RoleArn: aws.String(roleARN("idem-2")), ClientRequestToken: aws.String(requestToken())}
	sendTwice(t, "update", rs[1], rs[0],
		func(c *eks.Client) (*eks.UpdatePodIdentityAssociationOutput, error) {
			return c.UpdatePodIdentityAssociation(ctx, up)
		},
		func(out *eks.UpdatePodIdentityAssociationOutput) *types.PodIdentityAssociation {
			return out.Association
		})
}

// sendTwice sends a write (what) holding a client request token to replica
// a, then again to replica b, and checks that b answers with the
// association a did. It returns both answers.
func sendTwice[Out any](t *testing.T, what string, a, b *server, send func(*eks.Client) (Out, error),
	association func(Out) *types.PodIdentityAssociation) (first, again Out) {
	t.Helper()
	first, err := send(a.eks())
	if err != nil {
		t.Fatalf("%s on %s: %v", what, a.Name(), err)
	}
	again, err = send(b.eks())
	if err != nil {
		t.Fatalf("%s sent again to %s with the token used on %s: %v", what, b.Name(), a.Name(), err)
	}
	if diff := cmp.Diff(association(again), association(first), ignoreSerde); diff != "" {
		t.Errorf("%s sent again to %s with the token used on %s (-got +want):\n%s", what, b.Name(), a.Name(), diff)
	}
	return first, again
}

// TestClusterRecreatedAcrossReplicas: a cluster deleted on A and created
// again under its name keeps none of its old associations on B's
// credential path, and the new cluster's tokens work there.
func TestClusterRecreatedAcrossReplicas(t *testing.T) {
	t.Parallel()
	const cluster, ns, sa = "recreated", "ns", "app"
	rs, _ := startReplicas(t, 2)
	a, b := rs[0], rs[1]
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	createCluster(t, a.eks(), cluster)
	createAssociation(ctx, t, a, cluster, ns, sa, "old")
	b.podidWait(t)
	oldToken := b.token(t, cluster, ns, sa)
	if got, err := b.assumedRole(ctx, cluster, oldToken); err != nil || got != "old" {
		t.Fatalf("EKS Auth on B before the cluster is deleted: %q, %v; want old", got, err)
	}
	if _, err := a.eks().DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String(cluster)}); err != nil {
		t.Fatal(err)
	}
	createCluster(t, a.eks(), cluster)
	b.podidWait(t)
	token := b.token(t, cluster, ns, sa)
	if got, err := b.assumedRole(ctx, cluster, token); err != nil || got != "error:ResourceNotFoundException" {
		t.Errorf("EKS Auth on B for the recreated cluster, before any association: %q, %v; want ResourceNotFoundException", got, err)
	}
	createAssociation(ctx, t, a, cluster, ns, sa, "new")
	b.podidWait(t)
	if got, err := b.assumedRole(ctx, cluster, token); err != nil || got != "new" {
		t.Errorf("EKS Auth on B for the recreated cluster's association: %q, %v; want new", got, err)
	}
	if got, err := b.assumedRole(ctx, cluster, oldToken); err != nil || !strings.HasPrefix(got, "error:") {
		t.Errorf("EKS Auth on B with a token of the deleted cluster: %q, %v; want it refused", got, err)
	}
}

// checkDescribe checks that c describes the association as want.
func checkDescribe(ctx context.Context, t *testing.T, c *eks.Client, after string, want *types.PodIdentityAssociation) {
	t.Helper()
	got, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: want.ClusterName,
		AssociationId: want.AssociationId})
	if err != nil {
		t.Fatalf("Describe on the other replica after the %s: %v", after, err)
	}
	if diff := cmp.Diff(got.Association, want, ignoreSerde); diff != "" {
		t.Errorf("Describe on the other replica after the %s (-got +want):\n%s", after, diff)
	}
}

// TestPropagationAcrossReplicas: a change acknowledged on replica A is in
// B's credentials once B's wait API says its revision is in effect, while
// a write load runs on both replicas: updates of one association, and
// creates and deletes of others.
func TestPropagationAcrossReplicas(t *testing.T) {
	t.Parallel()
	const cluster, ns, sa = "propagation", "ns", "app"
	rs, _ := startReplicas(t, 2)
	a, b := rs[0], rs[1]
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	createCluster(t, a.eks(), cluster)
	id := createAssociation(ctx, t, a, cluster, ns, sa, "prop-0")
	token := b.token(t, cluster, ns, sa)
	l := newLoad(t, cluster, 4, false, a.eks(), b.eks())
	l.start()
	// waitOnB waits on B for the revision of a write acknowledged on A and
	// checks EKS Auth on B for a pod of serviceAccount right after.
	waitOnB := func(rev int64, token, what, wantRole string) {
		t.Helper()
		got, err := b.waitRevision(ctx, rev, 10*time.Second)
		if err != nil {
			t.Fatalf("wait on B for revision %d (the %s on A): %v", rev, what, err)
		}
		if got < rev {
			t.Errorf("wait on B for revision %d answered revision %d in effect", rev, got)
		}
		if r, err := b.assumedRole(ctx, cluster, token); err != nil || r != wantRole {
			t.Fatalf("EKS Auth on B right after its wait for revision %d (the %s on A): %q, %v; want %q", rev, what, r, err, wantRole)
		}
	}
	for i := 1; i <= 30; i++ {
		role := "prop-" + strconv.Itoa(i)
		waitOnB(updateRole(ctx, t, a, cluster, id, role), token, "update", role)
		if i%5 != 0 {
			continue
		}
		other := "other-" + strconv.Itoa(i)
		out, err := a.eks().CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
			Namespace: aws.String(ns), ServiceAccount: aws.String(other), RoleArn: aws.String(roleARN(other))})
		if err != nil {
			t.Fatal(err)
		}
		rev, err := writeRevision(out.ResultMetadata)
		if err != nil {
			t.Fatal(err)
		}
		otherToken := b.token(t, cluster, ns, other)
		waitOnB(rev, otherToken, "create", other)
		del, err := a.eks().DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: aws.String(cluster),
			AssociationId: out.Association.AssociationId})
		if err != nil {
			t.Fatal(err)
		}
		if rev, err = writeRevision(del.ResultMetadata); err != nil {
			t.Fatal(err)
		}
		waitOnB(rev, otherToken, "delete", "error:ResourceNotFoundException")
	}
	l.end()
	if inFlight, _, _ := l.report(t); inFlight != 0 {
		t.Errorf("%d writes of the background load without an answer", inFlight)
	}
	t.Logf("%d writes of the background load meanwhile", l.acks.Load())
}

func createAssociation(ctx context.Context, t testing.TB, s *server, cluster, ns, sa, role string) string {
	t.Helper()
	out, err := s.eks().CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
		Namespace: aws.String(ns), ServiceAccount: aws.String(sa), RoleArn: aws.String(roleARN(role))})
	if err != nil {
		t.Fatalf("CreatePodIdentityAssociation on %s: %v", s.Name(), err)
	}
	return aws.ToString(out.Association.AssociationId)
}

// updateRole sets the association's role on s and returns the write's
// revision (X-Podid-Revision).
func updateRole(ctx context.Context, t testing.TB, s *server, cluster, id, role string) int64 {
	t.Helper()
	out, err := s.eks().UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
		AssociationId: aws.String(id), RoleArn: aws.String(roleARN(role))})
	if err != nil {
		t.Fatalf("UpdatePodIdentityAssociation on %s: %v", s.Name(), err)
	}
	rev, err := writeRevision(out.ResultMetadata)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// podidWait runs podid wait against s with args and returns the revision
// it reports in effect.
func (s *server) podidWait(t *testing.T, args ...string) int64 {
	t.Helper()
	out, err := s.CLI(t, nil, append([]string{"wait", "--timeout", "20s"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var rev int64
	if _, err := fmt.Sscanf(out, "in effect: revision %d\n", &rev); err != nil {
		t.Fatalf("podid wait printed %q: %v", out, err)
	}
	return rev
}

// TestWaitAcrossReplicas: podid wait on replica B for a write acknowledged
// on replica A returns only once B's credential path has it, for a create,
// an update and a delete, by revision and by association. B holds changes
// back (--propagation-delay), so a wait that returned early would show the
// old state.
func TestWaitAcrossReplicas(t *testing.T) {
	t.Parallel()
	const cluster, ns, sa = "waiting", "ns", "app"
	const delay = 300 * time.Millisecond
	rs, _ := startReplicas(t, 2, nil, []string{"--propagation-delay", delay.String()})
	a, b := rs[0], rs[1]
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	createCluster(t, a.eks(), cluster)
	token := b.token(t, cluster, ns, sa)
	assumed := func(after string, want string) {
		t.Helper()
		if got, err := b.assumedRole(ctx, cluster, token); err != nil || got != want {
			t.Errorf("EKS Auth on B right after podid wait for the %s on A: %q, %v; want %q", after, got, err, want)
		}
	}

	out, err := a.eks().CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
		Namespace: aws.String(ns), ServiceAccount: aws.String(sa), RoleArn: aws.String(roleARN("wait-1"))})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := writeRevision(out.ResultMetadata)
	if err != nil {
		t.Fatal(err)
	}
	acked := time.Now()
	if got := b.podidWait(t, "--revision", strconv.FormatInt(rev, 10)); got < rev {
		t.Errorf("podid wait --revision %d on B reported revision %d in effect", rev, got)
	}
	if waited := time.Since(acked); waited < delay/2 {
		t.Errorf("podid wait on B returned %s after the create, want about %s (B's propagation delay)", waited, delay)
	}
	assumed("create", "wait-1")

	id := aws.ToString(out.Association.AssociationId)
	rev = updateRole(ctx, t, a, cluster, id, "wait-2")
	if got := b.podidWait(t, "--cluster", cluster, "--association-id", id); got < rev {
		t.Errorf("podid wait --association-id on B reported revision %d in effect, the update is %d", got, rev)
	}
	assumed("update", "wait-2")

	rev = updateRole(ctx, t, a, cluster, id, "wait-3")
	b.podidWait(t, "--revision", strconv.FormatInt(rev, 10))
	assumed("second update", "wait-3")

	del, err := a.eks().DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: aws.String(cluster),
		AssociationId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if rev, err = writeRevision(del.ResultMetadata); err != nil {
		t.Fatal(err)
	}
	if got := b.podidWait(t, "--cluster", cluster, "--association-id", id); got < rev {
		t.Errorf("podid wait --association-id on B after the delete reported revision %d in effect, the delete is %d", got, rev)
	}
	assumed("delete", "error:ResourceNotFoundException")
}

// BenchmarkPropagation measures how long a change acknowledged on replica
// A takes to reach replica B's credential path: each iteration updates an
// association's role on A, then waits on B's wait API for the write's
// revision, and (at the same time) calls B's EKS Auth until the new role
// comes back. It reports the 50th and 99th percentiles of both, in
// milliseconds from A's acknowledgement (the goal: credentials
// p99 at most 200 ms). Run:
//
//	eval "$(ci/postgres.sh)"
//	go test ./internal/durability -run '^$' -bench Propagation -benchtime 200x
func BenchmarkPropagation(b *testing.B) {
	const cluster, ns, sa = "bench", "ns", "app"
	rs, _ := startReplicas(b, 2)
	ra, rb := rs[0], rs[1]
	ctx := b.Context()
	createCluster(b, ra.eks(), cluster)
	id := createAssociation(ctx, b, ra, cluster, ns, sa, "bench-0")
	token := rb.token(b, cluster, ns, sa)
	var waits, creds []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		role := "bench-" + strconv.Itoa(i+1)
		rev := updateRole(ctx, b, ra, cluster, id, role)
		acked := time.Now()
		waited := make(chan error, 1)
		go func() {
			_, err := rb.waitRevision(ctx, rev, 10*time.Second)
			if err == nil {
				waits = append(waits, time.Since(acked))
			}
			waited <- err
		}()
		seen, err := pollRole(ctx, rb, cluster, token, role, acked.Add(10*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		creds = append(creds, seen.Sub(acked))
		if err := <-waited; err != nil {
			b.Fatalf("wait on B for revision %d: %v", rev, err)
		}
	}
	b.StopTimer()
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"credentials", creds}, {"wait", waits}} {
		p50, p99 := percentile(m.d, 50), percentile(m.d, 99)
		b.ReportMetric(float64(p50)/1e6, m.name+"-p50-ms")
		b.ReportMetric(float64(p99)/1e6, m.name+"-p99-ms")
		b.Logf("A's acknowledgement to B's %s, %d updates: p50 %s, p99 %s, max %s", m.name, len(m.d), p50, p99, percentile(m.d, 100))
	}
}

// pollRole calls EKS Auth on s until it answers with role, and returns
// when it did.
func pollRole(ctx context.Context, s *server, cluster, token, role string, deadline time.Time) (time.Time, error) {
	last := ""
	for time.Now().Before(deadline) {
		got, err := s.assumedRole(ctx, cluster, token)
		if err != nil {
			return time.Time{}, err
		}
		if got == role {
			return time.Now(), nil
		}
		last = got
	}
	return time.Time{}, errors.New("EKS Auth on " + s.Name() + " still answers role " + last + ", want " + role)
}

// percentile returns the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i, 1)-1]
}

// TestWaitWithDelayCoalescedUpdates: replica B holds changes back
// (--propagation-delay) and reads the change feed late, when an
// association has been updated twice (the feed gives only its latest
// state) with another association's update between the two. A wait on B
// for the first update's revision must not return while B still has the
// association as it was before that update.
func TestWaitWithDelayCoalescedUpdates(t *testing.T) {
	t.Parallel()
	const cluster, ns = "coalesced", "ns"
	const delay = time.Second
	rs, _ := startReplicas(t, 2, nil, []string{"--propagation-delay", delay.String()})
	a, b := rs[0], rs[1]
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	createCluster(t, a.eks(), cluster)
	x := createAssociation(ctx, t, a, cluster, ns, "x", "x-0")
	y := createAssociation(ctx, t, a, cluster, ns, "y", "y-0")
	rev := updateRole(ctx, t, a, cluster, y, "y-0b") // covers both creates
	token := b.token(t, cluster, ns, "x")
	if _, err := b.waitRevision(ctx, rev, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	// B reads nothing while stopped: it reads the three updates at once
	// when it resumes.
	if err := b.Proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			b.Proc.Signal(syscall.SIGCONT)
		}
	}
	defer resume()
	first := updateRole(ctx, t, a, cluster, x, "x-1")
	updateRole(ctx, t, a, cluster, y, "y-1")
	// Space the commits so that on B the second update of x falls due
	// well after the update of y.
	time.Sleep(delay / 2)
	updateRole(ctx, t, a, cluster, x, "x-2")
	resume()

	if _, err := b.waitRevision(ctx, first, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	got, err := b.assumedRole(ctx, cluster, token)
	if err != nil || (got != "x-1" && got != "x-2") {
		t.Errorf("EKS Auth on B right after its wait for revision %d (x's role set to x-1): %q, %v; want x-1 or a later role", first, got, err)
	}
}

// TestListenerLost: when the replicas' notification connections are cut
// (pg_terminate_backend), a change acknowledged on A still reaches B's
// credential path, the listeners come back, and later changes propagate
// as before.
func TestListenerLost(t *testing.T) {
	t.Parallel()
	const cluster, ns, sa = "listener", "ns", "app"
	rs, dsn := startReplicas(t, 2)
	a, b := rs[0], rs[1]
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	createCluster(t, a.eks(), cluster)
	id := createAssociation(ctx, t, a, cluster, ns, sa, "listen-0")
	token := b.token(t, cluster, ns, sa)
	b.podidWait(t)

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	schema, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pattern := "LISTEN %podid_changes_" + schema.Query().Get("search_path") + "%"
	listeners := func() int {
		t.Helper()
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()", pattern).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := listeners(); n != 2 {
		t.Fatalf("%d connections listening for the schema's changes, want 2 (one per replica)", n)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()", pattern); err != nil {
		t.Fatal(err)
	}

	for i := 1; i <= 3; i++ {
		role := "listen-" + strconv.Itoa(i)
		updateRole(ctx, t, a, cluster, id, role)
		acked := time.Now()
		if _, err := pollRole(ctx, b, cluster, token, role, acked.Add(10*time.Second)); err != nil {
			t.Fatalf("update %d after the listeners were cut: %v", i, err)
		}
		t.Logf("update %d after the listeners were cut: on B's credential path after %s", i, time.Since(acked))
	}
	deadline := time.Now().Add(10 * time.Second)
	for listeners() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections listening 10s after they were cut, want 2 again", listeners())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReplicasStartTogether: three replicas started at the same moment on
// an empty schema migrate it once between them, and all serve it.
func TestReplicasStartTogether(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	var rs []*server
	for i := range 3 {
		rs = append(rs, launchServer(t, "replica "+string(rune('A'+i)), dsn))
	}
	for _, r := range rs {
		r.Ready(t)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	createCluster(t, rs[0].eks(), "together")
	id := createAssociation(ctx, t, rs[1], "together", "ns", "app", "together-1")
	for _, r := range rs {
		out, err := r.eks().DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
			ClusterName: aws.String("together"), AssociationId: aws.String(id)})
		if err != nil || aws.ToString(out.Association.RoleArn) != roleARN("together-1") {
			t.Errorf("Describe on %s: %v, %+v", r.Name(), err, out)
		}
	}
	rs[2].Stop(t)
	integrityPostgres(ctx, t, dsn)
}
