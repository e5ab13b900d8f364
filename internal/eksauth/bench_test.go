package eksauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/google/uuid"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/admin"
	"github.com/podid/podid/internal/agent/eksauthclient"
	"github.com/podid/podid/internal/assoccache"
	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/eksauth"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/iam/enforce"
	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
	"github.com/podid/podid/internal/sts"
)

// benchEnv is the credential path without HTTP transport or SigV4: the
// handler on the HTTP host, a real SQLite store behind the cache, the real STS.
type benchEnv struct {
	mux      http.Handler
	cluster  store.Cluster
	issuer   string
	token    string
	verifier *satoken.Verifier
}

func newBenchEnv(b testing.TB) *benchEnv { return newBenchEnvIAM(b, false) }

// newBenchEnvIAM is newBenchEnv with, when enforced is set, podid's IAM as
// serve --iam enforce wires it: the request made by a node's IAM user
// whose policy allows EKS Auth on the cluster, the association role's
// trust policy (with sts:TagSession and the confused-deputy conditions)
// deciding the assumption. Without it, the admin identity under
// authz.Rules (--iam off).
func newBenchEnvIAM(b testing.TB, enforced bool) *benchEnv {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "podid.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	iss, err := satoken.NewIssuer(ctx, "c1")
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	cl, err := st.CreateCluster(ctx, store.Cluster{Region: "us-east-1", Name: "c1", CreatedAt: now, Issuer: iss}, store.WriteOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.CreateAssociation(ctx, store.Association{
		Region: "us-east-1", ID: "a-0123456789abcdefg", ClusterName: "c1", Namespace: "ns-a", ServiceAccount: "sa1",
		RoleARN: "arn:aws:iam::" + account + ":role/r", CreatedAt: now, ModifiedAt: now,
	}, store.WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	cache := assoccache.New(st, assoccache.Options{Logger: discard})
	if err := cache.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cache.Stop)
	var authorizer authz.Authorizer = authz.Rules{}
	id := &authz.Identity{ARN: "arn:aws:iam::" + account + ":root", Account: account}
	stsCfg := sts.Config{AccountID: account, Keys: [][]byte{bytes.Repeat([]byte{7}, sts.KeySize)}, Logger: discard}
	if enforced {
		clusterARN := "arn:aws:eks:us-west-2:" + account + ":cluster/c1"
		if _, err := st.CreateRole(ctx, store.Role{Name: "r", Path: "/", ID: "AROAR", ARN: "arn:aws:iam::" + account + ":role/r", CreatedAt: now,
			AssumeRolePolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},` +
				`"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"aws:SourceAccount":"` + account + `","aws:SourceArn":"` + clusterARN + `"}}}]}`}); err != nil {
			b.Fatal(err)
		}
		userARN := "arn:aws:iam::" + account + ":user/podid-node/podid-node-c1"
		if _, err := st.CreateUser(ctx, store.User{Name: "podid-node-c1", Path: "/podid-node/", ID: "AIDANODE", ARN: userARN, CreatedAt: now,
			Policies: map[string]string{"eks-auth": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"eks-auth:AssumeRoleForPodIdentity","Resource":"` + clusterARN + `"}]}`}}); err != nil {
			b.Fatal(err)
		}
		iam := enforce.New(enforce.Config{Store: st, AccountID: account, Logger: discard})
		ictx, cancel := context.WithCancel(ctx)
		b.Cleanup(cancel)
		if err := iam.Start(ictx); err != nil {
			b.Fatal(err)
		}
		authorizer, stsCfg.Roles = iam, iam
		id = &authz.Identity{ARN: userARN, Account: account}
	}
	stsSvc, err := sts.New(stsCfg)
	if err != nil {
		b.Fatal(err)
	}
	issuerURL := func(c store.Cluster) string { return "http://127.0.0.1:8080/clusters-oidc/" + c.Name }
	verifier := satoken.NewVerifier(satoken.VerifierOptions{Logger: discard})
	h := eksauth.New(eksauth.Config{
		Cache: cache, Verifier: verifier, Assumer: stsSvc, IssuerURL: issuerURL,
		AssociationARN: func(_, c, id string) string {
			return "arn:aws:eks:us-west-2:" + account + ":podidentityassociation/" + c + "/" + id
		},
		ClusterARN: func(_, c string) string { return "arn:aws:eks:us-west-2:" + account + ":cluster/" + c },
		Logger:     discard,
		Authorizer: authorizer,
	})
	mux := httpx.New(httpx.Config{Logger: discard, Authenticate: func(r *http.Request) (*http.Request, error) {
		return r.WithContext(authz.WithIdentity(r.Context(), id)), nil
	}})
	if err := h.Mount(mux); err != nil {
		b.Fatal(err)
	}
	tok, err := satoken.Mint(iss.SigningKeys, issuerURL(cl), satoken.Claims{
		Namespace: "ns-a", ServiceAccount: "sa1", PodName: "app1", PodUID: "fd6df8ef-c1f9-4dee-b6e9-a0b50c8f3012",
	}, now, 24*time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	return &benchEnv{mux: mux, cluster: cl, issuer: issuerURL(cl), token: tok, verifier: verifier}
}

// BenchmarkVerify is token verification alone: the baseline of
// BenchmarkAssumeRoleForPodIdentity (goal: the full path at least half as
// fast).
func BenchmarkVerify(b *testing.B) {
	e := newBenchEnv(b)
	ctx := context.Background()
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := e.verifier.Verify(ctx, e.cluster, e.issuer, e.token); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU adds the process's CPU time per operation (user + system) to
// the benchmark's figures: on a shared machine it varies less than the
// wall time does. Call the returned function when the loop is done.
func reportCPU(b *testing.B) func() {
	start := cpuTime(b)
	return func() {
		b.ReportMetric(float64((cpuTime(b)-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAssumeRoleForPodIdentity is the cold credential path (no agent
// cache): decode, validate, verify, look up, assume the role, encode.
func BenchmarkAssumeRoleForPodIdentity(b *testing.B) {
	e := newBenchEnv(b)
	body, err := json.Marshal(eksapi.AssumeRoleForPodIdentityInput{Token: e.token})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/clusters/c1/assume-role-for-pod-identity", bytes.NewReader(body))
		rec := httptest.NewRecorder()
		e.mux.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkAssumeRoleForPodIdentityParallel is the same under concurrent
// requests.
func BenchmarkAssumeRoleForPodIdentityParallel(b *testing.B) {
	e := newBenchEnv(b)
	body, err := json.Marshal(eksapi.AssumeRoleForPodIdentityInput{Token: e.token})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/clusters/c1/assume-role-for-pod-identity", strings.NewReader(string(body)))
			rec := httptest.NewRecorder()
			e.mux.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
}

// BenchmarkEnforcement is the credential path with IAM enforced (a node
// user's identity policy, the association role's trust policy with
// sts:TagSession) against IAM off (the admin identity, authz.Rules) in
// the same run, interleaved request by request so both see the same
// machine. It reports each side's time per request and the throughput
// enforcement keeps (off/enforce time; the goal is at least 0.85).
func BenchmarkEnforcement(b *testing.B) {
	envs := []*benchEnv{newBenchEnvIAM(b, false), newBenchEnvIAM(b, true)}
	bodies := make([][]byte, 2)
	for i, e := range envs {
		body, err := json.Marshal(eksapi.AssumeRoleForPodIdentityInput{Token: e.token})
		if err != nil {
			b.Fatal(err)
		}
		bodies[i] = body
	}
	var took [2]time.Duration
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		for k := range envs {
			i := (k + n) % 2 // alternate which goes first
			e := envs[i]
			req := httptest.NewRequest("POST", "/clusters/c1/assume-role-for-pod-identity", bytes.NewReader(bodies[i]))
			rec := httptest.NewRecorder()
			start := time.Now()
			e.mux.ServeHTTP(rec, req)
			took[i] += time.Since(start)
			if rec.Code != 200 {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	}
	off, on := float64(took[0].Nanoseconds())/float64(b.N), float64(took[1].Nanoseconds())/float64(b.N)
	b.ReportMetric(off, "off-ns/req")
	b.ReportMetric(on, "enforce-ns/req")
	b.ReportMetric(off/on, "throughput-ratio")
}

// BenchmarkAssumeRoleForPodIdentityEnforced is
// BenchmarkAssumeRoleForPodIdentity with IAM enforced.
func BenchmarkAssumeRoleForPodIdentityEnforced(b *testing.B) {
	e := newBenchEnvIAM(b, true)
	body, err := json.Marshal(eksapi.AssumeRoleForPodIdentityInput{Token: e.token})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/clusters/c1/assume-role-for-pod-identity", bytes.NewReader(body))
		rec := httptest.NewRecorder()
		e.mux.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkAssumeRoleForPodIdentityClient is the cold credential path as
// podid bench measures it: the node agent's EKS Auth client (SigV4-signed)
// over loopback HTTP to the full server (SigV4 authentication, EKS Auth,
// STS), 8 workers each with its own pod's token. Its cpu-ns/op counts both
// sides, as the bench's machine does.
func BenchmarkAssumeRoleForPodIdentityClient(b *testing.B) {
	e := newEnv(b, envOptions{})
	e.createCluster(b, "c1")
	const workers = 8
	tokens := make([]string, workers)
	for i := range tokens {
		sa := fmt.Sprintf("sa-%d", i)
		e.associate(b, &eks.CreatePodIdentityAssociationInput{
			ClusterName: aws.String("c1"), Namespace: aws.String("ns-a"), ServiceAccount: aws.String(sa),
			RoleArn: aws.String("arn:aws:iam::" + account + ":role/app-role"),
		})
		tokens[i] = e.mint(b, "c1", admin.MintTokenInput{Namespace: "ns-a", ServiceAccount: sa, PodName: fmt.Sprintf("app-%d", i), PodUID: uuid.NewString()})
	}
	e.waitAll(b)
	c, err := eksauthclient.New(eksauthclient.Config{Endpoint: e.URL, Region: region, HTTPClient: e.HTTP.Client(), MaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(e.admin.AccessKeyID, e.admin.SecretAccessKey, "")})
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.SetParallelism(workers / max(1, runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		tok := tokens[int(next.Add(1))%workers]
		for pb.Next() {
			if _, err := c.AssumeRoleForPodIdentity(context.Background(), "c1", tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
