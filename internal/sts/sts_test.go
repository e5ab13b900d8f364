package sts_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/sts"
	"github.com/podid/podid/internal/sts/stshttp"
)

const (
	account = "111122223333"
	region  = "us-west-2"
	roleA   = "arn:aws:iam::111122223333:role/path/app-role"
	roleB   = "arn:aws:iam::444455556666:role/target-role"
)

// clock is a settable offset from the real time (the SDK signs with the
// real clock, so the server's clocks move relative to it).
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time      { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) set(d time.Duration) { c.offset.Store(int64(d)) }
func testKey(b byte) [][]byte        { k := make([]byte, sts.KeySize); k[0] = b; return [][]byte{k} }
func ptr[T any](v T) *T              { return &v }
func fixed(c sts.Credentials) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
}

type env struct {
	srv      *httptest.Server
	svc      *sts.Service
	admin    sts.Credentials
	stsClock *clock // the STS's clock (issuing and expiry)
	mwClock  *clock // the middleware's clock (signature skew)
}

func newEnv(t *testing.T, mode string) *env {
	t.Helper()
	e := &env{stsClock: &clock{}, mwClock: &clock{}}
	svc, err := sts.New(sts.Config{Region: region, AccountID: account, Keys: testKey(1), Now: e.stsClock.now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	e.admin, err = sigv4.NewAdminCredentials()
	if err != nil {
		t.Fatal(err)
	}
	auth := sigv4.New(sigv4.Config{Mode: mode, Admin: e.admin, AccountID: account, Sessions: svc, Now: e.mwClock.now, Logger: quiet})
	host := httpx.New(httpx.Config{Logger: quiet, Authenticate: auth.Authenticate})
	if err := stshttp.Mount(host, svc, nil); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(host)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) client(p aws.CredentialsProvider) *awssts.Client {
	return awssts.New(awssts.Options{
		Region:           region,
		Credentials:      p,
		BaseEndpoint:     aws.String(e.srv.URL),
		HTTPClient:       e.srv.Client(),
		RetryMaxAttempts: 1,
	})
}

func (e *env) adminClient() *awssts.Client { return e.client(fixed(e.admin)) }

func creds(c *ststypes.Credentials) sts.Credentials {
	return sts.Credentials{AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken: aws.ToString(c.SessionToken), Expiration: aws.ToTime(c.Expiration)}
}

func sdkTags(kv ...string) []ststypes.Tag {
	var tags []ststypes.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		tags = append(tags, ststypes.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return tags
}

// apiErr asserts err is an API error with the code and message.
func apiErr(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want API error %s", err, code)
	}
	if ae.ErrorCode() != code || (msg != "" && ae.ErrorMessage() != msg) {
		t.Errorf("error = %s: %q, want %s: %q", ae.ErrorCode(), ae.ErrorMessage(), code, msg)
	}
}

func TestAssumeRoleChainAndCallerIdentity(t *testing.T) {
	e := newEnv(t, sigv4.ModeSigV4)
	ctx := context.Background()

	who, err := e.adminClient().GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(who.Arn), "arn:aws:iam::"+account+":root"; got != want {
		t.Errorf("admin Arn = %q, want %q", got, want)
	}

	first, err := e.adminClient().AssumeRole(ctx, &awssts.AssumeRoleInput{
		RoleArn:           aws.String(roleA),
		RoleSessionName:   aws.String("eks-c1-app1-0001"),
		DurationSeconds:   aws.Int32(21600),
		Tags:              sdkTags("eks-cluster-name", "c1", "kubernetes-namespace", "ns-a", "local", "x"),
		TransitiveTagKeys: []string{"eks-cluster-name", "kubernetes-namespace"},
	})
	if err != nil {
		t.Fatal(err)
	}
	c1 := creds(first.Credentials)
	if !strings.HasPrefix(c1.AccessKeyID, "ASIA") || len(c1.AccessKeyID) != 20 || strings.ToUpper(c1.AccessKeyID) != c1.AccessKeyID {
		t.Errorf("AccessKeyId = %q, want ASIA + 16 upper-case characters", c1.AccessKeyID)
	}
	if got, want := aws.ToString(first.AssumedRoleUser.Arn), "arn:aws:sts::"+account+":assumed-role/app-role/eks-c1-app1-0001"; got != want {
		t.Errorf("AssumedRoleUser.Arn = %q, want %q", got, want)
	}
	if got, want := aws.ToString(first.AssumedRoleUser.AssumedRoleId), sts.RoleID(roleA)+":eks-c1-app1-0001"; got != want {
		t.Errorf("AssumedRoleId = %q, want %q", got, want)
	}
	if d := time.Until(c1.Expiration); d < 6*time.Hour-time.Minute || d > 6*time.Hour+time.Minute {
		t.Errorf("expiration in %v, want 6h", d)
	}

	who, err = e.client(fixed(c1)).GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(who.Arn), aws.ToString(first.AssumedRoleUser.Arn); got != want {
		t.Errorf("caller Arn = %q, want %q", got, want)
	}
	if got, want := aws.ToString(who.UserId), aws.ToString(first.AssumedRoleUser.AssumedRoleId); got != want {
		t.Errorf("caller UserId = %q, want %q", got, want)
	}

	// Chaining: more than an hour is refused, an inherited transitive key
	// cannot be set again.
	_, err = e.client(fixed(c1)).AssumeRole(ctx, &awssts.AssumeRoleInput{
		RoleArn: aws.String(roleB), RoleSessionName: aws.String("second"), DurationSeconds: aws.Int32(3601),
	})
	apiErr(t, err, "ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	_, err = e.client(fixed(c1)).AssumeRole(ctx, &awssts.AssumeRoleInput{
		RoleArn: aws.String(roleB), RoleSessionName: aws.String("second"), Tags: sdkTags("Kubernetes-Namespace", "other"),
	})
	apiErr(t, err, "InvalidParameterValue", "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.")

	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	second, err := e.client(fixed(c1)).AssumeRole(ctx, &awssts.AssumeRoleInput{
		RoleArn: aws.String(roleB), RoleSessionName: aws.String("second"),
		ExternalId: aws.String("region/111122223333/c1/ns-a/sa1"), Policy: aws.String(policy),
		Tags: sdkTags("team", "blue"),
	})
	if err != nil {
		t.Fatal(err)
	}
	c2 := creds(second.Credentials)
	if d := time.Until(c2.Expiration); d > time.Hour+time.Minute {
		t.Errorf("chained session lasts %v, want at most 1h", d)
	}
	if aws.ToInt32(second.PackedPolicySize) <= 0 {
		t.Errorf("PackedPolicySize = %d, want > 0", aws.ToInt32(second.PackedPolicySize))
	}
	who, err = e.client(fixed(c2)).GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(who.Arn), "arn:aws:sts::444455556666:assumed-role/target-role/second"; got != want {
		t.Errorf("chained caller Arn = %q, want %q", got, want)
	}
	if got, want := aws.ToString(who.Account), "444455556666"; got != want {
		t.Errorf("chained caller Account = %q, want %q", got, want)
	}

	sess, err := e.svc.Session(c2.SessionToken)
	if err != nil {
		t.Fatal(err)
	}
	wantTags := []sts.Tag{{Key: "eks-cluster-name", Value: "c1"}, {Key: "kubernetes-namespace", Value: "ns-a"}, {Key: "team", Value: "blue"}}
	if diff := cmp.Diff(sess.Tags, wantTags); diff != "" {
		t.Errorf("chained session tags (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(sess.TransitiveTagKeys, []string{"eks-cluster-name", "kubernetes-namespace"}); diff != "" {
		t.Errorf("chained transitive keys (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(sess.Chain, []string{aws.ToString(first.AssumedRoleUser.Arn)}); diff != "" {
		t.Errorf("chain (-got +want):\n%s", diff)
	}
	if sess.ExternalID != "region/111122223333/c1/ns-a/sa1" || sess.Policy != policy {
		t.Errorf("session external ID %q, policy %q", sess.ExternalID, sess.Policy)
	}
	if sess.SourcePrincipal != "arn:aws:iam::"+account+":root" {
		t.Errorf("SourcePrincipal = %q, want the admin ARN", sess.SourcePrincipal)
	}
}

func TestAuthenticationFailures(t *testing.T) {
	e := newEnv(t, sigv4.ModeSigV4)
	ctx := context.Background()
	out, err := e.adminClient().AssumeRole(ctx, &awssts.AssumeRoleInput{
		RoleArn: aws.String(roleA), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(900),
	})
	if err != nil {
		t.Fatal(err)
	}
	good := creds(out.Credentials)
	other, err := sts.New(sts.Config{AccountID: account, Keys: testKey(2), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.AssumeRole(ctx, sts.AssumeRoleInput{RoleARN: roleA, RoleSessionName: "s1"})
	if err != nil {
		t.Fatal(err)
	}

	tampered := good
	tampered.SecretAccessKey = "x" + good.SecretAccessKey[1:]
	garbled := good
	garbled.SessionToken = good.SessionToken[:len(good.SessionToken)-4] + "AAAA"
	swapped := good
	swapped.AccessKeyID = foreign.Credentials.AccessKeyID
	noToken := good
	noToken.SessionToken = ""
	badAdmin := e.admin
	badAdmin.SecretAccessKey = strings.Repeat("z", 40)

	tests := []struct {
		name      string
		creds     sts.Credentials
		code, msg string
	}{
		{"tampered secret", tampered, "SignatureDoesNotMatch", sts.MsgSignatureMismatch},
		{"wrong admin secret", badAdmin, "SignatureDoesNotMatch", sts.MsgSignatureMismatch},
		{"garbled token", garbled, "InvalidClientTokenId", sts.MsgInvalidClientToken},
		{"token from another key", foreign.Credentials, "InvalidClientTokenId", sts.MsgInvalidClientToken},
		{"access key not the token's", swapped, "InvalidClientTokenId", sts.MsgInvalidClientToken},
		{"session key without token", noToken, "InvalidClientTokenId", sts.MsgInvalidClientToken},
		{"unknown access key", sts.Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: "s"}, "InvalidClientTokenId", sts.MsgInvalidClientToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client(fixed(tt.creds)).GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
			apiErr(t, err, tt.code, tt.msg)
		})
	}

	t.Run("expired session", func(t *testing.T) {
		e.stsClock.set(-time.Hour)
		out, err := e.adminClient().AssumeRole(ctx, &awssts.AssumeRoleInput{
			RoleArn: aws.String(roleA), RoleSessionName: aws.String("old"), DurationSeconds: aws.Int32(900),
		})
		e.stsClock.set(0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.client(fixed(creds(out.Credentials))).GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
		apiErr(t, err, "ExpiredToken", sts.MsgExpiredToken)
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() != 400 {
			t.Errorf("status = %d, want 400", re.HTTPStatusCode())
		}
		// In-process chaining with expired credentials: the typed error.
		_, err = e.svc.AssumeRole(ctx, sts.AssumeRoleInput{RoleARN: roleB, RoleSessionName: "x2", Caller: ptr(creds(out.Credentials))})
		if !errors.Is(err, sts.ErrExpiredToken) {
			t.Errorf("chained AssumeRole with expired caller: %v, want ErrExpiredToken", err)
		}
	})

	for _, skew := range []time.Duration{6 * time.Minute, -6 * time.Minute} {
		t.Run("clock skew "+skew.String(), func(t *testing.T) {
			e.mwClock.set(skew)
			defer e.mwClock.set(0)
			_, err := e.adminClient().GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
			want := "Signature expired: "
			if skew < 0 {
				want = "Signature not yet current: "
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "SignatureDoesNotMatch" || !strings.HasPrefix(ae.ErrorMessage(), want) {
				t.Errorf("error = %v, want SignatureDoesNotMatch %q...", err, want)
			}
		})
	}
	t.Run("skew within 5 minutes", func(t *testing.T) {
		e.mwClock.set(4 * time.Minute)
		defer e.mwClock.set(0)
		if _, err := e.adminClient().GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{}); err != nil {
			t.Error(err)
		}
	})

	t.Run("unsigned", func(t *testing.T) {
		_, err := e.client(aws.AnonymousCredentials{}).GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
		apiErr(t, err, "MissingAuthenticationToken", sts.MsgMissingAuthToken)
	})
}

func TestModeNone(t *testing.T) {
	e := newEnv(t, sigv4.ModeNone)
	ctx := context.Background()
	who, err := e.client(aws.AnonymousCredentials{}).GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(who.Arn), "arn:aws:iam::"+account+":root"; got != want {
		t.Errorf("anonymous caller = %q, want %q", got, want)
	}
	out, err := e.client(aws.AnonymousCredentials{}).AssumeRole(ctx, &awssts.AssumeRoleInput{
		RoleArn: aws.String(roleA), RoleSessionName: aws.String("s1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Signature not checked (wrong secret), but the session is attributed.
	c := creds(out.Credentials)
	c.SecretAccessKey = "wrong"
	who, err = e.client(fixed(c)).GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(who.Arn), aws.ToString(out.AssumedRoleUser.Arn); got != want {
		t.Errorf("caller = %q, want %q", got, want)
	}
	// A dummy token is the admin; an authentic expired one is refused.
	who, err = e.client(fixed(sts.Credentials{AccessKeyID: "test", SecretAccessKey: "test", SessionToken: "test"})).GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Arn) != "arn:aws:iam::"+account+":root" {
		t.Errorf("dummy credentials: %v, %v; want the admin", who, err)
	}
	e.stsClock.set(-2 * time.Hour)
	old, err := e.client(aws.AnonymousCredentials{}).AssumeRole(ctx, &awssts.AssumeRoleInput{
		RoleArn: aws.String(roleA), RoleSessionName: aws.String("old"), DurationSeconds: aws.Int32(900),
	})
	e.stsClock.set(0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client(fixed(creds(old.Credentials))).GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	apiErr(t, err, "ExpiredToken", sts.MsgExpiredToken)
}

var quiet = slog.New(slog.DiscardHandler)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// TestSessionsBeyondTheCache: tokens are self-contained, so a replica that
// never saw them, and the issuer after they left its cache, open them.
func TestSessionsBeyondTheCache(t *testing.T) {
	ctx := context.Background()
	svc, err := sts.New(sts.Config{AccountID: account, Keys: testKey(1), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	replica, err := sts.New(sts.Config{AccountID: account, Keys: testKey(1), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var first sts.AssumeRoleOutput
	for i := range 2100 {
		out, err := svc.AssumeRole(ctx, sts.AssumeRoleInput{RoleARN: roleA, RoleSessionName: "s1"})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = out
		}
	}
	for name, s := range map[string]*sts.Service{"issuer": svc, "replica": replica} {
		sess, err := s.VerifyCredentials(first.Credentials)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if sess.AssumedRoleARN() != first.AssumedRoleARN {
			t.Errorf("%s: session %q, want %q", name, sess.AssumedRoleARN(), first.AssumedRoleARN)
		}
	}
	wrong := first.Credentials
	wrong.SecretAccessKey = "x" + wrong.SecretAccessKey[1:]
	if _, err := svc.VerifyCredentials(wrong); !errors.Is(err, sts.ErrInvalidToken) {
		t.Errorf("wrong secret for a cached token: %v, want ErrInvalidToken", err)
	}
}
