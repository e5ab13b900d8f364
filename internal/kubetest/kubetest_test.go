package kubetest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podid/podid/internal/kubetest"
)

func TestFindBinaries(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PODID_KUBE_CACHE", empty)
	t.Setenv("PODID_KUBE_APISERVER", "")
	t.Setenv("PODID_KUBECTL", "")
	if _, err := kubetest.FindBinaries(); !errors.Is(err, kubetest.ErrNotBuilt) {
		t.Errorf("empty cache: err = %v, want ErrNotBuilt", err)
	}

	t.Setenv("PODID_KUBE_APISERVER", filepath.Join(empty, "missing"))
	_, err := kubetest.FindBinaries()
	if err == nil || !strings.Contains(err.Error(), "PODID_KUBE_APISERVER=") {
		t.Errorf("variable naming a missing file: err = %v, want it named", err)
	}

	dir := filepath.Join(empty, "v1.2.3")
	os.MkdirAll(dir, 0o755)
	for _, name := range []string{"kube-apiserver", "kubectl", "etcd"} {
		os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755)
	}
	t.Setenv("PODID_KUBE_APISERVER", "")
	t.Setenv("PODID_KUBE_VERSION", "v1.2.3")
	t.Setenv("PODID_ETCD", filepath.Join(dir, "etcd"))
	b, err := kubetest.FindBinaries()
	want := kubetest.Binaries{
		APIServer: filepath.Join(dir, "kube-apiserver"), Kubectl: filepath.Join(dir, "kubectl"), Etcd: filepath.Join(dir, "etcd"),
	}
	if err != nil || b != want {
		t.Errorf("FindBinaries() = %+v, %v; want %+v", b, err, want)
	}
}

// TestCluster runs the real control plane: kubectl through the kubeconfig
// file, a pod-bound token from the TokenRequest API that verifies against
// the API server's published JWKS, and signing-key rotation with and
// without the old key.
func TestCluster(t *testing.T) {
	c := kubetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	out, err := c.Kubectl(ctx, "get", "--raw", "/version")
	if err != nil || !strings.Contains(out, `"gitVersion"`) {
		t.Fatalf("kubectl get --raw /version = %q, %v", out, err)
	}

	pod := c.CreatePod(t, "default", "app", "app-1")
	token := func() string {
		t.Helper()
		return c.PodToken(t, pod, "pods.eks.amazonaws.com", time.Hour)
	}

	hc := c.HTTPClient(t)
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, hc, c.URL+"/.well-known/openid-configuration", &disc)
	if disc.Issuer != c.Issuer {
		t.Errorf("discovery issuer = %q, want %q", disc.Issuer, c.Issuer)
	}
	jwks := func() jose.JSONWebKeySet {
		t.Helper()
		var s jose.JSONWebKeySet
		getJSON(t, hc, c.URL+"/openid/v1/jwks", &s)
		return s
	}

	first := token()
	checkToken(t, jwks(), first, c.Issuer, pod)

	c.RotateSigningKey(t, true)
	second := token()
	keys := jwks()
	if len(keys.Keys) != 2 {
		t.Errorf("after a rotation keeping the old key: %d keys published, want 2", len(keys.Keys))
	}
	checkToken(t, keys, first, c.Issuer, pod)
	checkToken(t, keys, second, c.Issuer, pod)
	if kid(t, first) == kid(t, second) {
		t.Errorf("the rotated key signs with the old key ID %q", kid(t, first))
	}

	c.RotateSigningKey(t, false)
	keys = jwks()
	if len(keys.Keys) != 1 || len(keys.Key(kid(t, second))) != 0 {
		t.Errorf("after dropping the old keys: published %d keys, old key present: %v", len(keys.Keys), len(keys.Key(kid(t, second))) != 0)
	}
	checkToken(t, keys, token(), c.Issuer, pod)
	review, err := c.Clientset.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: second, Audiences: []string{"pods.eks.amazonaws.com"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if review.Status.Authenticated {
		t.Errorf("a token signed with a dropped key still authenticates")
	}
}

func getJSON(t *testing.T, hc *http.Client, url string, v any) {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, body)
	}
}

func kid(t *testing.T, token string) string {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Headers[0].KeyID
}

// checkToken verifies token's signature with the key set and its claims
// against the issuer and the pod it is bound to.
func checkToken(t *testing.T, keys jose.JSONWebKeySet, token, issuer string, pod *corev1.Pod) {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	// go-jose matches JSON names case-sensitively.
	var k8s struct {
		Kubernetes struct {
			Pod struct {
				Name string `json:"name"`
				UID  string `json:"uid"`
			} `json:"pod"`
		} `json:"kubernetes.io"`
	}
	if err := tok.Claims(keys, &claims, &k8s); err != nil {
		t.Errorf("token (key %q) does not verify against the published keys: %v", tok.Headers[0].KeyID, err)
		return
	}
	if err := claims.Validate(jwt.Expected{Issuer: issuer, AnyAudience: []string{"pods.eks.amazonaws.com"}}); err != nil {
		t.Errorf("claims: %v", err)
	}
	if got := k8s.Kubernetes.Pod; got.Name != pod.Name || got.UID != string(pod.UID) {
		t.Errorf("bound pod = %+v, want %s %s", got, pod.Name, pod.UID)
	}
}
