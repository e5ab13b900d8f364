package audit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/httpx"
)

// routed is the request pattern's handler saw for method and target
// (its Pattern and path values set), with ctx.
func routed(tb testing.TB, ctx context.Context, pattern, method, target, body string) *http.Request {
	tb.Helper()
	var got *http.Request
	mux := http.NewServeMux()
	mux.HandleFunc(pattern, func(_ http.ResponseWriter, r *http.Request) { got = r })
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, method, target, strings.NewReader(body)))
	if got == nil {
		tb.Fatalf("%s %s: not routed to %s", method, target, pattern)
	}
	return got
}

func benchRecorder() *Recorder {
	return New(Config{Region: "us-east-1", AccountID: "111122223333",
		ClusterARN: func(region, name string) string { return "arn:aws:eks:" + region + ":111122223333:cluster/" + name },
		AssociationARN: func(region, cluster, id string) string {
			return "arn:aws:eks:" + region + ":111122223333:podidentityassociation/" + cluster + "/" + id
		}})
}

// updateRequest is an UpdatePodIdentityAssociation as the SDK sends it,
// by the admin identity, as the host completes it.
func updateRequest(tb testing.TB) (*http.Request, httpx.Completed) {
	ctx := authz.WithRegion(context.Background(), "us-west-2")
	ctx = authz.WithIdentity(ctx, &authz.Identity{ARN: "arn:aws:iam::111122223333:root", Account: "111122223333",
		UserID: "111122223333", AccessKeyID: "AKIDPODIDBENCH"})
	body := `{"clientRequestToken":"000000000000000000000000000000000042","roleArn":"arn:aws:iam::111122223333:role/bench-42"}`
	r := routed(tb, ctx, "POST /clusters/{name}/pod-identity-associations/{associationId}", "POST",
		"/clusters/dev/pod-identity-associations/a-0123456789abcdef0", body)
	r.RemoteAddr = "127.0.0.1:50123"
	r.Header.Set("User-Agent", "aws-sdk-go-v2/1.36.3 ua/2.1 os/linux lang/go#1.24.1 md/GOOS#linux md/GOARCH#amd64 api/eks#1.64.0 m/E")
	return r, httpx.Completed{Family: httpx.EKS, Op: "UpdatePodIdentityAssociation", Status: 200, Routed: true,
		RequestID: "01938f2e-7d4a-7c3b-9a8e-0123456789ab", Start: time.Date(2026, 12, 5, 15, 30, 0, 123456789, time.UTC),
		Body: []byte(body)}
}

// assumeRequest is a granted AssumeRoleForPodIdentity with the Detail
// eksauth's handler notes.
func assumeRequest(tb testing.TB) (*http.Request, httpx.Completed, *Detail) {
	ctx := authz.WithRegion(context.Background(), "us-west-2")
	ctx = authz.WithIdentity(ctx, &authz.Identity{ARN: "arn:aws:sts::111122223333:assumed-role/node/i-0abc", Account: "111122223333",
		UserID: "AROAEXAMPLE:i-0abc", AccessKeyID: "ASIANODE", Session: &authz.Session{RoleARN: "arn:aws:iam::111122223333:role/node"}})
	body := `{"token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2ln"}`
	r := routed(tb, ctx, "POST /clusters/{clusterName}/assume-role-for-pod-identity", "POST", "/clusters/dev/assume-role-for-pod-identity", body)
	r.RemoteAddr = "127.0.0.1:50124"
	r.Header.Set("User-Agent", "eks-pod-identity-agent/0.1.29 aws-sdk-go-v2/1.36.3")
	assoc := "a-0123456789abcdef0"
	d := &Detail{
		RequestParameters: map[string]any{"clusterName": "dev", "namespace": "default", "serviceAccount": "app",
			"podName": "app-7d4b9c-x2x9z", "podUid": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", "eksNodeName": "node-1"},
		AdditionalEventData: map[string]any{"outcome": "Success", "associationId": assoc,
			"roleArn": "arn:aws:iam::111122223333:role/app", "sessionName": "eks-dev-app-7d4b9c-x-0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"},
		ResponseElements: map[string]any{
			"subject":                map[string]any{"namespace": "default", "serviceAccount": "app"},
			"audience":               "pods.eks.amazonaws.com",
			"podIdentityAssociation": map[string]any{"associationArn": "arn:aws:eks:us-west-2:111122223333:podidentityassociation/dev/" + assoc, "associationId": assoc},
			"assumedRoleUser":        map[string]any{"arn": "arn:aws:sts::111122223333:assumed-role/app/eks-dev-app", "assumeRoleId": "AROAAPP:eks-dev-app"},
			"accessKeyId":            "ASIAEXAMPLEKEY",
			"expiration":             "2026-12-05T21:30:00Z",
		},
		Resources: []Resource{
			{Type: TypeAssociation, ARN: "arn:aws:eks:us-west-2:111122223333:podidentityassociation/dev/" + assoc},
			{Type: TypeRole, ARN: "arn:aws:iam::111122223333:role/app"},
		},
	}
	return r, httpx.Completed{Family: httpx.EKSAuth, Op: "AssumeRoleForPodIdentity", Status: 200, Routed: true,
		RequestID: "01938f2e-7d4a-7c3b-9a8e-0123456789ac", Start: time.Date(2026, 12, 5, 15, 30, 0, 0, time.UTC),
		Body: []byte(body)}, d
}

// BenchmarkBuild is the recorder's work on a request's goroutine: the
// event of an Update (parameters read from its body) and of a granted
// AssumeRoleForPodIdentity (parameters from the handler's Detail).
func BenchmarkBuild(b *testing.B) {
	rc := benchRecorder()
	b.Run("Update", func(b *testing.B) {
		r, c := updateRequest(b)
		b.ReportAllocs()
		start := processCPU()
		for b.Loop() {
			if _, ok := rc.build(r, c, &Detail{}); !ok {
				b.Fatal("no event")
			}
		}
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	})
	b.Run("AssumeRoleForPodIdentity", func(b *testing.B) {
		r, c, d := assumeRequest(b)
		b.ReportAllocs()
		start := processCPU()
		for b.Loop() {
			if _, ok := rc.build(r, c, d); !ok {
				b.Fatal("no event")
			}
		}
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	})
}

// threadCPU is the process's CPU time in nanoseconds: on a shared
// machine, what a benchmark's work cost, unlike its wall time.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
