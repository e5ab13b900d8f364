package durability

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

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
	requested                 eks.CreatePodIdentityAssociationInput // ClientRequestToken nil: a create without one
	create                    outcome
	created                   *types.PodIdentityAssociation // when create is acked
	delete                    outcome

	// Hot keys (created before the load, updated over and over): update
	// sequence numbers, the acknowledged results by sequence (0: the
	// create), the last acknowledged and the last sent.
	hot                  bool
	updates              map[int]*types.PodIdentityAssociation
	lastAcked, lastTried int
	pending              *eks.UpdatePodIdentityAssociationInput // the last update sent

	// Tag writes on a hot key, numbered from 1: odd ones TagResource
	// {tagSeqKey: "N"}, even ones UntagResource [tagSeqKey]. The last
	// acknowledged and the last sent.
	tagAcked, tagTried int
}

// tagSeqKey is the tag the load's tag writes set and remove.
const tagSeqKey = "tagseq"

// writer is one client of the load; its records are its own until the
// load ends. It sends each write to one of its clients in turn; with
// failover, a write without an answer is sent again, with the same client
// request token (as the SDK retries), to the next client.
type writer struct {
	n        int
	clients  []*eks.Client
	failover bool
	records  []*keyRecord
	hot      []*keyRecord
	errs     []string // answers that are neither success nor expected
	retries  int      // writes sent again to another replica
	replays  int      // retried writes that the first attempt had applied

	through5xx bool          // send a write again after a 5xx answer (see send)
	answers5xx int           // 5xx answers received
	slowest5xx time.Duration // the longest a 5xx answer took
}

func hotRole(w, k, seq int) string { return roleARN(fmt.Sprintf("hot-%d-%d-u%d", w, k, seq)) }
func hotTarget(w, k, seq int) string {
	return fmt.Sprintf("arn:aws:iam::%s:role/hot-%d-%d-t%d", targetAccount, w, k, seq)
}
func hotPolicy(seq int) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"u%d","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`, seq)
}

// load is a write load of n writers on one cluster.
type load struct {
	cluster string
	writers []*writer
	acks    atomic.Int64
	stop    atomic.Bool
	done    chan struct{} // closed when every writer has ended
}

// newLoad makes n writers over clients, each with killHotPerW hot
// associations created (and acknowledged) before the load starts.
func newLoad(t *testing.T, cluster string, n int, failover bool, clients ...*eks.Client) *load {
	t.Helper()
	l := &load{cluster: cluster, done: make(chan struct{})}
	for w := range n {
		wr := &writer{n: w, clients: clients, failover: failover}
		for k := range killHotPerW {
			rec := wr.newRecord(cluster, fmt.Sprintf("hot-%d-%d", w, k), &eks.CreatePodIdentityAssociationInput{
				RoleArn: aws.String(hotRole(w, k, 0)), TargetRoleArn: aws.String(hotTarget(w, k, 0)), Policy: aws.String(hotPolicy(0)),
				DisableSessionTags: aws.Bool(true),
				Tags:               map[string]string{"writer": strconv.Itoa(w), "hot": strconv.Itoa(k), "kind": "hot"}}, true)
			rec.hot = true
			rec.updates = map[int]*types.PodIdentityAssociation{}
			if err := wr.create(t.Context(), k, rec); err != nil {
				t.Fatalf("creating hot association %s: %v", rec.serviceAccount, err)
			}
			rec.updates[0] = rec.created
			wr.hot = append(wr.hot, rec)
		}
		l.writers = append(l.writers, wr)
	}
	return l
}

// start runs the writers until stop is set or a write fails.
func (l *load) start() {
	var wg sync.WaitGroup
	for _, wr := range l.writers {
		wg.Go(func() { wr.run(l) })
	}
	go func() { wg.Wait(); close(l.done) }()
}

// waitAcks waits for n acknowledged writes in all, or fails the test
// (stopping the writers) after timeout or if they end first.
func (l *load) waitAcks(t *testing.T, n int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for l.acks.Load() < n {
		select {
		case <-l.done:
			t.Fatalf("the writers ended after %d acknowledged writes, before %d", l.acks.Load(), n)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			l.end()
			t.Fatalf("only %d acknowledged writes within %s, want %d", l.acks.Load(), timeout, n)
		}
	}
}

// end stops the writers and waits for them.
func (l *load) end() {
	l.stop.Store(true)
	<-l.done
}

// report fails the test for every unexpected answer and returns the
// number of writes whose outcome is unknown, the number sent again to
// another client and how many of those the first attempt had applied.
func (l *load) report(t *testing.T) (inFlight, retries, replays int) {
	t.Helper()
	for _, wr := range l.writers {
		for _, e := range wr.errs {
			t.Errorf("writer %d: %s", wr.n, e)
		}
		for _, r := range wr.records {
			if r.create == unknown || r.delete == unknown || (r.hot && (r.lastTried > r.lastAcked || r.tagTried > r.tagAcked)) {
				inFlight++
			}
		}
		retries += wr.retries
		replays += wr.replays
	}
	return inFlight, retries, replays
}

// resolve sends every write left without an answer again to c, as a
// client retrying after the server came back would (with the same client
// request token): a create or update that was applied before the crash
// must be replayed, not applied twice or refused; afterwards every write
// is acknowledged, so a later check is exact. It returns how many writes
// it sent and how many of them had been applied before (replayed).
func (l *load) resolve(ctx context.Context, t *testing.T, c *eks.Client, restarted time.Time) (sent, replayed int) {
	t.Helper()
	defer func() {
		t.Logf("%s: %d writes without an answer sent again, %d of them applied before the crash", l.cluster, sent, replayed)
	}()
	for _, wr := range l.writers {
		for _, r := range wr.records {
			switch {
			case r.create == unknown:
				before, err := c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(l.cluster),
					Namespace: aws.String(r.namespace), ServiceAccount: aws.String(r.serviceAccount)})
				if err != nil {
					t.Fatal(err)
				}
				if r.requested.ClientRequestToken == nil && len(before.Associations) == 1 {
					// Applied before the crash; without a token the
					// client finds it rather than sending it again.
					a, err := findAssociation(ctx, c, r)
					if err != nil || a == nil {
						t.Fatalf("describing %s after the restart: %v", r.serviceAccount, err)
					}
					replayed++
					r.create, r.created = acked, a
					continue
				}
				in := r.requested
				sent++
				out, err := c.CreatePodIdentityAssociation(ctx, &in)
				if err != nil {
					t.Errorf("create of %s sent again with its token after the restart: %v", r.serviceAccount, err)
					continue
				}
				if len(before.Associations) == 1 && aws.ToString(before.Associations[0].AssociationId) != aws.ToString(out.Association.AssociationId) {
					t.Errorf("create of %s sent again with its token: association %s, but the first attempt made %s",
						r.serviceAccount, aws.ToString(out.Association.AssociationId), aws.ToString(before.Associations[0].AssociationId))
				}
				if len(before.Associations) == 1 {
					replayed++
				}
				r.create, r.created = acked, out.Association
			case r.delete == unknown:
				sent++
				_, err := c.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{
					ClusterName: aws.String(l.cluster), AssociationId: r.created.AssociationId})
				if apiError(err) == "ResourceNotFoundException" {
					replayed++
				} else if err != nil {
					t.Errorf("delete of %s sent again after the restart: %v", r.serviceAccount, err)
					continue
				}
				r.delete = acked
			case r.hot && r.lastTried > r.lastAcked:
				sent++
				out, err := c.UpdatePodIdentityAssociation(ctx, r.pending)
				if err != nil {
					t.Errorf("update %d of %s sent again with its token after the restart: %v", r.lastTried, r.serviceAccount, err)
					continue
				}
				if got, want := aws.ToString(out.Association.RoleArn), aws.ToString(r.pending.RoleArn); got != want {
					t.Errorf("update of %s sent again: role %s, want %s", r.serviceAccount, got, want)
				}
				if out.Association.ModifiedAt.Before(restarted) {
					replayed++
				}
				r.lastAcked, r.updates[r.lastTried] = r.lastTried, out.Association
			case r.hot && r.tagTried > r.tagAcked:
				sent++
				if err := sendTagWrite(ctx, c, r, r.tagTried); err != nil {
					t.Errorf("tag write %d of %s sent again after the restart: %v", r.tagTried, r.serviceAccount, err)
					continue
				}
				r.tagAcked = r.tagTried
			}
		}
	}
	return sent, replayed
}

// check compares every association on c with what the writers were told,
// counting in tl (which may be nil) what it checked and found.
func (l *load) check(ctx context.Context, t *testing.T, c *eks.Client, tl *tally) {
	t.Helper()
	stored := listAll(ctx, t, c, l.cluster)
	for _, wr := range l.writers {
		for _, r := range wr.records {
			got := stored[r.serviceAccount]
			delete(stored, r.serviceAccount)
			t.Run(r.serviceAccount, func(t *testing.T) { checkRecord(t, tl, r, got) })
		}
	}
	for sa, got := range stored {
		tl.fail(t, wrongState, "association %v for service account %s was never requested", ids(got), sa)
	}
	if tl != nil {
		tl.checked.Add(l.acks.Load())
	}
}

func (wr *writer) newRecord(cluster, sa string, in *eks.CreatePodIdentityAssociationInput, withToken bool) *keyRecord {
	in.ClusterName, in.Namespace, in.ServiceAccount = aws.String(cluster), aws.String("load"), aws.String(sa)
	if withToken {
		in.ClientRequestToken = aws.String(requestToken())
	}
	r := &keyRecord{namespace: "load", serviceAccount: sa, requested: *in}
	wr.records = append(wr.records, r)
	return r
}

// requestToken returns a new client request token.
func requestToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// maxWrites bounds each writer's writes.
const maxWrites = 5000

// run writes until l.stop: of every eight writes, two update a hot
// association (with a client request token), two delete an earlier create
// (when there is one), one tags or untags a hot association, and the rest
// create (one in three without a client request token). It ends at its
// first write without an answer.
func (wr *writer) run(l *load) {
	var deletable []*keyRecord
	for i := 0; i < maxWrites && !l.stop.Load(); i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var err error
		switch {
		case i%4 == 1:
			err = wr.update(ctx, i, l.cluster, wr.hot[i/4%len(wr.hot)])
		case i%4 == 3 && len(deletable) > 0:
			err = wr.delete(ctx, i, l.cluster, deletable[0])
			deletable = deletable[1:]
		case i%8 == 6:
			err = wr.tag(ctx, i, wr.hot[i/8%len(wr.hot)])
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
			r := wr.newRecord(l.cluster, fmt.Sprintf("c-%d-%d", wr.n, i), in, i%3 != 2)
			if err = wr.create(ctx, i, r); err == nil {
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
		l.acks.Add(1)
	}
}

// send sends one write with fn, to client i (mod their number), and with
// failover on to each other client in turn while there is no answer; with
// through5xx on, a 5xx answer is sent again too, to the next client after
// a pause, as an SDK retries, for up to through5xxFor. It returns fn's
// last error and whether the write was sent more than once.
func (wr *writer) send(i int, fn func(*eks.Client) error) (err error, retried bool) {
	tries := 1
	if wr.failover {
		tries = len(wr.clients)
	}
	var first5xx time.Time
	for k := 0; ; k++ {
		if k > 0 {
			wr.retries++
			retried = true
		}
		sent := time.Now()
		err = fn(wr.clients[(i+k)%len(wr.clients)])
		switch {
		case err == nil:
			return nil, retried
		case wr.through5xx && serverError(err):
			if first5xx.IsZero() {
				first5xx = sent
			}
			wr.answers5xx++
			wr.slowest5xx = max(wr.slowest5xx, time.Since(sent))
			if time.Since(first5xx) > through5xxFor {
				return err, retried
			}
			time.Sleep(through5xxPause) // a client's backoff
		case apiError(err) == "" && k+1 < tries:
			// No answer: the next client.
		default:
			return err, retried
		}
	}
}

// How long and how often a writer with through5xx sends a write again
// after 5xx answers.
const (
	through5xxFor   = 45 * time.Second
	through5xxPause = 20 * time.Millisecond
)

// serverError reports whether err is a 5xx answer.
func serverError(err error) bool {
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() >= 500
}

func (wr *writer) create(ctx context.Context, i int, r *keyRecord) error {
	in := r.requested
	r.create = unknown
	var out *eks.CreatePodIdentityAssociationOutput
	var sent time.Time // of the last attempt
	var last *eks.Client
	err, retried := wr.send(i, func(c *eks.Client) (err error) {
		sent, last = time.Now(), c
		out, err = c.CreatePodIdentityAssociation(ctx, &in)
		return err
	})
	if retried && in.ClientRequestToken == nil && apiError(err) == "ResourceInUseException" {
		// Without a token the retry cannot be replayed: the attempt
		// without an answer made the association, which the client
		// looks up as an SDK user would.
		a, ferr := findAssociation(ctx, last, r)
		if ferr != nil {
			return ferr
		}
		wr.replays++
		r.create, r.created = acked, a
		return nil
	}
	if err != nil {
		return err
	}
	// Made before the retry was sent (createdAt has millisecond
	// precision): the retry replayed the first attempt's create.
	if retried && out.Association.CreatedAt.Before(sent.Truncate(time.Millisecond)) {
		wr.replays++
	}
	r.create, r.created = acked, out.Association
	return nil
}

// findAssociation returns the association of r's key on c, or nil when
// there is none.
func findAssociation(ctx context.Context, c *eks.Client, r *keyRecord) (*types.PodIdentityAssociation, error) {
	list, err := c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: r.requested.ClusterName,
		Namespace: aws.String(r.namespace), ServiceAccount: aws.String(r.serviceAccount)})
	if err != nil || len(list.Associations) == 0 {
		return nil, err
	}
	d, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
		ClusterName: r.requested.ClusterName, AssociationId: list.Associations[0].AssociationId})
	if err != nil {
		return nil, err
	}
	return d.Association, nil
}

func (wr *writer) update(ctx context.Context, i int, cluster string, r *keyRecord) error {
	k, _ := strconv.Atoi(r.serviceAccount[strings.LastIndexByte(r.serviceAccount, '-')+1:])
	seq := r.lastTried + 1
	r.lastTried = seq
	in := &eks.UpdatePodIdentityAssociationInput{
		ClusterName: aws.String(cluster), AssociationId: r.created.AssociationId, ClientRequestToken: aws.String(requestToken()),
		RoleArn: aws.String(hotRole(wr.n, k, seq)), TargetRoleArn: aws.String(hotTarget(wr.n, k, seq)), Policy: aws.String(hotPolicy(seq)),
		DisableSessionTags: aws.Bool(true)}
	r.pending = in
	var out *eks.UpdatePodIdentityAssociationOutput
	var sent time.Time // of the last attempt
	err, retried := wr.send(i, func(c *eks.Client) (err error) {
		sent = time.Now()
		out, err = c.UpdatePodIdentityAssociation(ctx, in)
		return err
	})
	if err != nil {
		return err
	}
	if retried && out.Association.ModifiedAt.Before(sent.Truncate(time.Millisecond)) {
		wr.replays++
	}
	r.lastAcked, r.updates[seq] = seq, out.Association
	return nil
}

// tag sends r's next tag write.
func (wr *writer) tag(ctx context.Context, i int, r *keyRecord) error {
	seq := r.tagTried + 1
	r.tagTried = seq
	err, _ := wr.send(i, func(c *eks.Client) error { return sendTagWrite(ctx, c, r, seq) })
	if err != nil {
		return err
	}
	r.tagAcked = seq
	return nil
}

// sendTagWrite sends tag write seq of r (see keyRecord) to c. Either is
// idempotent: a retry needs no token.
func sendTagWrite(ctx context.Context, c *eks.Client, r *keyRecord, seq int) error {
	var err error
	if seq%2 == 1 {
		_, err = c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: r.created.AssociationArn,
			Tags: map[string]string{tagSeqKey: strconv.Itoa(seq)}})
	} else {
		_, err = c.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: r.created.AssociationArn, TagKeys: []string{tagSeqKey}})
	}
	return err
}

func (wr *writer) delete(ctx context.Context, i int, cluster string, r *keyRecord) error {
	r.delete = unknown
	err, retried := wr.send(i, func(c *eks.Client) error {
		_, err := c.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{
			ClusterName: aws.String(cluster), AssociationId: r.created.AssociationId})
		return err
	})
	if retried && apiError(err) == "ResourceNotFoundException" {
		err = nil // the attempt without an answer deleted it
		wr.replays++
	}
	if err != nil {
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

// tally counts what checks found, for the fault campaign's table; a nil
// *tally counts nothing.
type tally struct {
	checked                 atomic.Int64 // acknowledged writes whose outcome was checked
	lost, duplicated, wrong atomic.Int64 // wrong: half-applied, or a state no client was told of
}

// failKind is what a failed check found.
type failKind int

const (
	lostWrite  failKind = iota // an acknowledged write is not in effect
	duplicate                  // a write took effect twice
	wrongState                 // half-applied, or a state no write asked for
)

// fail counts a failure of kind k and reports it with t.Errorf.
func (tl *tally) fail(t *testing.T, k failKind, format string, args ...any) {
	t.Helper()
	if tl != nil {
		[]*atomic.Int64{&tl.lost, &tl.duplicated, &tl.wrong}[k].Add(1)
	}
	t.Errorf(format, args...)
}

// checkRecord checks what the restarted server holds for a key against
// what its client was told.
func checkRecord(t *testing.T, tl *tally, r *keyRecord, got []*types.PodIdentityAssociation) {
	if len(got) > 1 {
		tl.fail(t, duplicate, "%d associations for one key: %v", len(got), ids(got))
		return
	}
	var a *types.PodIdentityAssociation
	if len(got) == 1 {
		a = got[0]
		checkWhole(t, tl, a)
	}
	switch {
	case r.delete == acked:
		if a != nil {
			tl.fail(t, lostWrite, "acknowledged delete of %s, but the association is there: %+v", aws.ToString(r.created.AssociationId), a)
		}
	case r.create == unknown && a != nil:
		checkRequested(t, tl, r, a)
	case r.create == unknown:
		// Not applied: allowed for a write without an answer.
	case a == nil && r.delete == unknown:
		// Deleted by the write in flight.
	case a == nil:
		tl.fail(t, lostWrite, "acknowledged create of %s lost", aws.ToString(r.created.AssociationId))
	case r.hot:
		checkHot(t, tl, r, a)
	default:
		if diff := cmp.Diff(a, r.created, ignoreSerde); diff != "" {
			tl.fail(t, wrongState, "association differs from the acknowledged create (-got +want):\n%s", diff)
		}
	}
}

// checkWhole checks that an association is not half-applied.
func checkWhole(t *testing.T, tl *tally, a *types.PodIdentityAssociation) {
	t.Helper()
	if (aws.ToString(a.TargetRoleArn) != "") != (aws.ToString(a.ExternalId) != "") {
		tl.fail(t, wrongState, "targetRoleArn %q with externalId %q: want an external ID exactly when there is a target role",
			aws.ToString(a.TargetRoleArn), aws.ToString(a.ExternalId))
	}
	n := len(a.Tags)
	if _, ok := a.Tags[tagSeqKey]; ok {
		n--
	}
	if a.Tags["writer"] == "" || a.Tags["kind"] == "" || n != 3 {
		tl.fail(t, wrongState, "tags %v: want all three the client sent", a.Tags)
	}
}

// checkRequested checks an association whose create had no answer: it
// must be exactly what was asked for.
func checkRequested(t *testing.T, tl *tally, r *keyRecord, a *types.PodIdentityAssociation) {
	t.Helper()
	in := r.requested
	want := &types.PodIdentityAssociation{ClusterName: in.ClusterName, Namespace: in.Namespace, ServiceAccount: in.ServiceAccount,
		RoleArn: in.RoleArn, TargetRoleArn: in.TargetRoleArn, Policy: in.Policy, DisableSessionTags: in.DisableSessionTags, Tags: in.Tags}
	if want.DisableSessionTags == nil {
		want.DisableSessionTags = aws.Bool(false)
	}
	opt := cmpopts.IgnoreFields(types.PodIdentityAssociation{}, "AssociationArn", "AssociationId", "CreatedAt", "ModifiedAt", "ExternalId", "OwnerArn")
	if diff := cmp.Diff(a, want, ignoreSerde, opt); diff != "" {
		tl.fail(t, wrongState, "association created by a write without an answer differs from the request (-got +want):\n%s", diff)
	}
}

// checkHot checks a hot association: the state of one update, at least
// the last acknowledged one, at most the last sent; all of one update.
func checkHot(t *testing.T, tl *tally, r *keyRecord, a *types.PodIdentityAssociation) {
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
	switch {
	case target != seq || policy != seq:
		tl.fail(t, wrongState, "half-applied update: role %s, target role %s, policy %s", aws.ToString(a.RoleArn), aws.ToString(a.TargetRoleArn), aws.ToString(a.Policy))
		return
	case seq < r.lastAcked:
		tl.fail(t, lostWrite, "role %s is update %d; acknowledged up to %d", aws.ToString(a.RoleArn), seq, r.lastAcked)
		return
	case seq > r.lastTried:
		tl.fail(t, wrongState, "role %s is update %d; sent up to %d", aws.ToString(a.RoleArn), seq, r.lastTried)
		return
	}
	if want, ok := r.updates[seq]; ok {
		// Tag writes since then moved the tags (not modifiedAt).
		if diff := cmp.Diff(a, want, ignoreSerde, cmpopts.IgnoreFields(types.PodIdentityAssociation{}, "Tags")); diff != "" {
			tl.fail(t, wrongState, "association differs from acknowledged update %d (-got +want):\n%s", seq, diff)
		}
	}
	checkTagSeq(t, tl, r, a.Tags)
}

// checkTagSeq checks a hot association's tags: those it was created with,
// and tagSeqKey as a tag write left it, at least the last acknowledged,
// at most the last sent (write n leaves "n" for odd n, no tag for even n
// and before the first).
func checkTagSeq(t *testing.T, tl *tally, r *keyRecord, tags map[string]string) {
	t.Helper()
	lo, hi := r.tagAcked, r.tagTried
	v, ok := tags[tagSeqKey]
	switch n, err := strconv.Atoi(v); {
	case !ok && (lo%2 == 0 || hi > lo):
	case ok && err == nil && n%2 == 1 && lo <= n && n <= hi:
	case ok && err == nil && n%2 == 1 && n < lo, !ok && lo > 0:
		tl.fail(t, lostWrite, "tag %s=%q (present %t): tag writes acknowledged up to %d, sent up to %d", tagSeqKey, v, ok, lo, hi)
	default:
		tl.fail(t, wrongState, "tag %s=%q (present %t): tag writes acknowledged up to %d, sent up to %d", tagSeqKey, v, ok, lo, hi)
	}
	base := maps.Clone(tags)
	delete(base, tagSeqKey)
	if diff := cmp.Diff(base, r.requested.Tags); diff != "" {
		tl.fail(t, wrongState, "tags other than %s differ from the create's (-got +want):\n%s", tagSeqKey, diff)
	}
}
