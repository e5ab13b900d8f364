package authz_test

import (
	"context"
	"testing"

	"github.com/podid/podid/internal/authz"
)

// BenchmarkCheck is the cost every request pays for its authorization:
// the identity from the context and Rules' decision (allowed and denied).
func BenchmarkCheck(b *testing.B) {
	const assoc = "arn:aws:eks:us-east-1:111122223333:podidentityassociation/c1/a-0123456789abcdefg"
	ctx := authz.WithIdentity(context.Background(), &authz.Identity{
		ARN: "arn:aws:sts::111122223333:assumed-role/app/s1", Session: &authz.Session{},
	})
	b.Run("allowed", func(b *testing.B) {
		for b.Loop() {
			if err := authz.Check(ctx, authz.Rules{}, "eks:DescribePodIdentityAssociation", assoc, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("denied", func(b *testing.B) {
		for b.Loop() {
			if err := authz.Check(ctx, authz.Rules{}, "eks:UpdatePodIdentityAssociation", assoc, nil); err == nil {
				b.Fatal("allowed")
			}
		}
	})
}
