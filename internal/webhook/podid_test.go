package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/podid/podid/internal/admin"
	"github.com/podid/podid/internal/proctest"
	"github.com/podid/podid/internal/webhook"
)

var build struct {
	once   sync.Once
	bin    string
	remove func()
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.remove != nil {
		build.remove()
	}
	os.Exit(code)
}

// podidBin builds podid once for the tests that run it.
func podidBin(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		var bins []string
		bins, build.remove, build.err = proctest.Build(proctest.PodidPackage)
		if build.err == nil {
			build.bin = bins[0]
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

// podidFixture is a podid serve with cluster "dev", and the webhook's
// client of it.
type podidFixture struct {
	srv   *proctest.Server
	eks   *eks.Client
	podid *webhook.Podid
}

func startPodid(t testing.TB, args ...string) *podidFixture {
	t.Helper()
	srv := proctest.StartServer(t, podidBin(t), proctest.Args(args...))
	f := &podidFixture{srv: srv, eks: srv.EKS(nil)}
	_, err := f.eks.CreateCluster(context.Background(), &eks.CreateClusterInput{
		Name: aws.String("dev"), RoleArn: aws.String("arn:aws:iam::000000000000:role/eks"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{"subnet-1", "subnet-2"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.podid = &webhook.Podid{EKS: f.eks, Cluster: "dev", Admin: &admin.Client{
		Endpoint: srv.URL, Credentials: proctest.StaticCredentials(srv.Admin), Region: proctest.Region,
	}}
	return f
}

// associate creates an association for namespace/sa and returns its ID
// once podid wait says it is in effect.
func (f *podidFixture) associate(t testing.TB, namespace, sa string) string {
	t.Helper()
	out, err := f.eks.CreatePodIdentityAssociation(context.Background(), &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("dev"), Namespace: aws.String(namespace), ServiceAccount: aws.String(sa),
		RoleArn: aws.String("arn:aws:iam::000000000000:role/" + sa),
	})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.Association.AssociationId)
	f.wait(t, id)
	return id
}

func (f *podidFixture) disassociate(t testing.TB, id string) {
	t.Helper()
	_, err := f.eks.DeletePodIdentityAssociation(context.Background(), &eks.DeletePodIdentityAssociationInput{
		ClusterName: aws.String("dev"), AssociationId: aws.String(id),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.wait(t, id)
}

// wait runs podid wait as a user does.
func (f *podidFixture) wait(t testing.TB, id string) {
	t.Helper()
	if out, err := f.srv.CLI(t, nil, "wait", "--cluster", "dev", "--association-id", id, "--timeout", "20s"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// TestAssociationsInEffect: once podid wait says a change is in effect,
// an admission sees it, with or without the follower having caught up
// (podid holds changes back 300ms, as EKS's eventual consistency does).
func TestAssociationsInEffect(t *testing.T) {
	f := startPodid(t, "--propagation-delay", "300ms")
	reg := prometheus.NewRegistry()
	a := webhook.NewAssociations(webhook.AssociationsConfig{Source: f.podid, PollTimeout: 2 * time.Second, Metrics: webhook.NewMetrics(reg)})
	ctx := context.Background()
	app := webhook.ServiceAccount{Namespace: "default", Name: "app"}
	has := func(want bool) {
		t.Helper()
		got, err := a.Has(ctx, app)
		if err != nil || got != want {
			t.Fatalf("Has(%v) = %v, %v; want %v", app, got, err, want)
		}
	}

	// Not following yet: every answer comes from podid.
	has(false)
	id := f.associate(t, "default", "app")
	has(true)
	if got := lookups(t, reg, "podid"); got != 2 {
		t.Errorf("lookups from podid = %v, want 2", got)
	}

	ctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	select {
	case <-a.Synced():
	case <-time.After(20 * time.Second):
		t.Fatal("the associations were not listed within 20s")
	}
	has(true)
	if got := lookups(t, reg, "cache"); got != 1 {
		t.Errorf("lookups answered by the cache = %v, want 1", got)
	}

	// A deletion is in effect for admissions as soon as podid wait says so.
	f.disassociate(t, id)
	has(false)
	// A second association, in another namespace.
	f.associate(t, "team", "app")
	if got, _ := a.Has(ctx, webhook.ServiceAccount{Namespace: "team", Name: "app"}); !got {
		t.Error("team/app: no association seen after podid wait")
	}

	// The follower catches up: the cache alone answers again.
	want, err := f.podid.Wait(ctx, 0, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() bool { return a.Revision() >= want })
	before := lookups(t, reg, "cache")
	has(false)
	if lookups(t, reg, "cache") != before+1 {
		t.Error("after catching up, the cache did not answer")
	}

	// podid gone: the cached answer stands, with the reason.
	f.srv.Stop(t)
	got, err := a.Has(context.Background(), webhook.ServiceAccount{Namespace: "team", Name: "app"})
	if !got || err == nil {
		t.Errorf("with podid down: Has = %v, %v; want true from the cache and an error", got, err)
	}
}

// TestHandler drives the webhook's handler with AdmissionReview requests
// as the API server sends them, against a real podid.
func TestHandler(t *testing.T) {
	f := startPodid(t)
	f.associate(t, "default", "app")
	reg := prometheus.NewRegistry()
	metrics := webhook.NewMetrics(reg)
	a := webhook.NewAssociations(webhook.AssociationsConfig{Source: f.podid, Metrics: metrics})
	h := &webhook.Handler{Mutation: v4, Associations: a, Metrics: metrics}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	optOut := pod(ctr("app"))
	optOut.Annotations = map[string]string{webhook.SkipAnnotation: "true"}
	other := pod(ctr("app"))
	other.Spec.ServiceAccountName = "other"
	for _, tt := range []struct {
		name    string
		pod     *corev1.Pod
		mutated bool
	}{
		{"associated", pod(ctr("app")), true},
		{"no association", other, false},
		{"opt-out", optOut, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := review(t, srv.URL, reviewJSON(t, "uid-"+tt.name, "default", podJSON(t, tt.pod)))
			if string(resp.UID) != "uid-"+tt.name || !resp.Allowed {
				t.Fatalf("response %+v: want the request's uid, allowed", resp)
			}
			if got := resp.Patch != nil; got != tt.mutated {
				t.Fatalf("patched = %v, want %v (%s)", got, tt.mutated, resp.Patch)
			}
			if tt.mutated && (resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch) {
				t.Errorf("patchType = %v, want JSONPatch", resp.PatchType)
			}
		})
	}
	// Not a pod creation: admitted as it is.
	upd := bytes.Replace(reviewJSON(t, "u-upd", "default", podJSON(t, pod(ctr("app")))), []byte(`"CREATE"`), []byte(`"UPDATE"`), 1)
	if resp := review(t, srv.URL, upd); !resp.Allowed || resp.Patch != nil {
		t.Errorf("update: %+v, want allowed without a patch", resp)
	}
	// A pod that does not decode: admitted unchanged, not denied.
	bad := reviewJSON(t, "u-bad", "default", []byte(`{"metadata":{},"spec":{"containers":"nope"}}`))
	if resp := review(t, srv.URL, bad); !resp.Allowed || resp.Patch != nil {
		t.Errorf("undecodable pod: %+v, want allowed without a patch", resp)
	}
	for _, bad := range []struct {
		ct, body string
		status   int
	}{
		{"application/json", `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}`, 400},
		{"application/json", `{`, 400},
		{"text/plain", `{}`, 415},
		{"application/json", `"` + strings.Repeat("x", webhook.MaxReviewBytes) + `"`, 413},
	} {
		resp, err := http.Post(srv.URL+webhook.Path, bad.ct, strings.NewReader(bad.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != bad.status {
			t.Errorf("%s %.40q: status %d, want %d", bad.ct, bad.body, resp.StatusCode, bad.status)
		}
	}

	// podid down and nothing cached: admitted unchanged, not blocked.
	f.srv.Stop(t)
	if resp := review(t, srv.URL, reviewJSON(t, "u-down", "default", podJSON(t, pod(ctr("app"))))); !resp.Allowed || resp.Patch != nil {
		t.Errorf("podid down: %+v, want allowed without a patch", resp)
	}

	for _, c := range []struct {
		metric, label string
		want          float64
	}{
		{"podid_webhook_admissions_total", "", 10},
		{"podid_webhook_mutations_total", "", 1},
		{"podid_webhook_skips_total", "no_association", 2},
		{"podid_webhook_skips_total", "opt_out", 1},
		{"podid_webhook_skips_total", "not_pod_create", 1},
		{"podid_webhook_skips_total", "error", 1},
		{"podid_webhook_skips_total", "bad_request", 4},
	} {
		if got := metricValue(t, reg, c.metric, c.label); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.metric, c.label, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(reg, "podid_webhook_admission_duration_seconds"); n != 1 {
		t.Errorf("latency histogram: %d series, want 1", n)
	}
}

func review(t *testing.T, url string, body []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	resp, err := http.Post(url+webhook.Path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(b, &ar); err != nil {
		t.Fatal(err)
	}
	if ar.APIVersion != "admission.k8s.io/v1" || ar.Kind != "AdmissionReview" || ar.Response == nil {
		t.Fatalf("answer %s: want an admission.k8s.io/v1 AdmissionReview with a response", b)
	}
	return ar.Response
}

func lookups(t *testing.T, reg *prometheus.Registry, source string) float64 {
	t.Helper()
	return metricValue(t, reg, "podid_webhook_association_lookups_total", source)
}

// metricValue reads a counter, with its one label's value when label is
// not empty (0 when absent).
func metricValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
