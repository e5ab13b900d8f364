package sts_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/podid/podid/internal/sts"
)

// A first assumption as EKS Auth makes it (the EKS service principal, six
// transitive tags in real use), then a chained one with its credentials:
// the second session inherits the transitive tag and records the chain.
func Example() {
	key := make([]byte, sts.KeySize) // in podid: sts.KeyFromStore(ctx, store)
	svc, err := sts.New(sts.Config{Region: "us-west-2", AccountID: "111122223333", Keys: [][]byte{key},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	first, err := svc.AssumeRole(ctx, sts.AssumeRoleInput{
		RoleARN:           "arn:aws:iam::111122223333:role/app-role",
		RoleSessionName:   "eks-c1-app1-5b1d8c9e",
		DurationSeconds:   21600,
		Tags:              []sts.Tag{{Key: "eks-cluster-name", Value: "c1"}},
		TransitiveTagKeys: []string{"eks-cluster-name"},
	})
	if err != nil {
		panic(err)
	}
	second, err := svc.AssumeRole(ctx, sts.AssumeRoleInput{
		RoleARN:         "arn:aws:iam::444455556666:role/target-role",
		RoleSessionName: "eks-c1-app1-5b1d8c9e",
		ExternalID:      "c1-ns-a-sa1",
		Caller:          &first.Credentials,
	})
	if err != nil {
		panic(err)
	}
	sess, err := svc.Session(second.Credentials.SessionToken)
	if err != nil {
		panic(err)
	}
	fmt.Println(second.AssumedRoleARN)
	fmt.Println(sess.Tags, sess.Chain)
	fmt.Println(sess.Expiration.Sub(sess.Issued))

	_, err = svc.AssumeRole(ctx, sts.AssumeRoleInput{
		RoleARN: "arn:aws:iam::444455556666:role/target-role", RoleSessionName: "again",
		DurationSeconds: 7200, Caller: &first.Credentials,
	})
	fmt.Println(err)
	// Output:
	// arn:aws:sts::444455556666:assumed-role/target-role/eks-c1-app1-5b1d8c9e
	// [{eks-cluster-name c1}] [arn:aws:sts::111122223333:assumed-role/app-role/eks-c1-app1-5b1d8c9e]
	// 1h0m0s
	// ValidationError: The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.
}
