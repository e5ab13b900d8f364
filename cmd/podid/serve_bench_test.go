package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/podid/podid/internal/admin"
	"github.com/podid/podid/internal/agent/eksauthclient"
	"github.com/podid/podid/internal/audit"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/sigv4"
)

// BenchmarkServeDescribe measures DescribePodIdentityAssociation through
// the real aws-sdk-go-v2 client against podid serve as it runs (build's
// wiring: SQLite, --iam enforce, the audit recorder, the request log
// written to a file), from 8 goroutines sharing one client as podid bench
// drives it: with --auth none (what podid bench runs) and with --auth
// sigv4 (serve's default, the admin identity's keys). Client and server
// share the process, so cpu-ns/op counts both; profile with -cpuprofile
// and look below net/http.(*conn).serve for the server's part.
func BenchmarkServeDescribe(b *testing.B) {
	for _, mode := range []string{sigv4.ModeNone, sigv4.ModeSigV4} {
		b.Run("auth="+mode, func(b *testing.B) {
			logFile, err := os.Create(filepath.Join(b.TempDir(), "serve.log"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { logFile.Close() })
			url, dir := startServeLog(b, logFile, func(o *serveOptions) {
				o.auth, o.iam, o.logLevel = mode, iamEnforce, "info"
			})
			keys := aws.Credentials{AccessKeyID: "AKIDPODIDBENCH", SecretAccessKey: "podid-bench-secret"}
			if mode == sigv4.ModeSigV4 {
				admin, err := sigv4.LoadAdmin(dir)
				if err != nil {
					b.Fatal(err)
				}
				keys = aws.Credentials{AccessKeyID: admin.AccessKeyID, SecretAccessKey: admin.SecretAccessKey}
			}
			// Closed before podid serve shuts down: a connection the
			// transport dialled but never used would hold Shutdown up.
			hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
			b.Cleanup(hc.CloseIdleConnections)
			ek := eks.NewFromConfig(aws.Config{
				Region:      "us-west-2",
				HTTPClient:  hc,
				Credentials: credentials.StaticCredentialsProvider{Value: keys},
				Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
			}, func(o *eks.Options) { o.BaseEndpoint = aws.String(url) })
			ctx := context.Background()
			id := createDevAssociation(ctx, b, ek)
			in := &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("dev"), AssociationId: aws.String(id)}
			b.ReportAllocs()
			start := processCPU()
			b.SetParallelism(4) // 8 goroutines on 2 CPUs, as podid bench's 8 workers
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := ek.DescribePodIdentityAssociation(ctx, in); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64((processCPU()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkServeDescribeHandler is BenchmarkServeDescribe's server side
// alone: the handler build wires (--auth none, as podid bench runs it, and
// --iam enforce), served in the benchmark's goroutine with the headers the
// SDK sent (captured from a real call), no network and no client. Its
// cpu-ns/op is podid's own work per Describe, less net/http's connection
// handling (which the canned server pays too).
func BenchmarkServeDescribeHandler(b *testing.B) {
	p, ek, id, sent := benchHandlerServer(b)
	ctx := context.Background()
	if _, err := ek.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
		ClusterName: aws.String("dev"), AssociationId: aws.String(id),
	}); err != nil {
		b.Fatal(err)
	}
	path := "/clusters/dev/pod-identity-associations/" + id
	// A cancellable context, as net/http gives every request.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		r := httptest.NewRequestWithContext(rctx, http.MethodGet, path, nil)
		r.Header = sent.header.Clone()
		rec := httptest.NewRecorder()
		p.handler.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64((processCPU()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// benchHandlerServer builds serve's handler as BenchmarkServeDescribeHandler
// describes, creates cluster dev and one association in it through the SDK,
// and returns the pieces, an SDK client, the association's ID, and the last
// request the SDK sent (its headers and body).
func benchHandlerServer(b *testing.B) (*served, *eks.Client, string, *sentRequest) {
	dir := filepath.Join(b.TempDir(), "data")
	logFile, err := os.Create(filepath.Join(b.TempDir(), "serve.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { logFile.Close() })
	logger, logs := httpx.NewLogger(logFile, slog.LevelInfo)
	b.Cleanup(logs.Close)
	o := &serveOptions{
		store: "sqlite:" + filepath.Join(dir, "podid.db"), region: "us-west-2", accountID: "111122223333",
		auth: sigv4.ModeNone, iam: iamEnforce, maxBodyBytes: server.DefaultMaxBodyBytes, dataDir: dir,
		pollInterval: time.Second, resyncInterval: 5 * time.Minute,
		auditRetention: audit.DefaultRetention, auditMaxEvents: audit.DefaultMaxEvents,
	}
	ctx := context.Background()
	p, err := build(ctx, o, "http://127.0.0.1:8080", logger, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.close() })
	// The SDK's requests, for their headers and body.
	sent := &sentRequest{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sent.header, sent.body = r.Header.Clone(), body
		r.Body = io.NopCloser(bytes.NewReader(body))
		p.handler.ServeHTTP(w, r)
	}))
	b.Cleanup(ts.Close)
	sent.url, sent.client = ts.URL, ts.Client()
	ek := eks.NewFromConfig(aws.Config{
		Region:      "us-west-2",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDPODIDBENCH", "podid-bench-secret", ""),
		HTTPClient:  ts.Client(),
	}, func(o *eks.Options) { o.BaseEndpoint = aws.String(ts.URL) })
	return p, ek, createDevAssociation(ctx, b, ek), sent
}

// createDevAssociation creates cluster dev and its association of
// default/app with role app through ek, returning the association's ID.
func createDevAssociation(ctx context.Context, b *testing.B, ek *eks.Client) string {
	b.Helper()
	if _, err := ek.CreateCluster(ctx, &eks.CreateClusterInput{
		Name: aws.String("dev"), RoleArn: aws.String("arn:aws:iam::111122223333:role/eks"),
		ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-1"}},
	}); err != nil {
		b.Fatal(err)
	}
	a, err := ek.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("dev"), Namespace: aws.String("default"), ServiceAccount: aws.String("app"),
		RoleArn: aws.String("arn:aws:iam::111122223333:role/app"),
	})
	if err != nil {
		b.Fatal(err)
	}
	return aws.ToString(a.Association.AssociationId)
}

// sentRequest is the last request the SDK sent in benchHandlerServer,
// and the test server's URL and client for more.
type sentRequest struct {
	header http.Header
	body   []byte
	url    string
	client *http.Client
}

// BenchmarkServeUpdateHandler is BenchmarkServeDescribeHandler for
// UpdatePodIdentityAssociation: the SDK's headers and body shape (a fresh
// clientRequestToken per call, as the SDK sends, and a new role ARN each
// time, so every call writes), through build's handler with the
// durable SQLite store. Its cpu-ns/op is podid's work per Update (decode,
// validation, IAM, the store write and its sync, the audit event, the
// answer), less net/http's connection handling. 8 goroutines update one
// association, as podid bench's workers do, so writes share commits.
func BenchmarkServeUpdateHandler(b *testing.B) {
	p, ek, id, sent := benchHandlerServer(b)
	ctx := context.Background()
	if _, err := ek.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{
		ClusterName: aws.String("dev"), AssociationId: aws.String(id),
		RoleArn: aws.String("arn:aws:iam::111122223333:role/app-1"),
	}); err != nil {
		b.Fatal(err)
	}
	var in map[string]any
	if err := json.Unmarshal(sent.body, &in); err != nil || in["clientRequestToken"] == nil {
		b.Fatalf("the SDK's Update body %s: %v (no clientRequestToken?)", sent.body, err)
	}
	path := "/clusters/dev/pod-identity-associations/" + id
	var n atomic.Int64
	// Writes from 8 goroutines share commits.
	serveParallel(b, p.handler, func(ctx context.Context) *http.Request {
		i := n.Add(1)
		body := fmt.Appendf(nil, `{"clientRequestToken":"%036d","roleArn":"arn:aws:iam::111122223333:role/bench-%d"}`, i, i)
		r := httptest.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(body))
		r.Header = sent.header.Clone()
		r.Header.Del("Content-Length") // the SDK's, for its body
		r.ContentLength = int64(len(body))
		return r
	})
}

// serveParallel serves the requests newRequest makes through h from 8
// goroutines on 2 CPUs (podid bench's 8 workers), each answer checked for
// 200, and reports the process's CPU per request. Requests carry a
// cancellable context, as net/http gives every request.
func serveParallel(b *testing.B, h http.Handler, newRequest func(context.Context) *http.Request) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	start := processCPU()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, newRequest(ctx))
			if rec.Code != http.StatusOK {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
	b.ReportMetric(float64((processCPU()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// processCPU is the process's CPU time (user and system), meaningful on a
// machine whose cores other work shares, unlike ns/op.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkServeAssumeRoleHandler is BenchmarkServeDescribeHandler for
// EKS Auth's AssumeRoleForPodIdentity with no agent cache, as podid bench
// drives it: the node agent's EKS Auth client's headers and body (captured
// from a real call), a role with EKS Pod Identity's trust policy under
// --iam enforce, one pod token (verified every call; the verified-token
// cache takes its signature check), 8 goroutines. Its cpu-ns/op is podid's
// work per credential request (decode, token, association, IAM's trust
// policy, the session sealed, the audit event, the access log line), less
// net/http's connection handling.
func BenchmarkServeAssumeRoleHandler(b *testing.B) {
	p, _, _, sent := benchHandlerServer(b)
	ctx := context.Background()
	ic := iam.NewFromConfig(aws.Config{
		Region:      "us-west-2",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDPODIDBENCH", "podid-bench-secret", ""),
		HTTPClient:  sent.client,
	}, func(o *iam.Options) { o.BaseEndpoint = aws.String(sent.url) })
	if _, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},` +
			`"Action":["sts:AssumeRole","sts:TagSession"]}]}`)}); err != nil {
		b.Fatal(err)
	}
	tok, err := (&admin.Client{Endpoint: sent.url, Region: "us-west-2", HTTPClient: sent.client}).MintToken(ctx, "dev",
		admin.MintTokenInput{Namespace: "default", ServiceAccount: "app", PodName: "app-0", PodUID: "fd6df8ef-c1f9-4dee-b6e9-a0b50c8f3012"})
	if err != nil {
		b.Fatal(err)
	}
	ea, err := eksauthclient.New(eksauthclient.Config{
		Endpoint: sent.url, Region: "us-west-2", HTTPClient: sent.client, MaxAttempts: 1, UserAgent: "podid-bench",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDPODIDBENCH", "podid-bench-secret", ""),
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ea.AssumeRoleForPodIdentity(ctx, "dev", tok.Token); err != nil {
		b.Fatal(err)
	}
	header, body := sent.header.Clone(), bytes.Clone(sent.body)
	serveParallel(b, p.handler, func(ctx context.Context) *http.Request {
		r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/clusters/dev/assume-role-for-pod-identity", bytes.NewReader(body))
		r.Header = header.Clone()
		return r
	})
}
