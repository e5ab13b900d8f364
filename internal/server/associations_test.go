package server_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/servertest"
)

var idPattern = regexp.MustCompile(`^a-[a-z0-9]{17}$`)

func TestAssociationLifecycle(t *testing.T) {
	srv := servertest.New(t)
	c := srv.EKS(t)
	ctx := context.Background()
	createCluster(t, c, "c1")

	start := time.Now().Add(-time.Second)
	out, err := c.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName:        aws.String("c1"),
		Namespace:          aws.String("default"),
		ServiceAccount:     aws.String("app.sa"),
		RoleArn:            aws.String(role1),
		TargetRoleArn:      aws.String(target1),
		DisableSessionTags: aws.Bool(true),
		Policy:             aws.String(policy1),
		Tags:               map[string]string{"team": "a", "env": ""},
	})
	if err != nil {
		t.Fatalf("CreatePodIdentityAssociation: %v", err)
	}
	a := out.Association
	id := aws.ToString(a.AssociationId)
	if !idPattern.MatchString(id) {
		t.Errorf("associationId = %q, want a- and 17 of [a-z0-9]", id)
	}
	if rid, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata); rid == "" {
		t.Error("no request ID in the response")
	}
	if rev := rawResponse(t, out.ResultMetadata).Header.Get(server.HeaderRevision); rev == "" {
		t.Errorf("no %s on a create", server.HeaderRevision)
	}
	want := &types.PodIdentityAssociation{
		ClusterName:        aws.String("c1"),
		Namespace:          aws.String("default"),
		ServiceAccount:     aws.String("app.sa"),
		RoleArn:            aws.String(role1),
		AssociationArn:     aws.String("arn:aws:eks:us-east-1:000000000000:podidentityassociation/c1/" + id),
		AssociationId:      aws.String(id),
		Tags:               map[string]string{"team": "a", "env": ""},
		DisableSessionTags: aws.Bool(true),
		TargetRoleArn:      aws.String(target1),
		ExternalId:         aws.String("us-east-1/000000000000/c1/default/app.sa"),
		Policy:             aws.String(policy1),
	}
	ignoreTimes := cmpopts.IgnoreFields(types.PodIdentityAssociation{}, "CreatedAt", "ModifiedAt")
	noUnexported := cmpopts.IgnoreUnexported(types.PodIdentityAssociation{})
	if diff := cmp.Diff(a, want, ignoreTimes, noUnexported); diff != "" {
		t.Errorf("created association (-got +want):\n%s", diff)
	}
	if a.CreatedAt == nil || a.CreatedAt.Before(start) || !a.CreatedAt.Equal(aws.ToTime(a.ModifiedAt)) {
		t.Errorf("createdAt = %v, modifiedAt = %v: want equal and recent", a.CreatedAt, a.ModifiedAt)
	}

	desc, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("c1"), AssociationId: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribePodIdentityAssociation: %v", err)
	}
	if diff := cmp.Diff(desc.Association, a, noUnexported); diff != "" {
		t.Errorf("described association (-got +want):\n%s", diff)
	}

	// Update: remove the target role (and with it externalId), keep the rest.
	up, err := c.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), AssociationId: aws.String(id),
		RoleArn:       aws.String(role2),
		TargetRoleArn: aws.String(""),
	})
	if err != nil {
		t.Fatalf("UpdatePodIdentityAssociation: %v", err)
	}
	wantUp := *want
	wantUp.RoleArn = aws.String(role2)
	wantUp.TargetRoleArn = nil
	wantUp.ExternalId = nil
	if diff := cmp.Diff(up.Association, &wantUp, ignoreTimes, noUnexported); diff != "" {
		t.Errorf("updated association (-got +want):\n%s", diff)
	}
	if !up.Association.ModifiedAt.After(*a.ModifiedAt) || !up.Association.CreatedAt.Equal(*a.CreatedAt) {
		t.Errorf("after update createdAt %v modifiedAt %v; before %v %v: want modifiedAt later, createdAt same",
			up.Association.CreatedAt, up.Association.ModifiedAt, a.CreatedAt, a.ModifiedAt)
	}

	del, err := c.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: aws.String("c1"), AssociationId: aws.String(id)})
	if err != nil {
		t.Fatalf("DeletePodIdentityAssociation: %v", err)
	}
	if diff := cmp.Diff(del.Association, up.Association, noUnexported); diff != "" {
		t.Errorf("deleted association (-got +want):\n%s", diff)
	}
	if rev := rawResponse(t, del.ResultMetadata).Header.Get(server.HeaderRevision); rev == "" {
		t.Errorf("no %s on a delete", server.HeaderRevision)
	}
	_, err = c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("c1"), AssociationId: aws.String(id)})
	rnf := wantAPIError[*types.ResourceNotFoundException](t, err, "No pod identity association found for id: "+id)
	if aws.ToString(rnf.ClusterName) != "c1" {
		t.Errorf("clusterName = %q, want c1", aws.ToString(rnf.ClusterName))
	}
	_, err = c.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: aws.String("c1"), AssociationId: aws.String(id)})
	wantAPIError[*types.ResourceNotFoundException](t, err, id)
}

func TestAssociationErrors(t *testing.T) {
	srv := servertest.New(t)
	c := srv.EKS(t)
	ctx := context.Background()
	createCluster(t, c, "c1")
	existing := createAssoc(t, c, "c1", "default", "taken")
	id := aws.ToString(existing.AssociationId)

	type check func(t *testing.T, err error)
	invalid := func(msg string) check {
		return func(t *testing.T, err error) { wantAPIError[*types.InvalidParameterException](t, err, msg) }
	}
	long := strings.Repeat("x", 300)
	tooManyTags := map[string]string{}
	for i := range 51 {
		tooManyTags["k"+strconv.Itoa(i)] = "v"
	}
	create := func(edit func(*eks.CreatePodIdentityAssociationInput)) func() error {
		return func() error {
			in := &eks.CreatePodIdentityAssociationInput{
				ClusterName: aws.String("c1"), Namespace: aws.String("ns"), ServiceAccount: aws.String("sa"), RoleArn: aws.String(role1),
			}
			edit(in)
			_, err := c.CreatePodIdentityAssociation(ctx, in)
			return err
		}
	}
	update := func(in *eks.UpdatePodIdentityAssociationInput) func() error {
		return func() error {
			if in.ClusterName == nil {
				in.ClusterName = aws.String("c1")
			}
			if in.AssociationId == nil {
				in.AssociationId = aws.String(id)
			}
			_, err := c.UpdatePodIdentityAssociation(ctx, in)
			return err
		}
	}
	tests := []struct {
		name  string
		call  func() error
		check check
	}{
		{"duplicate", create(func(in *eks.CreatePodIdentityAssociationInput) {
			in.ServiceAccount = aws.String("taken")
			in.Namespace = aws.String("default")
		}),
			func(t *testing.T, err error) {
				e := wantAPIError[*types.ResourceInUseException](t, err, "Association already exists: "+id)
				if got := e.ErrorMessage(); got != "Association already exists: "+id {
					t.Errorf("message = %q", got)
				}
			}},
		{"missing cluster", create(func(in *eks.CreatePodIdentityAssociationInput) { in.ClusterName = aws.String("nope") }),
			func(t *testing.T, err error) {
				e := wantAPIError[*types.ResourceNotFoundException](t, err, "No cluster found for name: nope.")
				if aws.ToString(e.ClusterName) != "nope" {
					t.Errorf("clusterName = %q", aws.ToString(e.ClusterName))
				}
			}},
		{"bad cluster name", create(func(in *eks.CreatePodIdentityAssociationInput) { in.ClusterName = aws.String("-bad") }), invalid("not a valid cluster name")},
		{"long cluster name", create(func(in *eks.CreatePodIdentityAssociationInput) { in.ClusterName = aws.String(strings.Repeat("c", 101)) }), invalid("not a valid cluster name")},
		{"empty namespace", create(func(in *eks.CreatePodIdentityAssociationInput) { in.Namespace = aws.String("") }), invalid("namespace must not be empty")},
		{"bad namespace", create(func(in *eks.CreatePodIdentityAssociationInput) { in.Namespace = aws.String("Bad_NS") }), invalid("namespace is not a valid")},
		{"long namespace", create(func(in *eks.CreatePodIdentityAssociationInput) { in.Namespace = aws.String(strings.Repeat("n", 64)) }), invalid("namespace is not a valid")},
		{"bad service account", create(func(in *eks.CreatePodIdentityAssociationInput) { in.ServiceAccount = aws.String("a..b") }), invalid("serviceAccount is not a valid")},
		{"long service account", create(func(in *eks.CreatePodIdentityAssociationInput) {
			in.ServiceAccount = aws.String(strings.Repeat("s", 254))
		}), invalid("serviceAccount is not a valid")},
		{"bad role", create(func(in *eks.CreatePodIdentityAssociationInput) {
			in.RoleArn = aws.String("arn:aws:iam::000000000000:user/bob")
		}), invalid("roleArn is not a valid IAM role ARN")},
		{"empty role", create(func(in *eks.CreatePodIdentityAssociationInput) { in.RoleArn = aws.String("") }), invalid("roleArn must not be empty")},
		{"cross-account role", create(func(in *eks.CreatePodIdentityAssociationInput) { in.RoleArn = aws.String(target1) }), invalid("Cross-account pass role is not allowed")},
		{"other partition", create(func(in *eks.CreatePodIdentityAssociationInput) {
			in.RoleArn = aws.String("arn:aws-cn:iam::000000000000:role/r")
		}), invalid("partition aws")},
		{"bad target role", create(func(in *eks.CreatePodIdentityAssociationInput) { in.TargetRoleArn = aws.String("role/x") }), invalid("targetRoleArn is not a valid IAM role ARN")},
		{"policy without disableSessionTags", create(func(in *eks.CreatePodIdentityAssociationInput) { in.Policy = aws.String(policy1) }), invalid("disableSessionTags must be set to true")},
		{"policy with disableSessionTags false", create(func(in *eks.CreatePodIdentityAssociationInput) {
			in.Policy, in.DisableSessionTags = aws.String(policy1), aws.Bool(false)
		}), invalid("disableSessionTags must be set to true")},
		{"policy not JSON", create(func(in *eks.CreatePodIdentityAssociationInput) {
			in.Policy, in.DisableSessionTags = aws.String("{nope"), aws.Bool(true)
		}), invalid("not a valid IAM policy document")},
		{"policy too long", create(func(in *eks.CreatePodIdentityAssociationInput) {
			in.Policy, in.DisableSessionTags = aws.String(`{"Statement":"`+strings.Repeat("x", 2040)+`"}`), aws.Bool(true)
		}), invalid("policy is too long")},
		{"aws: tag", create(func(in *eks.CreatePodIdentityAssociationInput) { in.Tags = map[string]string{"AwS:x": "v"} }), invalid("reserved")},
		{"long tag key", create(func(in *eks.CreatePodIdentityAssociationInput) {
			in.Tags = map[string]string{strings.Repeat("k", 129): "v"}
		}), invalid("Tag keys must be 1-128")},
		{"long tag value", create(func(in *eks.CreatePodIdentityAssociationInput) { in.Tags = map[string]string{"k": long} }), invalid("at most 256")},
		{"too many tags", create(func(in *eks.CreatePodIdentityAssociationInput) { in.Tags = tooManyTags }), invalid("at most 50 tags")},

		{"update short id", update(&eks.UpdatePodIdentityAssociationInput{AssociationId: aws.String("a-123"), RoleArn: aws.String(role2)}),
			invalid("The parameter associationId should be 19 characters long.")},
		{"update bad id", update(&eks.UpdatePodIdentityAssociationInput{AssociationId: aws.String("a-ABCDEFGHIJKLMNOPQ"), RoleArn: aws.String(role2)}),
			invalid("associationId is not valid")},
		{"update missing", update(&eks.UpdatePodIdentityAssociationInput{AssociationId: aws.String("a-00000000000000000"), RoleArn: aws.String(role2)}),
			func(t *testing.T, err error) {
				wantAPIError[*types.ResourceNotFoundException](t, err, "No pod identity association found for id: a-00000000000000000 in cluster: c1.")
			}},
		{"update missing cluster", update(&eks.UpdatePodIdentityAssociationInput{ClusterName: aws.String("gone"), RoleArn: aws.String(role2)}),
			func(t *testing.T, err error) {
				wantAPIError[*types.ResourceNotFoundException](t, err, "No cluster found for name: gone.")
			}},
		{"update nothing", update(&eks.UpdatePodIdentityAssociationInput{}), invalid("must change at least one of")},
		{"update no change", update(&eks.UpdatePodIdentityAssociationInput{RoleArn: aws.String(role1), DisableSessionTags: aws.Bool(false)}), invalid("does not change")},
		{"update remove absent target", update(&eks.UpdatePodIdentityAssociationInput{TargetRoleArn: aws.String("")}), invalid("does not change")},
		{"update policy only", update(&eks.UpdatePodIdentityAssociationInput{Policy: aws.String(policy1)}), invalid("disableSessionTags must be set to true")},
		{"update cross-account role", update(&eks.UpdatePodIdentityAssociationInput{RoleArn: aws.String(target1)}), invalid("Cross-account pass role")},
		{"update empty role", update(&eks.UpdatePodIdentityAssociationInput{RoleArn: aws.String("")}), invalid("roleArn must not be empty")},

		{"describe short id", func() error {
			_, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("c1"), AssociationId: aws.String("a-1")})
			return err
		}, invalid("should be 19 characters long")},
		{"delete short id", func() error {
			_, err := c.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: aws.String("c1"), AssociationId: aws.String("a-1")})
			return err
		}, invalid("should be 19 characters long")},
		{"describe in missing cluster", func() error {
			_, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("nope"), AssociationId: aws.String(id)})
			return err
		}, func(t *testing.T, err error) {
			wantAPIError[*types.ResourceNotFoundException](t, err, "No cluster found for name: nope.")
		}},
		{"describe in other cluster", func() error {
			createCluster(t, c, "c2")
			_, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("c2"), AssociationId: aws.String(id)})
			return err
		}, func(t *testing.T, err error) {
			wantAPIError[*types.ResourceNotFoundException](t, err, "in cluster: c2.")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("no error")
			}
			tt.check(t, err)
		})
	}
	// None of the failed calls changed the existing association.
	got, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("c1"), AssociationId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got.Association, existing, cmpopts.IgnoreUnexported(types.PodIdentityAssociation{})); diff != "" {
		t.Errorf("association after failed calls (-got +want):\n%s", diff)
	}
}

func TestUpdateSemantics(t *testing.T) {
	srv := servertest.New(t)
	c := srv.EKS(t)
	ctx := context.Background()
	createCluster(t, c, "c1")

	type state struct {
		Role, Target, ExternalID, Policy string
		DisableSessionTags               bool
	}
	extID := "us-east-1/000000000000/c1/ns/sa"
	stateOf := func(a *types.PodIdentityAssociation) state {
		return state{aws.ToString(a.RoleArn), aws.ToString(a.TargetRoleArn), aws.ToString(a.ExternalId), aws.ToString(a.Policy), aws.ToBool(a.DisableSessionTags)}
	}
	// Steps run in order on one association; each is an update and the
	// state it must leave (or an error, leaving the state as it was).
	steps := []struct {
		name    string
		in      eks.UpdatePodIdentityAssociationInput
		want    state
		wantErr string
	}{
		{"set target", eks.UpdatePodIdentityAssociationInput{TargetRoleArn: aws.String(target1)}, state{role1, target1, extID, "", false}, ""},
		{"change role only", eks.UpdatePodIdentityAssociationInput{RoleArn: aws.String(role2)}, state{role2, target1, extID, "", false}, ""},
		{"policy needs disableSessionTags", eks.UpdatePodIdentityAssociationInput{Policy: aws.String(policy1)}, state{}, "disableSessionTags must be set to true"},
		{"disable tags with policy", eks.UpdatePodIdentityAssociationInput{DisableSessionTags: aws.Bool(true), Policy: aws.String(policy1)}, state{role2, target1, extID, policy1, true}, ""},
		{"re-enable tags while a policy stays", eks.UpdatePodIdentityAssociationInput{DisableSessionTags: aws.Bool(false)}, state{}, "disableSessionTags must be set to true"},
		{"clear policy and re-enable tags", eks.UpdatePodIdentityAssociationInput{DisableSessionTags: aws.Bool(false), Policy: aws.String("")}, state{role2, target1, extID, "", false}, ""},
		{"remove target", eks.UpdatePodIdentityAssociationInput{TargetRoleArn: aws.String("")}, state{role2, "", "", "", false}, ""},
		{"same values again", eks.UpdatePodIdentityAssociationInput{RoleArn: aws.String(role2), TargetRoleArn: aws.String("")}, state{}, "does not change"},
		{"disable tags only", eks.UpdatePodIdentityAssociationInput{DisableSessionTags: aws.Bool(true)}, state{role2, "", "", "", true}, ""},
	}
	a := createAssoc(t, c, "c1", "ns", "sa")
	id := aws.ToString(a.AssociationId)
	prev := a
	for _, st := range steps {
		in := st.in
		in.ClusterName, in.AssociationId = aws.String("c1"), aws.String(id)
		out, err := c.UpdatePodIdentityAssociation(ctx, &in)
		if st.wantErr != "" {
			wantAPIError[*types.InvalidParameterException](t, err, st.wantErr)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if diff := cmp.Diff(stateOf(out.Association), st.want); diff != "" {
			t.Errorf("%s: state (-got +want):\n%s", st.name, diff)
		}
		if !out.Association.ModifiedAt.After(*prev.ModifiedAt) {
			t.Errorf("%s: modifiedAt %v not after %v", st.name, out.Association.ModifiedAt, prev.ModifiedAt)
		}
		if aws.ToString(out.Association.Namespace) != "ns" || aws.ToString(out.Association.ServiceAccount) != "sa" {
			t.Errorf("%s: association moved to %s/%s", st.name, aws.ToString(out.Association.Namespace), aws.ToString(out.Association.ServiceAccount))
		}
		prev = out.Association
	}
}

// TestModifiedAtMovesWithinAMillisecond: with a frozen clock, every update
// still moves modifiedAt forward.
func TestModifiedAtMovesWithinAMillisecond(t *testing.T) {
	frozen := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	srv := servertest.New(t, servertest.WithConfig(func(cfg *server.Config) { cfg.Now = func() time.Time { return frozen } }))
	c := srv.EKS(t)
	createCluster(t, c, "c1")
	a := createAssoc(t, c, "c1", "ns", "sa")
	prev := *a.ModifiedAt
	for i := range 3 {
		role := role1
		if i%2 == 0 {
			role = role2
		}
		out, err := c.UpdatePodIdentityAssociation(context.Background(), &eks.UpdatePodIdentityAssociationInput{
			ClusterName: aws.String("c1"), AssociationId: a.AssociationId, RoleArn: aws.String(role),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := *out.Association.ModifiedAt, prev.Add(time.Millisecond); !got.Equal(want) {
			t.Errorf("update %d: modifiedAt = %v, want %v", i, got, want)
		}
		prev = *out.Association.ModifiedAt
	}
}

func TestConcurrentDuplicateCreates(t *testing.T) {
	srv := servertest.New(t)
	c := srv.EKS(t)
	createCluster(t, c, "c1")
	const n = 12
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			out, err := c.CreatePodIdentityAssociation(context.Background(), &eks.CreatePodIdentityAssociationInput{
				ClusterName: aws.String("c1"), Namespace: aws.String("ns"), ServiceAccount: aws.String("sa"), RoleArn: aws.String(role1),
			})
			errs[i] = err
			if err == nil {
				ids[i] = aws.ToString(out.Association.AssociationId)
			}
		})
	}
	wg.Wait()
	var winners []string
	for _, id := range ids {
		if id != "" {
			winners = append(winners, id)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d creates succeeded (%v), want exactly 1; errors %v", len(winners), winners, errs)
	}
	for _, err := range errs {
		if err != nil {
			wantAPIError[*types.ResourceInUseException](t, err, "Association already exists: "+winners[0])
		}
	}
}

// TestConcurrentUpdates: concurrent updates and tag changes on one
// association all land; none is lost.
func TestConcurrentUpdates(t *testing.T) {
	srv := servertest.New(t)
	c := srv.EKS(t)
	ctx := context.Background()
	createCluster(t, c, "c1")
	a := createAssoc(t, c, "c1", "ns", "sa")
	const n = 10
	var wg sync.WaitGroup
	mods := make([]time.Time, n)
	for i := range n {
		wg.Go(func() {
			_, err := c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: a.AssociationArn, Tags: map[string]string{fmt.Sprintf("k%d", i): "v"}})
			if err != nil {
				t.Errorf("TagResource %d: %v", i, err)
			}
		})
		wg.Go(func() {
			out, err := c.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{
				ClusterName: aws.String("c1"), AssociationId: a.AssociationId,
				RoleArn: aws.String(fmt.Sprintf("arn:aws:iam::000000000000:role/r%d", i)),
			})
			if err != nil {
				t.Errorf("Update %d: %v", i, err)
				return
			}
			mods[i] = *out.Association.ModifiedAt
		})
	}
	wg.Wait()
	tags, err := c.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: a.AssociationArn})
	if err != nil {
		t.Fatal(err)
	}
	if len(tags.Tags) != n {
		t.Errorf("%d tags after %d concurrent TagResource calls: %v", len(tags.Tags), n, tags.Tags)
	}
	seen := map[time.Time]bool{}
	for _, m := range mods {
		if seen[m] {
			t.Errorf("two updates returned the same modifiedAt %v", m)
		}
		seen[m] = true
	}
}

func TestIdempotentCreateAndUpdate(t *testing.T) {
	srv := servertest.New(t)
	c := srv.EKS(t)
	ctx := context.Background()
	createCluster(t, c, "c1")
	noUnexported := cmpopts.IgnoreUnexported(types.PodIdentityAssociation{})

	in := &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), Namespace: aws.String("ns"), ServiceAccount: aws.String("sa"), RoleArn: aws.String(role1),
		ClientRequestToken: aws.String("token-1"), Tags: map[string]string{"a": "b"},
	}
	first, err := c.CreatePodIdentityAssociation(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.CreatePodIdentityAssociation(ctx, in)
	if err != nil {
		t.Fatalf("replay with the same token and parameters: %v", err)
	}
	if diff := cmp.Diff(again.Association, first.Association, noUnexported); diff != "" {
		t.Errorf("replayed create (-got +want):\n%s", diff)
	}
	// An explicit default is the same request.
	in2 := *in
	in2.DisableSessionTags = aws.Bool(false)
	if _, err := c.CreatePodIdentityAssociation(ctx, &in2); err != nil {
		t.Errorf("replay with disableSessionTags=false spelled out: %v", err)
	}
	in3 := *in
	in3.RoleArn = aws.String(role2)
	_, err = c.CreatePodIdentityAssociation(ctx, &in3)
	wantAPIError[*types.InvalidParameterException](t, err, "clientRequestToken was already used with different request parameters")
	// Without a token (the SDK fills a fresh one) a repeat is a duplicate.
	in4 := *in
	in4.ClientRequestToken = nil
	_, err = c.CreatePodIdentityAssociation(ctx, &in4)
	wantAPIError[*types.ResourceInUseException](t, err, "Association already exists")

	up := &eks.UpdatePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), AssociationId: first.Association.AssociationId,
		RoleArn: aws.String(role2), ClientRequestToken: aws.String("token-2"),
	}
	u1, err := c.UpdatePodIdentityAssociation(ctx, up)
	if err != nil {
		t.Fatal(err)
	}
	// A replay returns the original result instead of a no-op error.
	u2, err := c.UpdatePodIdentityAssociation(ctx, up)
	if err != nil {
		t.Fatalf("update replay: %v", err)
	}
	if diff := cmp.Diff(u2.Association, u1.Association, noUnexported); diff != "" {
		t.Errorf("replayed update (-got +want):\n%s", diff)
	}
	up2 := *up
	up2.RoleArn = aws.String(role1)
	_, err = c.UpdatePodIdentityAssociation(ctx, &up2)
	wantAPIError[*types.InvalidParameterException](t, err, "already used with different request parameters")
}

func TestAssociationLimit(t *testing.T) {
	srv := servertest.New(t, servertest.WithConfig(func(cfg *server.Config) { cfg.MaxAssociationsPerCluster = 3 }))
	c := srv.EKS(t)
	createCluster(t, c, "c1")
	createCluster(t, c, "c2")
	for i := range 3 {
		createAssoc(t, c, "c1", "ns", fmt.Sprintf("sa%d", i))
	}
	_, err := c.CreatePodIdentityAssociation(context.Background(), &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), Namespace: aws.String("ns"), ServiceAccount: aws.String("sa3"), RoleArn: aws.String(role1),
	})
	e := wantAPIError[*types.ResourceLimitExceededException](t, err, "maximum of 3 pod identity associations")
	if aws.ToString(e.ClusterName) != "c1" {
		t.Errorf("clusterName = %q, want c1", aws.ToString(e.ClusterName))
	}
	createAssoc(t, c, "c2", "ns", "sa3") // the limit is per cluster
}

func TestListAssociationsPaginator(t *testing.T) {
	srv := servertest.New(t)
	c := srv.EKS(t)
	ctx := context.Background()
	createCluster(t, c, "c1")
	createCluster(t, c, "other")
	want := map[string]string{} // id -> ns/sa
	for i := range 23 {
		ns := []string{"a", "b"}[i%2]
		a := createAssoc(t, c, "c1", ns, fmt.Sprintf("sa-%02d", i))
		want[aws.ToString(a.AssociationId)] = ns + "/" + aws.ToString(a.ServiceAccount)
	}
	createAssoc(t, c, "other", "a", "sa-00")

	list := func(t *testing.T, in *eks.ListPodIdentityAssociationsInput, pageSize int32) (map[string]string, int) {
		t.Helper()
		got := map[string]string{}
		pages := 0
		p := eks.NewListPodIdentityAssociationsPaginator(c, in, func(o *eks.ListPodIdentityAssociationsPaginatorOptions) { o.Limit = pageSize })
		var lastID string
		for p.HasMorePages() && pages < 100 {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("page %d: %v", pages, err)
			}
			pages++
			for _, s := range out.Associations {
				id := aws.ToString(s.AssociationId)
				if _, dup := got[id]; dup {
					t.Errorf("%s listed twice", id)
				}
				if id <= lastID {
					t.Errorf("order: %s after %s", id, lastID)
				}
				lastID = id
				got[id] = aws.ToString(s.Namespace) + "/" + aws.ToString(s.ServiceAccount)
				if aws.ToString(s.ClusterName) != "c1" || aws.ToString(s.AssociationArn) != srv.Server.AssociationARN("us-east-1", "c1", id) {
					t.Errorf("summary %+v: wrong cluster or ARN", s)
				}
			}
			if out.NextToken != nil && len(out.Associations) != int(pageSize) {
				t.Errorf("short page of %d with a nextToken", len(out.Associations))
			}
		}
		return got, pages
	}
	t.Run("all", func(t *testing.T) {
		got, pages := list(t, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("c1")}, 5)
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("listed (-got +want):\n%s", diff)
		}
		if pages != 5 {
			t.Errorf("%d pages of 5 for 23 items, want 5", pages)
		}
	})
	t.Run("exact page size ends without a token", func(t *testing.T) {
		_, pages := list(t, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("c1"), Namespace: aws.String("b")}, 11)
		if pages != 1 {
			t.Errorf("%d pages for 11 items in pages of 11, want 1", pages)
		}
	})
	t.Run("filters", func(t *testing.T) {
		got, _ := list(t, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("c1"), Namespace: aws.String("a"), ServiceAccount: aws.String("sa-04")}, 100)
		if len(got) != 1 {
			t.Errorf("namespace a, sa-04: %v, want one", got)
		}
		got, _ = list(t, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("c1"), Namespace: aws.String("sa-0")}, 100)
		if len(got) != 0 {
			t.Errorf("namespace filter is not exact: %v", got)
		}
		got, _ = list(t, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("c1"), ServiceAccount: aws.String("sa-05")}, 100)
		if diff := cmp.Diff(got, map[string]string{idOf(want, "b/sa-05"): "b/sa-05"}); diff != "" {
			t.Errorf("serviceAccount filter (-got +want):\n%s", diff)
		}
	})
	t.Run("default page size", func(t *testing.T) {
		out, err := c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("c1")})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Associations) != 23 || out.NextToken != nil {
			t.Errorf("got %d items and nextToken %v, want 23 and none", len(out.Associations), out.NextToken)
		}
	})
	t.Run("empty", func(t *testing.T) {
		createCluster(t, c, "empty")
		out, err := c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("empty")})
		if err != nil {
			t.Fatal(err)
		}
		if out.Associations == nil || len(out.Associations) != 0 || out.NextToken != nil {
			t.Errorf("empty list = %#v, nextToken %v; want [] and none", out.Associations, out.NextToken)
		}
	})
	t.Run("errors", func(t *testing.T) {
		first, err := c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("c1"), MaxResults: aws.Int32(2)})
		if err != nil || first.NextToken == nil {
			t.Fatalf("first page: %v, token %v", err, first.NextToken)
		}
		for _, tt := range []struct {
			name string
			in   eks.ListPodIdentityAssociationsInput
			msg  string
		}{
			{"maxResults 0", eks.ListPodIdentityAssociationsInput{MaxResults: aws.Int32(0)}, "maxResults must be an integer between 1 and 100"},
			{"maxResults 101", eks.ListPodIdentityAssociationsInput{MaxResults: aws.Int32(101)}, "maxResults"},
			{"garbage token", eks.ListPodIdentityAssociationsInput{NextToken: aws.String("not a token")}, "nextToken is not valid"},
			{"token for another filter", eks.ListPodIdentityAssociationsInput{NextToken: first.NextToken, Namespace: aws.String("a")}, "nextToken is not valid"},
			{"token for another cluster", eks.ListPodIdentityAssociationsInput{NextToken: first.NextToken, ClusterName: aws.String("other")}, "nextToken is not valid"},
			{"tampered token", eks.ListPodIdentityAssociationsInput{NextToken: aws.String(tamper(aws.ToString(first.NextToken)))}, "nextToken is not valid"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				in := tt.in
				if in.ClusterName == nil {
					in.ClusterName = aws.String("c1")
				}
				_, err := c.ListPodIdentityAssociations(ctx, &in)
				wantAPIError[*types.InvalidParameterException](t, err, tt.msg)
			})
		}
		_, err = c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("nope")})
		wantAPIError[*types.ResourceNotFoundException](t, err, "No cluster found for name: nope.")
	})
}

func idOf(m map[string]string, v string) string {
	for k, x := range m {
		if x == v {
			return k
		}
	}
	return ""
}

// tamper changes one character in the middle of a token.
func tamper(tok string) string {
	b := []byte(tok)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// TestListWhileWriting: an association that exists throughout a listing is
// listed exactly once, whatever is created and deleted between pages.
func TestListWhileWriting(t *testing.T) {
	srv := servertest.New(t)
	c := srv.EKS(t)
	ctx := context.Background()
	createCluster(t, c, "c1")
	var stable []string
	var doomed []*types.PodIdentityAssociation
	for i := range 20 {
		a := createAssoc(t, c, "c1", "ns", fmt.Sprintf("sa-%02d", i))
		if i%4 == 3 {
			doomed = append(doomed, a)
		} else {
			stable = append(stable, aws.ToString(a.AssociationId))
		}
	}
	seen := map[string]int{}
	p := eks.NewListPodIdentityAssociationsPaginator(c, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("c1"), MaxResults: aws.Int32(3)})
	for page := 0; p.HasMorePages() && page < 100; page++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range out.Associations {
			seen[aws.ToString(s.AssociationId)]++
		}
		// Between pages: create one and delete one.
		createAssoc(t, c, "c1", "new", fmt.Sprintf("sa-%02d", page))
		if page < len(doomed) {
			if _, err := c.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: aws.String("c1"), AssociationId: doomed[page].AssociationId}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, id := range stable {
		if seen[id] != 1 {
			t.Errorf("%s listed %d times, want once", id, seen[id])
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("%s listed %d times", id, n)
		}
	}
}
