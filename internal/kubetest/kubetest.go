// Package kubetest runs a real Kubernetes control plane for tests: etcd
// and kube-apiserver on loopback, with no kubelet, scheduler or controller
// manager (pods stay Pending, which is enough to test admission, the
// TokenRequest API and OIDC discovery).
//
// The binaries come from ci/kube-apiserver.sh (kube-apiserver and kubectl
// built from the k8s.io/kubernetes module, etcd from Debian's etcd-server);
// without them a test skips, saying how to build them (see RequireBinaries).
//
//	c := kubetest.Start(t)
//	sa, err := c.Clientset.CoreV1().ServiceAccounts("default").Create(ctx, ...)
//	out, err := c.Kubectl(ctx, "apply", "--dry-run=server", "-k", "deploy/kubernetes")
//
// Each Cluster has its own temporary directory and free ports, a CA that
// signs the API server's serving certificate and an admin client
// certificate (group system:masters), and a service-account issuer
// (https://127.0.0.1:PORT, the API server itself) with an RSA signing key
// the test can rotate (RotateSigningKey). The default admission plugins
// are on, so MutatingWebhookConfigurations are honoured. The processes
// stop when the test ends.
package kubetest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/podid/podid/internal/proctest"
)

// StartTimeout bounds how long Start and RotateSigningKey wait for the API
// server to become ready; startup takes a few seconds on an idle machine
// and much longer on a loaded one.
const StartTimeout = 3 * time.Minute

// Cluster is a running etcd and kube-apiserver.
type Cluster struct {
	// URL is the API server's base URL, https://127.0.0.1:PORT.
	URL string
	// Issuer is the service-account issuer, the API server's URL.
	Issuer string
	// CAData is the PEM CA certificate the serving certificate chains to.
	CAData []byte
	// Config is the admin's client configuration; Clientset uses it.
	Config    *rest.Config
	Clientset *kubernetes.Clientset
	// Kubeconfig is a kubeconfig file for the admin (certificates
	// embedded), context "kubetest".
	Kubeconfig string

	bins      Binaries
	dir       string
	port      int
	etcdURL   string
	pki       *pki
	apiserver *proctest.Proc
	// signing is the current service-account signing key file; verify the
	// public key files the API server accepts tokens from.
	signing   string
	verify    []string
	keySerial int
	extraArgs []string
}

// Option changes how Start starts a cluster.
type Option func(*Cluster)

// APIServerArgs adds kube-apiserver flags (later flags win over the
// defaults for single-valued flags).
func APIServerArgs(args ...string) Option {
	return func(c *Cluster) { c.extraArgs = append(c.extraArgs, args...) }
}

// Start starts etcd and kube-apiserver, waits until the API server is
// ready, and stops both when the test ends. It skips the test when the
// binaries were never built (RequireBinaries).
func Start(tb testing.TB, opts ...Option) *Cluster {
	tb.Helper()
	c := &Cluster{bins: RequireBinaries(tb), dir: tb.TempDir()}
	for _, o := range opts {
		o(c)
	}
	var err error
	if c.pki, err = newPKI(); err != nil {
		tb.Fatal(err)
	}
	files := map[string][]byte{
		"ca.crt": c.pki.caPEM, "apiserver.crt": c.pki.servingCert, "apiserver.key": c.pki.servKey,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(c.dir, name), data, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	c.newSigningKey(tb)
	c.CAData = c.pki.caPEM

	c.startEtcd(tb)
	// A port found free may be taken before the API server binds it; a
	// server that exits right away is retried on another port.
	for attempt := 1; ; attempt++ {
		c.port = proctest.FreePort(tb)
		c.URL = "https://127.0.0.1:" + strconv.Itoa(c.port)
		c.Issuer = c.URL
		c.clientConfig(tb)
		err := c.startAPIServer(tb)
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(c.apiserver.Log(), "address already in use") {
			tb.Fatalf("kube-apiserver did not become ready: %v\n%s", err, tail(c.apiserver.Log(), 60))
		}
	}
	return c
}

// startEtcd starts etcd on two free loopback ports (client, peer) and waits
// until it answers /health, retrying on other ports if it cannot bind.
func (c *Cluster) startEtcd(tb testing.TB) {
	tb.Helper()
	for attempt := 1; ; attempt++ {
		client, peer := proctest.FreePort(tb), proctest.FreePort(tb)
		c.etcdURL = fmt.Sprintf("http://127.0.0.1:%d", client)
		peerURL := fmt.Sprintf("http://127.0.0.1:%d", peer)
		data := filepath.Join(c.dir, "etcd-"+strconv.Itoa(attempt))
		p := proctest.Start(tb, "etcd", nil, c.bins.Etcd,
			"--name=kubetest",
			"--data-dir="+data,
			"--listen-client-urls="+c.etcdURL,
			"--advertise-client-urls="+c.etcdURL,
			"--listen-peer-urls="+peerURL,
			"--initial-advertise-peer-urls="+peerURL,
			"--initial-cluster=kubetest="+peerURL,
			"--log-level=warn",
		)
		err := p.PollHTTP(c.etcdURL+"/health", time.Minute)
		if err == nil {
			return
		}
		p.Stop(proctest.StopGrace)
		if attempt == 3 || !strings.Contains(p.Log(), "address already in use") {
			tb.Fatalf("etcd did not become healthy: %v\n%s", err, tail(p.Log(), 40))
		}
	}
}

// apiserverArgs is the API server's command line for the current ports and
// keys.
func (c *Cluster) apiserverArgs() []string {
	f := func(name string) string { return filepath.Join(c.dir, name) }
	args := []string{
		"--etcd-servers=" + c.etcdURL,
		"--etcd-prefix=/registry",
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.port),
		"--cert-dir=" + f("certs"),
		"--tls-cert-file=" + f("apiserver.crt"),
		"--tls-private-key-file=" + f("apiserver.key"),
		"--client-ca-file=" + f("ca.crt"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=" + c.Issuer,
		"--service-account-signing-key-file=" + c.signing,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--allow-privileged=true",
		// No controllers run; keep the server's own background work small.
		"--enable-priority-and-fairness=false",
		"--endpoint-reconciler-type=none",
		"--profiling=false",
		"--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
	}
	for _, pub := range c.verify {
		args = append(args, "--service-account-key-file="+pub)
	}
	return append(args, c.extraArgs...)
}

// startAPIServer starts kube-apiserver and waits until /readyz answers ok;
// its error says it exited or did not become ready in time.
func (c *Cluster) startAPIServer(tb testing.TB) error {
	tb.Helper()
	c.apiserver = proctest.Start(tb, "kube-apiserver", nil, c.bins.APIServer, c.apiserverArgs()...)
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	return c.waitReady(ctx)
}

// waitReady polls until /readyz answers ok and the namespace "default"
// (which the API server creates itself) exists, the API server exits, or
// ctx ends.
func (c *Cluster) waitReady(ctx context.Context) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		body, err := c.Clientset.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(rctx)
		if err == nil && string(body) != "ok" {
			err = fmt.Errorf("/readyz: %q", body)
		}
		if err == nil {
			_, err = c.Clientset.CoreV1().Namespaces().Get(rctx, "default", metav1.GetOptions{})
		}
		cancel()
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-c.apiserver.Done():
			return fmt.Errorf("kube-apiserver exited (%v)", c.apiserver.State())
		case <-ctx.Done():
			return fmt.Errorf("not ready within %s: %w", StartTimeout, last)
		case <-tick.C:
		}
	}
}

// clientConfig sets Config, Clientset and Kubeconfig for the current URL.
func (c *Cluster) clientConfig(tb testing.TB) {
	tb.Helper()
	c.Config = &rest.Config{
		Host: c.URL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: c.pki.caPEM, CertData: c.pki.adminCert, KeyData: c.pki.adminKey,
		},
		QPS: 100, Burst: 200,
	}
	var err error
	if c.Clientset, err = kubernetes.NewForConfig(c.Config); err != nil {
		tb.Fatal(err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["kubetest"] = &clientcmdapi.Cluster{Server: c.URL, CertificateAuthorityData: c.pki.caPEM}
	kc.AuthInfos["kubetest-admin"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: c.pki.adminCert, ClientKeyData: c.pki.adminKey,
	}
	kc.Contexts["kubetest"] = &clientcmdapi.Context{Cluster: "kubetest", AuthInfo: "kubetest-admin", Namespace: "default"}
	kc.CurrentContext = "kubetest"
	c.Kubeconfig = filepath.Join(c.dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, c.Kubeconfig); err != nil {
		tb.Fatal(err)
	}
}

// newSigningKey makes a new service-account signing key the current one
// and adds its public key to those the API server accepts.
func (c *Cluster) newSigningKey(tb testing.TB) {
	tb.Helper()
	c.keySerial++
	key := filepath.Join(c.dir, fmt.Sprintf("sa-%d.key", c.keySerial))
	pub := filepath.Join(c.dir, fmt.Sprintf("sa-%d.pub", c.keySerial))
	if err := writeSigningKey(key, pub); err != nil {
		tb.Fatal(err)
	}
	c.signing = key
	c.verify = append(c.verify, pub)
}

// RotateSigningKey restarts the API server (same port, same etcd) signing
// service-account tokens with a new key. With keepOld, tokens signed with
// the previous keys still verify and the JWKS lists them beside the new
// one (a rotation's first step); without, only the new key is published
// and accepted.
func (c *Cluster) RotateSigningKey(tb testing.TB, keepOld bool) {
	tb.Helper()
	if !keepOld {
		c.verify = nil
	}
	c.newSigningKey(tb)
	if err := c.apiserver.Stop(proctest.StopGrace); err != nil {
		tb.Fatalf("stopping kube-apiserver for a key rotation: %v", err)
	}
	if err := c.startAPIServer(tb); err != nil {
		tb.Fatalf("kube-apiserver did not come back after a key rotation: %v\n%s", err, tail(c.apiserver.Log(), 60))
	}
}

// Kubectl runs kubectl against the cluster as the admin and returns its
// combined output; the error carries the output too.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.bins.Kubectl, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+c.dir, "KUBECTL_TELEMETRY=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// HTTPClient is an HTTP client that trusts the API server's CA and
// authenticates as the admin, for raw requests (OIDC discovery).
func (c *Cluster) HTTPClient(tb testing.TB) *http.Client {
	tb.Helper()
	hc, err := rest.HTTPClientFor(c.Config)
	if err != nil {
		tb.Fatal(err)
	}
	return hc
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// CreatePod creates the service account sa in namespace (unless it
// exists) and a pod name running as it, and returns the stored pod (its
// UID set; no kubelet runs, so it stays Pending).
func (c *Cluster) CreatePod(tb testing.TB, namespace, sa, name string) *corev1.Pod {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	core := c.Clientset.CoreV1()
	_, err := core.ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		tb.Fatalf("creating service account %s/%s: %v", namespace, sa, err)
	}
	pod, err := core.Pods(namespace).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			ServiceAccountName: sa,
			Containers:         []corev1.Container{{Name: "app", Image: "registry.invalid/app"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("creating pod %s/%s: %v", namespace, name, err)
	}
	return pod
}

// PodToken mints pod's service-account token through the TokenRequest
// API, bound to the pod, for audience, valid for expiry: the token the
// kubelet would project into it.
func (c *Cluster) PodToken(tb testing.TB, pod *corev1.Pod, audience string, expiry time.Duration) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seconds := int64(expiry / time.Second)
	tr, err := c.Clientset.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, pod.Spec.ServiceAccountName, &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{
			Audiences:         []string{audience},
			ExpirationSeconds: &seconds,
			BoundObjectRef:    &authnv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("TokenRequest for pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	return tr.Status.Token
}
