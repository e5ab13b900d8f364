package durability

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/podid/podid/internal/store/postgres"
	"github.com/podid/podid/internal/store/postgres/pgtest"
	"github.com/podid/podid/internal/store/sqlite"
)

// The write load of the kill tests.
const (
	killWriters   = 8   // concurrent clients
	killHotPerW   = 2   // associations each writer updates over and over
	killAfterAcks = 300 // acknowledged writes before SIGKILL
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

// outcome is what a client knows of a write.
type outcome int

const (
	notSent outcome = iota
	unknown         // sent, no answer: it may or may not have been applied
	acked           // answered 200 with its result
)

// keyRecord is a client's knowledge of one (namespace, service account).
type keyRecord struct {
	namespace, serviceAccount string
	requested                 eks.CreatePodIdentityAssociationInput
	create                    outcome
	created                   *types.PodIdentityAssociation // when create is acked
	delete                    outcome

	// Hot keys (created before the load, updated over and over): update
	// sequence numbers, the acknowledged results by sequence (0: the
	// create), the last acknowledged and the last sent.
	hot                  bool
	updates              map[int]*types.PodIdentityAssociation
	lastAcked, lastTried int
}

// writer is one client of the load; its records are its own until the
// load ends.
type writer struct {
	n       int
	c       *eks.Client
	records []*keyRecord
	hot     []*keyRecord
	errs    []string // answers that are neither success nor expected
}

func hotRole(w, k, seq int) string { return roleARN(fmt.Sprintf("hot-%d-%d-u%d", w, k, seq)) }
func hotTarget(w, k, seq int) string {
	return fmt.Sprintf("arn:aws:iam::%s:role/hot-%d-%d-t%d", targetAccount, w, k, seq)
}
func hotPolicy(seq int) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"u%d","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`, seq)
}

// runKillTest runs the load against podid serve on storeDSN, kills the
// server after killAfterAcks acknowledged writes, restarts it on the same
// store, checks every association against what the clients were told,
// stops it and runs integrity on the store.
func runKillTest(t *testing.T, storeDSN string, integrity func(context.Context) error) {
	srv := startServer(t, "podid serve", storeDSN)
	createCluster(t, srv.eks(), killCluster)

	writers := make([]*writer, killWriters)
	for w := range writers {
		wr := &writer{n: w, c: srv.eks()}
		for k := range killHotPerW {
			rec := wr.newRecord(fmt.Sprintf("hot-%d-%d", w, k), &eks.CreatePodIdentityAssociationInput{
				RoleArn: aws.String(hotRole(w, k, 0)), TargetRoleArn: aws.String(hotTarget(w, k, 0)), Policy: aws.String(hotPolicy(0)),
				DisableSessionTags: aws.Bool(true),
				Tags:               map[string]string{"writer": strconv.Itoa(w), "hot": strconv.Itoa(k), "kind": "hot"}})
			rec.hot = true
			rec.updates = map[int]*types.PodIdentityAssociation{}
			if err := wr.create(t.Context(), rec); err != nil {
				t.Fatalf("creating hot association %s: %v", rec.serviceAccount, err)
			}
			rec.updates[0] = rec.created
			wr.hot = append(wr.hot, rec)
		}
		writers[w] = wr
	}

	var acks atomic.Int64
	var stop atomic.Bool
	reached := make(chan struct{})
	var once sync.Once
	ack := func() {
		if acks.Add(1) >= killAfterAcks {
			once.Do(func() { close(reached) })
		}
	}
	var wg sync.WaitGroup
	for _, wr := range writers {
		wg.Go(func() { wr.run(&stop, ack) })
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	select {
	case <-reached:
	case <-allDone:
		t.Fatalf("the writers stopped after %d acknowledged writes, before the kill", acks.Load())
	case <-time.After(40 * time.Second):
		stop.Store(true)
		<-allDone
		t.Fatalf("only %d acknowledged writes within 40s", acks.Load())
	}
	srv.kill(t) // with writes in flight; the writers end at their first unanswered one
	stop.Store(true)
	<-allDone

	inFlight := 0
	for _, wr := range writers {
		for _, e := range wr.errs {
			t.Errorf("writer %d: %s", wr.n, e)
		}
		for _, r := range wr.records {
			if r.create == unknown || r.delete == unknown || (r.hot && r.lastTried > r.lastAcked) {
				inFlight++
			}
		}
	}
	t.Logf("killed after %d acknowledged writes, %d in flight", acks.Load(), inFlight)

	srv2 := startServer(t, "podid serve (restarted)", storeDSN)
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	stored := listAll(ctx, t, srv2.eks(), killCluster)
	for _, wr := range writers {
		for _, r := range wr.records {
			got := stored[r.serviceAccount]
			delete(stored, r.serviceAccount)
			t.Run(r.serviceAccount, func(t *testing.T) { checkRecord(t, r, got) })
		}
	}
	for sa, got := range stored {
		t.Errorf("association %v for service account %s was never requested", ids(got), sa)
	}

	// The restarted server takes writes.
	if _, err := srv2.eks().CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String(killCluster), Namespace: aws.String("after"), ServiceAccount: aws.String("restart"),
		RoleArn: aws.String(roleARN("after-restart"))}); err != nil {
		t.Errorf("CreatePodIdentityAssociation after the restart: %v", err)
	}
	srv2.stop(t)
	if err := integrity(ctx); err != nil {
		t.Errorf("integrity check after kill and restart: %v", err)
	}
}

func (wr *writer) newRecord(sa string, in *eks.CreatePodIdentityAssociationInput) *keyRecord {
	in.ClusterName, in.Namespace, in.ServiceAccount = aws.String(killCluster), aws.String("load"), aws.String(sa)
	r := &keyRecord{namespace: "load", serviceAccount: sa, requested: *in}
	wr.records = append(wr.records, r)
	return r
}

// run writes until stop: mostly creates, every fourth write an update
// of a hot association, every fourth a delete of an earlier create. It
// ends at its first write without an answer.
func (wr *writer) run(stop *atomic.Bool, ack func()) {
	var deletable []*keyRecord
	for i := 0; !stop.Load(); i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var err error
		switch {
		case i%4 == 1:
			err = wr.update(ctx, wr.hot[i/4%len(wr.hot)])
		case i%4 == 3 && len(deletable) > 0:
			err = wr.delete(ctx, deletable[0])
			deletable = deletable[1:]
		default:
			in := &eks.CreatePodIdentityAssociationInput{RoleArn: aws.String(roleARN(fmt.Sprintf("c-%d-%d", wr.n, i))),
				Tags: map[string]string{"writer": strconv.Itoa(wr.n), "i": strconv.Itoa(i), "kind": "create"}}
			if i%2 == 0 {
				in.TargetRoleArn = aws.String(fmt.Sprintf("arn:aws:iam::%s:role/ct-%d-%d", targetAccount, wr.n, i))
			}
			if i%3 == 0 {
				in.Policy = aws.String(hotPolicy(i))
				in.DisableSessionTags = aws.Bool(true)
			}
			r := wr.newRecord(fmt.Sprintf("c-%d-%d", wr.n, i), in)
			if err = wr.create(ctx, r); err == nil {
				deletable = append(deletable, r)
			}
		}
		cancel()
		if err != nil {
			if code := apiError(err); code != "" {
				wr.errs = append(wr.errs, err.Error())
			}
			return
		}
		ack()
	}
}

func (wr *writer) create(ctx context.Context, r *keyRecord) error {
	in := r.requested
	r.create = unknown
	out, err := wr.c.CreatePodIdentityAssociation(ctx, &in)
	if err != nil {
		return err
	}
	r.create, r.created = acked, out.Association
	return nil
}

func (wr *writer) update(ctx context.Context, r *keyRecord) error {
	k, _ := strconv.Atoi(r.serviceAccount[strings.LastIndexByte(r.serviceAccount, '-')+1:])
	seq := r.lastTried + 1
	r.lastTried = seq
	out, err := wr.c.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{
		ClusterName: aws.String(killCluster), AssociationId: r.created.AssociationId,
		RoleArn: aws.String(hotRole(wr.n, k, seq)), TargetRoleArn: aws.String(hotTarget(wr.n, k, seq)), Policy: aws.String(hotPolicy(seq)),
		DisableSessionTags: aws.Bool(true)})
	if err != nil {
		return err
	}
	r.lastAcked, r.updates[seq] = seq, out.Association
	return nil
}

func (wr *writer) delete(ctx context.Context, r *keyRecord) error {
	r.delete = unknown
	if _, err := wr.c.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{
		ClusterName: aws.String(killCluster), AssociationId: r.created.AssociationId}); err != nil {
		return err
	}
	r.delete = acked
	return nil
}

// listAll lists the cluster's associations and describes each, keyed by
// service account (every key here is in one namespace); more than one
// per key is a duplicate, which checkRecord reports.
func listAll(ctx context.Context, t *testing.T, c *eks.Client, cluster string) map[string][]*types.PodIdentityAssociation {
	t.Helper()
	out := map[string][]*types.PodIdentityAssociation{}
	seen := map[string]bool{}
	p := eks.NewListPodIdentityAssociationsPaginator(c, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(cluster)})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > 1000 {
			t.Fatal("more than 1000 pages of associations")
		}
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListPodIdentityAssociations: %v", err)
		}
		for _, s := range page.Associations {
			id := aws.ToString(s.AssociationId)
			if seen[id] {
				t.Errorf("association %s listed twice", id)
				continue
			}
			seen[id] = true
			d, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
				ClusterName: aws.String(cluster), AssociationId: s.AssociationId})
			if err != nil {
				t.Fatalf("DescribePodIdentityAssociation %s (listed): %v", id, err)
			}
			a := d.Association
			if aws.ToString(a.Namespace) != aws.ToString(s.Namespace) || aws.ToString(a.ServiceAccount) != aws.ToString(s.ServiceAccount) {
				t.Errorf("association %s listed as %s/%s, described as %s/%s", id, aws.ToString(s.Namespace),
					aws.ToString(s.ServiceAccount), aws.ToString(a.Namespace), aws.ToString(a.ServiceAccount))
			}
			out[aws.ToString(a.ServiceAccount)] = append(out[aws.ToString(a.ServiceAccount)], a)
		}
	}
	return out
}

func ids(as []*types.PodIdentityAssociation) []string {
	var out []string
	for _, a := range as {
		out = append(out, aws.ToString(a.AssociationId))
	}
	return out
}

var ignoreSerde = cmpopts.IgnoreUnexported(types.PodIdentityAssociation{})

// checkRecord checks what the restarted server holds for a key against
// what its client was told.
func checkRecord(t *testing.T, r *keyRecord, got []*types.PodIdentityAssociation) {
	if len(got) > 1 {
		t.Fatalf("%d associations for one key: %v", len(got), ids(got))
	}
	var a *types.PodIdentityAssociation
	if len(got) == 1 {
		a = got[0]
		checkWhole(t, a)
	}
	switch {
	case r.delete == acked:
		if a != nil {
			t.Errorf("acknowledged delete of %s, but the association is there: %+v", aws.ToString(r.created.AssociationId), a)
		}
	case r.create == unknown && a != nil:
		checkRequested(t, r, a)
	case r.create == unknown:
		// Not applied: allowed for a write without an answer.
	case a == nil && r.delete == unknown:
		// Deleted by the write in flight.
	case a == nil:
		t.Errorf("acknowledged create of %s lost", aws.ToString(r.created.AssociationId))
	case r.hot:
		checkHot(t, r, a)
	default:
		if diff := cmp.Diff(a, r.created, ignoreSerde); diff != "" {
			t.Errorf("association differs from the acknowledged create (-got +want):\n%s", diff)
		}
	}
}

// checkWhole checks that an association is not half-applied.
func checkWhole(t *testing.T, a *types.PodIdentityAssociation) {
	t.Helper()
	if (aws.ToString(a.TargetRoleArn) != "") != (aws.ToString(a.ExternalId) != "") {
		t.Errorf("targetRoleArn %q with externalId %q: want an external ID exactly when there is a target role",
			aws.ToString(a.TargetRoleArn), aws.ToString(a.ExternalId))
	}
	if a.Tags["writer"] == "" || a.Tags["kind"] == "" || len(a.Tags) != 3 {
		t.Errorf("tags %v: want all three the client sent", a.Tags)
	}
}

// checkRequested checks an association whose create had no answer: it
// must be exactly what was asked for.
func checkRequested(t *testing.T, r *keyRecord, a *types.PodIdentityAssociation) {
	t.Helper()
	in := r.requested
	want := &types.PodIdentityAssociation{ClusterName: in.ClusterName, Namespace: in.Namespace, ServiceAccount: in.ServiceAccount,
		RoleArn: in.RoleArn, TargetRoleArn: in.TargetRoleArn, Policy: in.Policy, DisableSessionTags: in.DisableSessionTags, Tags: in.Tags}
	if want.DisableSessionTags == nil {
		want.DisableSessionTags = aws.Bool(false)
	}
	opt := cmpopts.IgnoreFields(types.PodIdentityAssociation{}, "AssociationArn", "AssociationId", "CreatedAt", "ModifiedAt", "ExternalId", "OwnerArn")
	if diff := cmp.Diff(a, want, ignoreSerde, opt); diff != "" {
		t.Errorf("association created by a write without an answer differs from the request (-got +want):\n%s", diff)
	}
}

// checkHot checks a hot association: the state of one update, at least
// the last acknowledged one, at most the last sent; all of one update.
func checkHot(t *testing.T, r *keyRecord, a *types.PodIdentityAssociation) {
	t.Helper()
	seqOf := func(s, marker string) int {
		i := strings.LastIndex(s, marker)
		if i < 0 {
			return -1
		}
		digits := s[i+len(marker):]
		digits = digits[:len(digits)-len(strings.TrimLeft(digits, "0123456789"))]
		n, err := strconv.Atoi(digits)
		if err != nil {
			return -1
		}
		return n
	}
	seq := seqOf(aws.ToString(a.RoleArn), "-u")
	target, policy := seqOf(aws.ToString(a.TargetRoleArn), "-t"), seqOf(aws.ToString(a.Policy), `"Sid":"u`)
	if target != seq || policy != seq {
		t.Fatalf("half-applied update: role %s, target role %s, policy %s", aws.ToString(a.RoleArn), aws.ToString(a.TargetRoleArn), aws.ToString(a.Policy))
	}
	if seq < r.lastAcked || seq > r.lastTried {
		t.Fatalf("role %s is update %d; acknowledged up to %d, sent up to %d", aws.ToString(a.RoleArn), seq, r.lastAcked, r.lastTried)
	}
	if want, ok := r.updates[seq]; ok {
		if diff := cmp.Diff(a, want, ignoreSerde); diff != "" {
			t.Errorf("association differs from acknowledged update %d (-got +want):\n%s", seq, diff)
		}
	}
}
