package sts_test

import (
	"context"
	"testing"

	"github.com/podid/podid/internal/sts"
)

// eksTags are the six session tags EKS Auth sends.
var eksTags = []sts.Tag{
	{Key: "eks-cluster-arn", Value: "arn:aws:eks:us-west-2:111122223333:cluster/eksworkshop-eksctl"},
	{Key: "eks-cluster-name", Value: "eksworkshop-eksctl"},
	{Key: "kubernetes-namespace", Value: "ns-a"},
	{Key: "kubernetes-service-account", Value: "sa1"},
	{Key: "kubernetes-pod-name", Value: "app1"},
	{Key: "kubernetes-pod-uid", Value: "0cda7f85-c1f9-4dee-b6e9-a0b50c8f3012"},
}

func eksTagKeys() []string {
	keys := make([]string, len(eksTags))
	for i, t := range eksTags {
		keys[i] = t.Key
	}
	return keys
}

// BenchmarkAssumeRole is EKS Auth's first assumption (six transitive tags).
func BenchmarkAssumeRole(b *testing.B) {
	svc, err := sts.New(sts.Config{AccountID: account, Keys: testKey(1), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	in := sts.AssumeRoleInput{RoleARN: roleA, RoleSessionName: "eks-eksworksho-app1-498124c2-a555-40bf-9059-ca9a26821eb0",
		DurationSeconds: 21600, Tags: eksTags, TransitiveTagKeys: eksTagKeys()}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.AssumeRole(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssumeRoleChained is the target-role assumption: the caller's
// credentials are verified, its tags inherited.
func BenchmarkAssumeRoleChained(b *testing.B) {
	svc, err := sts.New(sts.Config{AccountID: account, Keys: testKey(1), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	first, err := svc.AssumeRole(ctx, sts.AssumeRoleInput{RoleARN: roleA, RoleSessionName: "eks-eksworksho-app1-498124c2-a555-40bf-9059-ca9a26821eb0",
		DurationSeconds: 21600, Tags: eksTags, TransitiveTagKeys: eksTagKeys()})
	if err != nil {
		b.Fatal(err)
	}
	in := sts.AssumeRoleInput{RoleARN: roleB, RoleSessionName: "eks-eksworksho-app1-498124c2-a555-40bf-9059-ca9a26821eb0",
		ExternalID: "us-west-2/111122223333/c1/ns-a/sa1", Caller: &first.Credentials}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.AssumeRole(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSessionOpen is opening a session token another replica sealed
// (decrypt and decode: the cache never has it).
func BenchmarkSessionOpen(b *testing.B) {
	svc, err := sts.New(sts.Config{AccountID: account, Keys: testKey(1), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	replica, err := sts.New(sts.Config{AccountID: account, Keys: testKey(1), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	// More tokens than the replica's cache holds, opened in turn: all misses.
	tokens := make([]string, 5000)
	for i := range tokens {
		out, err := svc.AssumeRole(context.Background(), sts.AssumeRoleInput{RoleARN: roleA, RoleSessionName: "s1",
			DurationSeconds: 21600, Tags: eksTags, TransitiveTagKeys: eksTagKeys()})
		if err != nil {
			b.Fatal(err)
		}
		tokens[i] = out.Credentials.SessionToken
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := replica.Session(tokens[i%len(tokens)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSessionCached is opening a token this replica recently sealed
// or opened.
func BenchmarkSessionCached(b *testing.B) {
	svc, err := sts.New(sts.Config{AccountID: account, Keys: testKey(1), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	out, err := svc.AssumeRole(context.Background(), sts.AssumeRoleInput{RoleARN: roleA, RoleSessionName: "s1",
		DurationSeconds: 21600, Tags: eksTags, TransitiveTagKeys: eksTagKeys()})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Session(out.Credentials.SessionToken); err != nil {
			b.Fatal(err)
		}
	}
}
