package sts_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/sts"
)

// TestClockEdges: a session at its last second. In process, with the
// service's clock fixed: its credentials verify, and chain to another
// role, up to a nanosecond before their expiration, and are expired at it.
// Through the SDK (the service's clock moved, the signer's real): a call
// a second before the expiration succeeds, one at it is ExpiredToken.
func TestClockEdges(t *testing.T) {
	ctx := context.Background()
	t.Run("in process", func(t *testing.T) {
		now := time.Date(2026, 11, 27, 12, 0, 0, 250_000_000, time.UTC)
		svc, err := sts.New(sts.Config{Region: region, AccountID: account, Keys: testKey(1), Now: func() time.Time { return now }, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		out, err := svc.AssumeRole(ctx, sts.AssumeRoleInput{RoleARN: roleA, RoleSessionName: "edge", DurationSeconds: 900})
		if err != nil {
			t.Fatal(err)
		}
		exp := out.Credentials.Expiration
		if want := now.Truncate(time.Second).Add(900 * time.Second); !exp.Equal(want) {
			t.Fatalf("expiration %s, want %s (issued on the whole second)", exp, want)
		}
		for _, tt := range []struct {
			at   time.Duration // from the expiration
			want error
		}{
			{-time.Second, nil},
			{-time.Nanosecond, nil},
			{0, sts.ErrExpiredToken},
			{time.Second, sts.ErrExpiredToken},
		} {
			now = exp.Add(tt.at)
			_, err := svc.VerifyCredentials(out.Credentials)
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("VerifyCredentials at expiration%+v: %v, want %v", tt.at, err, tt.want)
			}
			_, err = svc.AssumeRole(ctx, sts.AssumeRoleInput{RoleARN: roleB, RoleSessionName: "chained", Caller: &out.Credentials})
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("chained AssumeRole at expiration%+v: %v, want %v", tt.at, err, tt.want)
			}
		}
	})
	t.Run("through the SDK", func(t *testing.T) {
		e := newEnv(t, sigv4.ModeSigV4)
		out, err := e.adminClient().AssumeRole(ctx, &awssts.AssumeRoleInput{
			RoleArn: aws.String(roleA), RoleSessionName: aws.String("edge"), DurationSeconds: aws.Int32(900)})
		if err != nil {
			t.Fatal(err)
		}
		exp := aws.ToTime(out.Credentials.Expiration)
		c := e.client(fixed(creds(out.Credentials)))
		e.stsClock.set(time.Until(exp.Add(-time.Second)))
		if _, err := c.GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{}); err != nil {
			t.Errorf("GetCallerIdentity with the session's credentials a second before they expire: %v", err)
		}
		e.stsClock.set(time.Until(exp))
		_, err = c.GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
		apiErr(t, err, "ExpiredToken", sts.MsgExpiredToken)
	})
}
