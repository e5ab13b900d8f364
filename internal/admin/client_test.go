package admin_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/admin"
	"github.com/podid/podid/internal/assoccache"
	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/servertest"
	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/sts"
	"github.com/podid/podid/internal/sts/stshttp"
)

const account = "111122223333"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is a podid server wired as podid serve wires it (SigV4, the local
// STS, the association cache, the EKS API and the admin API), and an
// admin Client signing with the admin identity's keys.
type env struct {
	*servertest.Server
	sts    *sts.Service
	client *admin.Client
}

func newEnv(t *testing.T, delay time.Duration) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{}
	e.Server = servertest.New(t, servertest.WithConfig(func(cfg *server.Config) {
		cfg.AccountID = account
		cfg.NewClusterIssuer = satoken.NewIssuer
		key, err := sts.KeyFromStore(ctx, cfg.Store)
		if err != nil {
			t.Fatal(err)
		}
		if e.sts, err = sts.New(sts.Config{AccountID: account, Keys: [][]byte{key}, Logger: quiet}); err != nil {
			t.Fatal(err)
		}
		cache := assoccache.New(cfg.Store, assoccache.Options{Delay: delay, Logger: quiet})
		if err := cache.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cache.Stop)
		names := cfg.Names()
		api := admin.New(admin.Config{
			Store: cfg.Store, Cache: cache, Sessions: e.sts, IssuerURL: names.IssuerURL,
			ClusterARN: names.ClusterARN, AssociationARN: names.AssociationARN,
			Authorizer: authz.Rules{}, Logger: quiet,
			JWKS: satoken.NewVerifier(satoken.VerifierOptions{Logger: quiet}),
		})
		auth := sigv4.New(sigv4.Config{
			Admin:     sts.Credentials{AccessKeyID: servertest.AccessKeyID, SecretAccessKey: servertest.SecretAccessKey},
			AccountID: account, Sessions: e.sts, Logger: quiet,
		})
		cfg.Authenticate, cfg.Authorizer = auth.Authenticate, authz.Rules{}
		cfg.Mounts = append(cfg.Mounts, api.Mount, func(h *httpx.Host) error { return stshttp.Mount(h, e.sts, nil) })
	}))
	e.client = &admin.Client{Endpoint: e.URL, Region: "us-east-1", HTTPClient: e.HTTP.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(servertest.AccessKeyID, servertest.SecretAccessKey, "")}
	if _, err := e.EKS(t).CreateCluster(ctx, &eks.CreateClusterInput{
		Name: aws.String("c1"), RoleArn: aws.String("arn:aws:iam::" + account + ":role/eks"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{"subnet-1"}},
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

// sessionClient is a Client signing with a vended session's credentials.
func (e *env) sessionClient(t *testing.T) (*admin.Client, sts.AssumeRoleOutput) {
	t.Helper()
	out, err := e.sts.AssumeRole(context.Background(), sts.AssumeRoleInput{RoleARN: "arn:aws:iam::" + account + ":role/app", RoleSessionName: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	c := *e.client
	c.Credentials = credentials.NewStaticCredentialsProvider(out.Credentials.AccessKeyID, out.Credentials.SecretAccessKey, out.Credentials.SessionToken)
	return &c, out
}

func TestClientTokensAndIssuer(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	tok, err := e.client.MintToken(ctx, "c1", admin.MintTokenInput{Namespace: "ns", ServiceAccount: "sa", PodName: "p", PodUID: "u", ExpiresInSeconds: 600})
	if err != nil {
		t.Fatalf("MintToken: %v", err)
	}
	cl, err := e.Store.GetCluster(ctx, "us-east-1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	claims, err := satoken.NewVerifier(satoken.VerifierOptions{}).Verify(ctx, cl, e.Server.Server.IssuerURL(cl), tok.Token)
	if err != nil || claims.ServiceAccount != "sa" {
		t.Errorf("minted token: %+v, %v", claims, err)
	}

	doc, err := e.client.Issuer(ctx, "c1")
	if err != nil || !doc.PodidIssued || doc.IssuerURL != e.URL+"/clusters-oidc/c1" {
		t.Errorf("Issuer: %+v, %v", doc, err)
	}
	// The signing key's ID (as the public JWKS names it) and its age.
	pub, err := satoken.PublicJWKS(cl.Issuer.SigningKeys)
	if err != nil {
		t.Fatal(err)
	}
	kids, _ := satoken.Keys(pub)
	if len(doc.Keys) != 1 || len(kids) != 1 || doc.Keys[0].KeyID != kids[0].KeyID || doc.Keys[0].CreatedAt == nil ||
		doc.Keys[0].CreatedAt.Before(cl.CreatedAt.Add(-time.Second)) || doc.Keys[0].CreatedAt.After(time.Now()) {
		t.Errorf("Issuer keys: %+v, want the key %v made with the cluster at %v", doc.Keys, kids, cl.CreatedAt)
	}
	// A registered cluster's static JWKS: its key IDs, no creation time.
	ext, err := e.client.SetIssuer(ctx, "c1", admin.IssuerDoc{IssuerURL: "https://oidc.example/id/1", JWKS: pub})
	if err != nil || ext.PodidIssued || len(ext.Keys) != 1 || ext.Keys[0].KeyID != kids[0].KeyID || ext.Keys[0].CreatedAt != nil {
		t.Errorf("SetIssuer(static JWKS) = %+v, %v; want its key ID without a time", ext, err)
	}
	// A JWKS URL is fetched once when set: one that serves no key set is
	// refused then; one that does is taken.
	notJWKS := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>hello</html>")) }))
	defer notJWKS.Close()
	if _, err := e.client.SetIssuer(ctx, "c1", admin.IssuerDoc{IssuerURL: "https://oidc.example/id/1", JWKSURL: notJWKS.URL}); !isCode(err, eksapi.CodeInvalidParameter) || !strings.Contains(err.Error(), "jwksUrl does not serve a JSON Web Key Set") {
		t.Errorf("SetIssuer with a URL serving HTML: %v, want InvalidParameterException", err)
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(pub)) }))
	defer jwks.Close()
	if _, err := e.client.SetIssuer(ctx, "c1", admin.IssuerDoc{IssuerURL: "https://oidc.example/id/1", JWKSURL: jwks.URL}); err != nil {
		t.Errorf("SetIssuer with a URL serving the JWKS: %v", err)
	}
	if _, err := e.client.SetIssuer(ctx, "c1", admin.IssuerDoc{IssuerURL: "kubernetes"}); !isCode(err, eksapi.CodeInvalidParameter) {
		t.Errorf("SetIssuer with a bad URL: %v, want InvalidParameterException", err)
	}
	if _, err := e.client.Issuer(ctx, "nope"); !isCode(err, eksapi.CodeResourceNotFound) || !strings.Contains(err.Error(), "No cluster found for name: nope.") {
		t.Errorf("Issuer of an unknown cluster: %v", err)
	}
}

// TestClientSessionRefused: a vended session reads (the issuer, wait) but
// the admin's actions are refused, worded as IAM words it, with the status
// in the error.
func TestClientSessionRefused(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	c, out := e.sessionClient(t)
	if _, err := c.Issuer(ctx, "c1"); err != nil {
		t.Errorf("session reading the issuer: %v", err)
	}
	if _, err := c.Wait(ctx, admin.WaitInput{Revision: -1}, 10*time.Second); err != nil {
		t.Errorf("session waiting: %v", err)
	}
	clusterARN := "arn:aws:eks:us-east-1:" + account + ":cluster/c1"
	for _, tt := range []struct {
		call            func() error
		action, resouce string
	}{
		{func() error {
			_, err := c.MintToken(ctx, "c1", admin.MintTokenInput{Namespace: "ns", ServiceAccount: "sa", PodName: "p", PodUID: "u"})
			return err
		}, authz.ActionMintToken, clusterARN},
		{func() error {
			_, err := c.SetIssuer(ctx, "c1", admin.IssuerDoc{PodidIssued: true})
			return err
		}, authz.ActionSetIssuer, clusterARN},
		{func() error {
			_, err := c.InspectSession(ctx, out.Credentials.SessionToken)
			return err
		}, authz.ActionInspectSession, "*"},
	} {
		err := tt.call()
		want := "AccessDeniedException: User: " + out.AssumedRoleARN + " is not authorized to perform: " + tt.action + " on resource: " + tt.resouce + " (HTTP 403)"
		var ae *eksapi.Error
		if !errors.As(err, &ae) || ae.Code != eksapi.CodeAccessDenied || err.Error() != want {
			t.Errorf("session %s: %v, want %s", tt.action, err, want)
		}
	}
	view, err := e.client.InspectSession(ctx, out.Credentials.SessionToken)
	if err != nil || !strings.Contains(string(view), out.AssumedRoleARN) || strings.Contains(string(view), out.Credentials.SecretAccessKey) {
		t.Errorf("admin inspecting: %s, %v", view, err)
	}
}

// TestClientWait: the wait asks again, a chunk at a time, until the
// change is in effect; past its timeout it returns the server's
// RequestTimeoutException.
func TestClientWait(t *testing.T) {
	e := newEnv(t, 2*time.Second)
	ctx := context.Background()
	a, err := e.EKS(t).CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), Namespace: aws.String("ns"), ServiceAccount: aws.String("sa"),
		RoleArn: aws.String("arn:aws:iam::" + account + ":role/app"),
	})
	if err != nil {
		t.Fatal(err)
	}
	in := admin.WaitInput{Revision: -1, Cluster: "c1", AssociationID: aws.ToString(a.Association.AssociationId)}
	_, err = e.client.Wait(ctx, in, 10*time.Millisecond)
	var ue *eksapi.UnknownError
	if !errors.As(err, &ue) || ue.Code != admin.CodeRequestTimeout || ue.Status != 408 {
		t.Errorf("Wait within the delay: %v, want RequestTimeoutException", err)
	}
	c := *e.client
	c.WaitChunk = 50 * time.Millisecond
	out, err := c.Wait(ctx, in, 20*time.Second)
	if err != nil || out.Revision <= 0 {
		t.Errorf("Wait: %+v, %v", out, err)
	}
}

// TestClientWaitMissing: a wait for an association or a cluster that does
// not exist is ResourceNotFound; a deleted association's wait is its
// deletion's.
func TestClientWaitMissing(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	for _, in := range []admin.WaitInput{
		{Revision: -1, Cluster: "c1", AssociationID: "a-000000000000000000"},
		{Revision: -1, Cluster: "nope", AssociationID: "a-000000000000000000"},
	} {
		if _, err := e.client.Wait(ctx, in, 5*time.Second); !isCode(err, eksapi.CodeResourceNotFound) {
			t.Errorf("Wait(%+v) = %v, want ResourceNotFoundException", in, err)
		}
	}
	ek := e.EKS(t)
	a, err := ek.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), Namespace: aws.String("ns"), ServiceAccount: aws.String("sa"),
		RoleArn: aws.String("arn:aws:iam::" + account + ":role/app"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ek.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: aws.String("c1"), AssociationId: a.Association.AssociationId}); err != nil {
		t.Fatal(err)
	}
	if out, err := e.client.Wait(ctx, admin.WaitInput{Revision: -1, Cluster: "c1", AssociationID: aws.ToString(a.Association.AssociationId)}, 5*time.Second); err != nil || out.Revision <= 0 {
		t.Errorf("Wait for a deleted association: %+v, %v", out, err)
	}
}

func isCode(err error, code string) bool {
	var ae *eksapi.Error
	return errors.As(err, &ae) && ae.Code == code
}

func TestMintToken(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	pod := admin.MintTokenInput{
		Namespace: "ns-a", ServiceAccount: "sa1", ServiceAccountUID: "aad7d4eb-1",
		PodName: "app1", PodUID: "fd6df8ef-c1f9-4dee-b6e9-a0b50c8f3012",
	}
	in := pod
	in.ExpiresInSeconds = 600
	in.NodeName = "node-1"
	out, err := e.client.MintToken(ctx, "c1", in)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := e.Store.GetCluster(ctx, "us-east-1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	claims, err := satoken.NewVerifier(satoken.VerifierOptions{}).Verify(ctx, cl, e.Server.Server.IssuerURL(cl), out.Token)
	if err != nil {
		t.Fatal(err)
	}
	want := &satoken.Claims{
		Issuer: e.URL + "/clusters-oidc/c1", Subject: "system:serviceaccount:ns-a:sa1", Audience: []string{"pods.eks.amazonaws.com"},
		Namespace: "ns-a", ServiceAccount: "sa1", ServiceAccountUID: pod.ServiceAccountUID, PodName: "app1", PodUID: pod.PodUID, NodeName: "node-1",
	}
	if diff := cmp.Diff(claims, want, cmpopts.IgnoreFields(satoken.Claims{}, "IssuedAt", "NotBefore", "Expiry")); diff != "" {
		t.Errorf("claims (-got +want):\n%s", diff)
	}
	if d := claims.Expiry.Sub(claims.IssuedAt); d != 10*time.Minute || !claims.Expiry.Equal(out.Expiration.Time) {
		t.Errorf("lifetime %v, expiration %v vs %v", d, claims.Expiry, out.Expiration.Time)
	}
	for _, bad := range []admin.MintTokenInput{{Namespace: "n"}, {Namespace: "n", ServiceAccount: "s", PodName: "p", PodUID: "u", ExpiresInSeconds: -1},
		// 2^55+3600 seconds overflows a time.Duration to one hour.
		{Namespace: "n", ServiceAccount: "s", PodName: "p", PodUID: "u", ExpiresInSeconds: 1<<55 + 3600}} {
		if _, err := e.client.MintToken(ctx, "c1", bad); !isCode(err, eksapi.CodeInvalidParameter) {
			t.Errorf("mint %+v: %v, want InvalidParameterException", bad, err)
		}
	}
	if _, err := e.client.MintToken(ctx, "nope", pod); !isCode(err, eksapi.CodeResourceNotFound) {
		t.Errorf("mint for unknown cluster: %v", err)
	}
}
