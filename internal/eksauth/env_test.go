package eksauth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/admin"
	"github.com/podid/podid/internal/assoccache"
	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/eksauth"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/servertest"
	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
	"github.com/podid/podid/internal/sts"
	"github.com/podid/podid/internal/sts/stshttp"
)

const (
	account = "111122223333"
	region  = "us-west-2"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is a full podid server: SQLite store, EKS API, EKS Auth (this
// package), STS and SigV4 authentication, as podid serve wires them.
type env struct {
	*servertest.Server
	sts   *sts.Service
	cache *assoccache.Cache
	admin aws.Credentials
}

type envOptions struct {
	assumer eksauth.Assumer // default: the env's STS
	delay   time.Duration
	logs    io.Writer // EKS Auth's and STS's log lines, all levels (default: none)
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "podid.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logger := discard
	if o.logs != nil {
		logger = slog.New(slog.NewTextHandler(o.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	stsSvc, err := sts.New(sts.Config{Region: region, AccountID: account, Keys: [][]byte{bytes.Repeat([]byte{7}, sts.KeySize)}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	cache := assoccache.New(st, assoccache.Options{Delay: o.delay, Logger: discard})
	if err := cache.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cache.Stop)

	var srv atomic.Pointer[server.Server] // set once the server is built
	assumer := o.assumer
	if assumer == nil {
		assumer = stsSvc
	}
	issuerURL := func(c store.Cluster) string { return srv.Load().IssuerURL(c) }
	associationARN := func(r, c, id string) string { return srv.Load().AssociationARN(r, c, id) }
	clusterARN := func(r, c string) string { return srv.Load().ClusterARN(r, c) }
	h := eksauth.New(eksauth.Config{
		Cache:          cache,
		Verifier:       satoken.NewVerifier(satoken.VerifierOptions{Logger: discard}),
		Assumer:        assumer,
		IssuerURL:      issuerURL,
		AssociationARN: associationARN,
		ClusterARN:     clusterARN,
		Region:         region,
		Logger:         logger,
		Authorizer:     authz.Rules{},
	})
	adm := admin.New(admin.Config{
		Store: st, Cache: cache, Sessions: stsSvc, IssuerURL: issuerURL,
		ClusterARN: clusterARN, AssociationARN: associationARN, Region: region,
		Authorizer: authz.Rules{}, Logger: discard,
	})
	adminCreds := aws.Credentials{AccessKeyID: servertest.AccessKeyID, SecretAccessKey: servertest.SecretAccessKey}
	auth := sigv4.New(sigv4.Config{
		Admin:     sts.Credentials{AccessKeyID: adminCreds.AccessKeyID, SecretAccessKey: adminCreds.SecretAccessKey},
		AccountID: account, Region: region, Sessions: stsSvc, Logger: discard,
	})
	ts := servertest.New(t, servertest.WithStore(st), servertest.WithConfig(func(cfg *server.Config) {
		cfg.AccountID, cfg.Region = account, region
		cfg.NewClusterIssuer = satoken.NewIssuer
		cfg.Authenticate = auth.Authenticate
		cfg.Authorizer = authz.Rules{}
		cfg.Mounts = append(cfg.Mounts, h.Mount, adm.Mount, func(host *httpx.Host) error { return stshttp.Mount(host, stsSvc, nil) })
	}))
	srv.Store(ts.Server)
	return &env{Server: ts, sts: stsSvc, cache: cache, admin: adminCreds}
}

// do sends a request signed with creds (the admin's when nil) for the
// signing name service, and decodes a JSON response into out (on 200) or
// returns the error shape.
func (e *env) do(t testing.TB, creds *aws.Credentials, method, path, service string, in, out any) *apiError {
	t.Helper()
	return e.doIn(t, region, creds, method, path, service, in, out)
}

// doIn is do with the request signed for region reg.
func (e *env) doIn(t testing.TB, reg string, creds *aws.Credentials, method, path, service string, in, out any) *apiError {
	t.Helper()
	var body []byte
	switch in := in.(type) {
	case nil:
	case []byte: // sent as is
		body = in
	default:
		var err error
		if body, err = json.Marshal(in); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, e.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if creds == nil {
		creds = &e.admin
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), *creds, req, hex.EncodeToString(sum[:]), service, reg, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := e.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("X-Amzn-RequestId") == "" {
		t.Errorf("%s %s: no X-Amzn-RequestId", method, path)
	}
	if resp.StatusCode == http.StatusOK {
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: decoding %s: %v", method, path, b, err)
			}
		}
		return nil
	}
	ae := &apiError{Status: resp.StatusCode, Header: resp.Header.Get("X-Amzn-ErrorType")}
	if err := json.Unmarshal(b, ae); err != nil {
		t.Fatalf("%s %s: error body %q: %v", method, path, b, err)
	}
	if ae.Header != ae.Type {
		t.Errorf("X-Amzn-ErrorType %q != __type %q", ae.Header, ae.Type)
	}
	return ae
}

type apiError struct {
	Status  int    `json:"-"`
	Header  string `json:"-"`
	Type    string `json:"__type"`
	Message string `json:"message"`
}

// assumeRole calls AssumeRoleForPodIdentity.
func (e *env) assumeRole(t testing.TB, cluster string, in any) (*eksapi.AssumeRoleForPodIdentityOutput, *apiError) {
	t.Helper()
	var out eksapi.AssumeRoleForPodIdentityOutput
	if ae := e.do(t, nil, "POST", "/clusters/"+cluster+"/assume-role-for-pod-identity", "eks-auth", in, &out); ae != nil {
		return nil, ae
	}
	return &out, nil
}

func (e *env) eksClient(t testing.TB) *eks.Client { return e.EKS(t) }

func (e *env) createCluster(t testing.TB, name string) {
	t.Helper()
	_, err := e.eksClient(t).CreateCluster(context.Background(), &eks.CreateClusterInput{
		Name: aws.String(name), RoleArn: aws.String("arn:aws:iam::" + account + ":role/cluster"),
		ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-1"}},
	})
	if err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
}

// mint asks the admin API for a token.
func (e *env) mint(t testing.TB, cluster string, in admin.MintTokenInput) string {
	t.Helper()
	var out admin.MintTokenOutput
	if ae := e.do(t, nil, "POST", "/podid/v1/clusters/"+cluster+"/tokens", "eks", in, &out); ae != nil {
		t.Fatalf("minting a token: %+v", ae)
	}
	return out.Token
}

// podToken creates cluster c1 with the association of ns-a/sa1 to role r
// and returns the token of pod (app1 in ns-a as sa1).
func (e *env) podToken(t testing.TB) string {
	t.Helper()
	e.createCluster(t, "c1")
	e.associate(t, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), Namespace: aws.String("ns-a"), ServiceAccount: aws.String("sa1"),
		RoleArn: aws.String("arn:aws:iam::" + account + ":role/r"),
	})
	return e.mint(t, "c1", pod)
}

// waitAll waits until every write so far is in effect for credentials.
func (e *env) waitAll(t testing.TB) int64 {
	t.Helper()
	var out admin.WaitOutput
	if ae := e.do(t, nil, "GET", "/podid/v1/wait?timeout=10s", "eks", nil, &out); ae != nil {
		t.Fatalf("wait: %+v", ae)
	}
	return out.Revision
}
