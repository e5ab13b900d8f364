package webhook_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podid/podid/internal/kubetest"
	"github.com/podid/podid/internal/proctest"
	"github.com/podid/podid/internal/sts"
	"github.com/podid/podid/internal/webhook"
)

var webhookListeningRE = regexp.MustCompile(`msg="webhook listening" addr=(\S+)`)

// TestInCluster registers podid webhook (self-signed TLS, on loopback)
// with a real API server, creates pods through client-go and checks what
// the API server stored; then follows one pod's identity to the end: its
// token from the TokenRequest API, bound to the pod, exchanged by podid
// agent for credentials whose session tags carry the pod's name and UID.
func TestInCluster(t *testing.T) {
	c := kubetest.Start(t)
	f := startPodid(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The webhook configuration first: --self-signed reads its URL to
	// know the certificate's names, then sets its caBundle. The test's
	// configuration fails closed so that a webhook fault shows as an error
	// rather than as an unmutated pod (the shipped one is Ignore).
	port := proctest.FreePort(t)
	fail, ifNeeded, none := admissionregistrationv1.Fail, admissionregistrationv1.IfNeededReinvocationPolicy, admissionregistrationv1.SideEffectClassNone
	url := "https://127.0.0.1:" + strconv.Itoa(port) + webhook.Path
	timeout := int32(10)
	whc, err := c.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "podid-webhook"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "pod-identity.podid.dev",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url},
			AdmissionReviewVersions: []string{"v1"},
			SideEffects:             &none,
			FailurePolicy:           &fail,
			ReinvocationPolicy:      &ifNeeded,
			TimeoutSeconds:          &timeout,
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
			}},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	procEnv := proctest.CleanEnv(t.TempDir(), "AWS_REGION="+proctest.Region,
		"AWS_ACCESS_KEY_ID="+f.srv.Admin.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+f.srv.Admin.SecretAccessKey)
	wh := proctest.Start(t, "podid webhook", procEnv, podidBin(t), "webhook",
		"--server", f.srv.URL, "--cluster", "dev", "--listen", "127.0.0.1:"+strconv.Itoa(port),
		"--self-signed", "--webhook-config-name", whc.Name, "--namespace", "default",
		"--kubeconfig", c.Kubeconfig, "--log-level", "debug")
	wh.WaitLine(t, webhookListeningRE, time.Minute)

	// caBundle is the CA kept in the Secret, and the webhook's certificate
	// chains to it for 127.0.0.1.
	secret, err := c.Clientset.CoreV1().Secrets("default").Get(ctx, "podid-webhook-ca", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, whc.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	caPEM := secret.Data[webhook.SecretCertKey]
	if !bytes.Equal(got.Webhooks[0].ClientConfig.CABundle, caPEM) || len(caPEM) == 0 {
		t.Fatalf("caBundle %q, want the CA in the Secret %q", got.Webhooks[0].ClientConfig.CABundle, caPEM)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	waitFor(t, time.Minute, func() bool {
		resp, err := hc.Get("https://127.0.0.1:" + strconv.Itoa(port) + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	core := c.Clientset.CoreV1()
	for _, sa := range []string{"app", "other", "late"} {
		if _, err := core.ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create := func(p *corev1.Pod) *corev1.Pod {
		t.Helper()
		p.Namespace, p.TypeMeta = "", metav1.TypeMeta{}
		out, err := core.Pods("default").Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating pod %s: %v", p.Name, err)
		}
		return out
	}
	// The API server loads a new webhook configuration a moment after it
	// is created: dry-run creations (webhooks without side effects see
	// them) show when it is in effect.
	untilInEffect := func(p *corev1.Pod, done func(*corev1.Pod) bool) {
		t.Helper()
		p.Namespace, p.TypeMeta = "", metav1.TypeMeta{}
		waitFor(t, time.Minute, func() bool {
			out, err := core.Pods("default").Create(ctx, p.DeepCopy(), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return err == nil && done(out)
		})
	}
	f.associate(t, "default", "app")
	untilInEffect(pod(ctr("app")), func(p *corev1.Pod) bool { return p.Labels["eks.amazonaws.com/pod-identity"] == "enabled" })

	withInit := pod(ctr("app", env("AWS_REGION", "eu-central-1")), ctr("sidecar"))
	withInit.Name = "app-1"
	withInit.Spec.InitContainers = []corev1.Container{ctr("init")}
	app := create(withInit)
	if app.Labels["eks.amazonaws.com/pod-identity"] != "enabled" {
		t.Errorf("labels %v, want eks.amazonaws.com/pod-identity=enabled", app.Labels)
	}
	wantVolume := identityVolume()
	if i := slices.IndexFunc(app.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == wantVolume.Name }); i < 0 {
		t.Errorf("volumes %v: no %s", app.Spec.Volumes, wantVolume.Name)
	} else {
		v := app.Spec.Volumes[i]
		v.Projected.DefaultMode = nil // the API server's default
		if diff := cmp.Diff(v, wantVolume); diff != "" {
			t.Errorf("volume (-got +want):\n%s", diff)
		}
	}
	m := webhook.Mutation{FullURI: webhook.FullURIIPv4, Region: proctest.Region}
	for _, cc := range []struct {
		c   corev1.Container
		env []corev1.EnvVar
	}{
		{app.Spec.InitContainers[0], identityEnv(m)},
		// A container's own region stays; it gets neither region variable.
		{app.Spec.Containers[0], slices.Concat([]corev1.EnvVar{env("AWS_REGION", "eu-central-1"), env("AWS_STS_REGIONAL_ENDPOINTS", "regional")}, identityEnv(m)[3:])},
		{app.Spec.Containers[1], identityEnv(m)},
	} {
		if diff := cmp.Diff(cc.c.Env, cc.env); diff != "" {
			t.Errorf("container %s env (-got +want):\n%s", cc.c.Name, diff)
		}
		if !slices.ContainsFunc(cc.c.VolumeMounts, func(vm corev1.VolumeMount) bool { return cmp.Equal(vm, identityMount) }) {
			t.Errorf("container %s mounts %v, want %v among them", cc.c.Name, cc.c.VolumeMounts, identityMount)
		}
	}

	// Not mutated: no association, opted out, host network.
	other := pod(ctr("app"))
	other.Name, other.Spec.ServiceAccountName = "other-1", "other"
	optOut := pod(ctr("app"))
	optOut.Name, optOut.Annotations = "opt-out-1", map[string]string{"podid.dev/skip": "true"}
	hostNet := pod(ctr("app"))
	hostNet.Name, hostNet.Spec.HostNetwork = "host-net-1", true
	for _, p := range []*corev1.Pod{other, optOut, hostNet} {
		got := create(p)
		if _, ok := got.Labels["eks.amazonaws.com/pod-identity"]; ok || len(got.Spec.Containers[0].Env) != 0 ||
			slices.ContainsFunc(got.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == "eks-pod-identity-token" }) {
			t.Errorf("pod %s was mutated: labels %v, env %v, volumes %v", got.Name, got.Labels, got.Spec.Containers[0].Env, got.Spec.Volumes)
		}
	}

	// Reinvocation: a webhook called after podid's adds a container; the
	// API server calls podid's again, which completes that container only.
	injector := sidecarInjector(t)
	injectorCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: injector.Certificate().Raw})
	injectorURL := injector.URL + "/inject"
	_, err = c.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "zz-sidecar-injector"}, // called after podid-webhook
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "sidecar.test.podid.dev",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &injectorURL, CABundle: injectorCA},
			AdmissionReviewVersions: []string{"v1"},
			SideEffects:             &none,
			FailurePolicy:           &fail,
			TimeoutSeconds:          &timeout,
			Rules:                   whc.Webhooks[0].Rules,
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reinvoked := pod(ctr("app"))
	reinvoked.Name, reinvoked.Annotations = "app-2", map[string]string{injectAnnotation: "true"}
	untilInEffect(reinvoked, func(p *corev1.Pod) bool { return len(p.Spec.Containers) == 2 })
	got2 := create(reinvoked)
	if n := len(got2.Spec.Containers); n != 2 {
		t.Fatalf("pod app-2 has %d containers, want the injected sidecar too", n)
	}
	for _, c := range got2.Spec.Containers {
		if diff := cmp.Diff(c.Env, identityEnv(m)); diff != "" {
			t.Errorf("app-2 container %s env (-got +want):\n%s", c.Name, diff)
		}
	}
	if n := len(slices.DeleteFunc(slices.Clone(got2.Spec.Volumes), func(v corev1.Volume) bool { return v.Name != "eks-pod-identity-token" })); n != 1 {
		t.Errorf("pod app-2 has %d eks-pod-identity-token volumes, want 1", n)
	}

	// A new association is in effect for admission once podid wait says so.
	f.associate(t, "default", "late")
	late := pod(ctr("app"))
	late.Name, late.Spec.ServiceAccountName = "late-1", "late"
	if got := create(late); got.Labels["eks.amazonaws.com/pod-identity"] != "enabled" {
		t.Errorf("pod late-1, created after podid wait: not mutated (labels %v)", got.Labels)
	}

	// The pod's token, bound to the pod, through the TokenRequest API.
	token := c.PodToken(t, app, webhook.Audience, time.Hour)
	// podid trusts the API server's issuer and keys.
	if out, err := f.srv.CLI(t, nil, "cluster", "register", "--name", "dev", "--kubeconfig", c.Kubeconfig); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	// The agent exchanges the token for the association role's credentials.
	agent := proctest.StartAgent(t, podidBin(t), f.srv, "dev")
	creds, err := endpointcreds.New(agent.URL+"/v1/credentials", func(o *endpointcreds.Options) {
		o.AuthorizationToken = token
	}).Retrieve(ctx)
	if err != nil {
		t.Fatalf("credentials from podid agent: %v", err)
	}
	out, err := f.srv.CLI(t, nil, "session", "inspect", "--session-token", creds.SessionToken)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var view sts.SessionView
	if err := json.Unmarshal([]byte(out), &view); err != nil {
		t.Fatalf("podid session inspect: %v\n%s", err, out)
	}
	tags := map[string]string{}
	for _, tag := range view.Tags {
		tags[tag.Key] = tag.Value
	}
	for k, want := range map[string]string{
		"kubernetes-pod-name": app.Name, "kubernetes-pod-uid": string(app.UID),
		"kubernetes-namespace": "default", "kubernetes-service-account": "app", "eks-cluster-name": "dev",
	} {
		if tags[k] != want {
			t.Errorf("session tag %s = %q, want %q (tags %v)", k, tags[k], want, tags)
		}
	}
	if view.RoleARN != "arn:aws:iam::000000000000:role/app" {
		t.Errorf("role %s, want the association's", view.RoleARN)
	}
}

const injectAnnotation = "test.podid.dev/inject-sidecar"

// sidecarInjector is a second mutating webhook for TestInCluster: it adds
// a container "injected" to pods annotated injectAnnotation that lack one.
func sidecarInjector(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req, err := webhook.DecodeReview(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p, err := webhook.PodToCreate(req)
		var ops []webhook.Operation
		if err == nil && p != nil && p.Annotations[injectAnnotation] == "true" &&
			!slices.ContainsFunc(p.Spec.Containers, func(c corev1.Container) bool { return c.Name == "injected" }) {
			ops = []webhook.Operation{{Op: "add", Path: "/spec/containers/-", Value: ctr("injected")}}
		}
		out, err := webhook.EncodeResponse(string(req.UID), ops)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv
}
