package webhook_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podid/podid/internal/webhook"
)

var v4 = webhook.Mutation{FullURI: webhook.FullURIIPv4, Region: "eu-west-1"}

func pod(containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "app-1", Namespace: "default"},
		Spec:       corev1.PodSpec{ServiceAccountName: "app", Containers: containers},
	}
}

func ctr(name string, env ...corev1.EnvVar) corev1.Container {
	return corev1.Container{Name: name, Image: "busybox", Env: env}
}

func env(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

// identityEnv is what a container that sets nothing gets, in EKS's order.
func identityEnv(m webhook.Mutation) []corev1.EnvVar {
	out := []corev1.EnvVar{env("AWS_STS_REGIONAL_ENDPOINTS", "regional")}
	if m.Region != "" {
		out = append(out, env("AWS_DEFAULT_REGION", m.Region), env("AWS_REGION", m.Region))
	}
	return append(out,
		env("AWS_CONTAINER_CREDENTIALS_FULL_URI", m.FullURI),
		env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"))
}

var identityMount = corev1.VolumeMount{Name: "eks-pod-identity-token", ReadOnly: true, MountPath: "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"}

func identityVolume() corev1.Volume {
	exp := int64(86400)
	return corev1.Volume{Name: "eks-pod-identity-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
			Audience: "pods.eks.amazonaws.com", ExpirationSeconds: &exp, Path: "eks-pod-identity-token",
		}}},
	}}}
}

// patchJSON applies ops to doc as the API server does (its JSON Patch
// implementation).
func patchJSON(doc []byte, ops []webhook.Operation) ([]byte, error) {
	raw, err := webhook.MarshalPatch(ops)
	if err != nil {
		return nil, err
	}
	patch, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		return nil, fmt.Errorf("decoding the patch %s: %w", raw, err)
	}
	out, err := patch.Apply(doc)
	if err != nil {
		return nil, fmt.Errorf("applying the patch %s to %s: %w", raw, doc, err)
	}
	return out, nil
}

// applyPatch patches p's JSON as the API server does and decodes the
// result.
func applyPatch(t *testing.T, p *corev1.Pod, ops []webhook.Operation) *corev1.Pod {
	t.Helper()
	doc, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	out, err := patchJSON(doc, ops)
	if err != nil {
		t.Fatal(err)
	}
	var got corev1.Pod
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	return &got
}

func TestPatch(t *testing.T) {
	sidecarDone := ctr("done", identityEnv(v4)...)
	sidecarDone.VolumeMounts = []corev1.VolumeMount{identityMount}

	tests := []struct {
		name string
		m    webhook.Mutation
		in   *corev1.Pod
		// want is the pod after the patch (nil: left alone with skip).
		want func(*corev1.Pod)
		skip webhook.SkipReason
	}{{
		name: "bare pod",
		m:    v4,
		in:   pod(ctr("app")),
		want: func(p *corev1.Pod) {
			p.Labels = map[string]string{"eks.amazonaws.com/pod-identity": "enabled"}
			p.Spec.Volumes = []corev1.Volume{identityVolume()}
			p.Spec.Containers[0].Env = identityEnv(v4)
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{identityMount}
		},
	}, {
		name: "IPv6 and no region",
		m:    webhook.Mutation{FullURI: webhook.FullURIIPv6},
		in:   pod(ctr("app")),
		want: func(p *corev1.Pod) {
			p.Labels = map[string]string{"eks.amazonaws.com/pod-identity": "enabled"}
			p.Spec.Volumes = []corev1.Volume{identityVolume()}
			p.Spec.Containers[0].Env = []corev1.EnvVar{
				env("AWS_STS_REGIONAL_ENDPOINTS", "regional"),
				env("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://[fd00:ec2::23]/v1/credentials"),
				env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"),
			}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{identityMount}
		},
	}, {
		name: "existing labels, volumes, env, mounts and an init container are appended to",
		m:    v4,
		in: func() *corev1.Pod {
			p := pod(ctr("app", env("A", "1")))
			p.Labels = map[string]string{"app": "x", "eks.amazonaws.com/pod-identity": "no"}
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
			p.Spec.InitContainers = []corev1.Container{ctr("init")}
			return p
		}(),
		want: func(p *corev1.Pod) {
			p.Labels["eks.amazonaws.com/pod-identity"] = "enabled"
			p.Spec.Volumes = append(p.Spec.Volumes, identityVolume())
			c := &p.Spec.Containers[0]
			c.Env = append(c.Env, identityEnv(v4)...)
			c.VolumeMounts = append(c.VolumeMounts, identityMount)
			p.Spec.InitContainers[0].Env = identityEnv(v4)
			p.Spec.InitContainers[0].VolumeMounts = []corev1.VolumeMount{identityMount}
		},
	}, {
		name: "a container's own region and STS setting stay",
		m:    v4,
		in:   pod(ctr("a", env("AWS_REGION", "us-west-2")), ctr("b", env("AWS_DEFAULT_REGION", "us-west-2"), env("AWS_STS_REGIONAL_ENDPOINTS", "legacy"))),
		want: func(p *corev1.Pod) {
			p.Labels = map[string]string{"eks.amazonaws.com/pod-identity": "enabled"}
			p.Spec.Volumes = []corev1.Volume{identityVolume()}
			creds := identityEnv(v4)[3:]
			a, b := &p.Spec.Containers[0], &p.Spec.Containers[1]
			a.Env = append(a.Env, env("AWS_STS_REGIONAL_ENDPOINTS", "regional"))
			a.Env = append(a.Env, creds...)
			b.Env = append(b.Env, creds...)
			a.VolumeMounts = []corev1.VolumeMount{identityMount}
			b.VolumeMounts = []corev1.VolumeMount{identityMount}
		},
	}, {
		name: "containers that set a credential variable or are skipped by annotation are left alone",
		m:    v4,
		in: func() *corev1.Pod {
			p := pod(ctr("uri", env("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://elsewhere")),
				ctr("file", env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/t")), ctr("sidecar"), ctr("app"))
			p.Annotations = map[string]string{"eks.amazonaws.com/skip-containers": "sidecar, other"}
			return p
		}(),
		want: func(p *corev1.Pod) {
			p.Labels = map[string]string{"eks.amazonaws.com/pod-identity": "enabled"}
			p.Spec.Volumes = []corev1.Volume{identityVolume()}
			p.Spec.Containers[3].Env = identityEnv(v4)
			p.Spec.Containers[3].VolumeMounts = []corev1.VolumeMount{identityMount}
		},
	}, {
		name: "reinvocation after another webhook added a container",
		m:    v4,
		in: func() *corev1.Pod {
			p := pod(sidecarDone, ctr("late"))
			p.Labels = map[string]string{"eks.amazonaws.com/pod-identity": "enabled"}
			p.Spec.Volumes = []corev1.Volume{identityVolume()}
			return p
		}(),
		want: func(p *corev1.Pod) {
			p.Spec.Containers[1].Env = identityEnv(v4)
			p.Spec.Containers[1].VolumeMounts = []corev1.VolumeMount{identityMount}
		},
	}, {
		name: "the pod's own volume of that name",
		m:    v4,
		in: func() *corev1.Pod {
			p := pod(ctr("app"))
			p.Spec.Volumes = []corev1.Volume{{Name: "eks-pod-identity-token", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			return p
		}(),
		skip: webhook.SkipConfigured,
	}, {
		name: "labelled, but the volume is not the webhook's",
		m:    v4,
		in: func() *corev1.Pod {
			p := pod(ctr("app"))
			p.Labels = map[string]string{"eks.amazonaws.com/pod-identity": "enabled"}
			v := identityVolume()
			v.Projected.Sources[0].ServiceAccountToken.Audience = "sts.amazonaws.com"
			p.Spec.Volumes = []corev1.Volume{v}
			return p
		}(),
		skip: webhook.SkipConfigured,
	}, {
		name: "a mount at the path",
		m:    v4,
		in: func() *corev1.Pod {
			p := pod(ctr("app"), ctr("other"))
			p.Spec.Containers[1].VolumeMounts = []corev1.VolumeMount{{Name: "mine", MountPath: "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/"}}
			return p
		}(),
		skip: webhook.SkipConfigured,
	}, {
		name: "opt-out annotation",
		m:    v4,
		in: func() *corev1.Pod {
			p := pod(ctr("app"))
			p.Annotations = map[string]string{"podid.dev/skip": "true"}
			return p
		}(),
		skip: webhook.SkipOptOut,
	}, {
		name: "host network",
		m:    v4,
		in: func() *corev1.Pod {
			p := pod(ctr("app"))
			p.Spec.HostNetwork = true
			return p
		}(),
		skip: webhook.SkipHostNetwork,
	}, {
		name: "every container already done",
		m:    v4,
		in: func() *corev1.Pod {
			p := pod(sidecarDone)
			p.Labels = map[string]string{"eks.amazonaws.com/pod-identity": "enabled"}
			p.Spec.Volumes = []corev1.Volume{identityVolume()}
			return p
		}(),
		skip: webhook.SkipUpToDate,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, skip := tt.m.Patch(tt.in.DeepCopy())
			if skip != tt.skip {
				t.Fatalf("skip = %q, want %q (ops %+v)", skip, tt.skip, ops)
			}
			if tt.want == nil {
				if len(ops) != 0 {
					t.Errorf("left alone (%s) with operations %+v", skip, ops)
				}
				return
			}
			got := applyPatch(t, tt.in, ops)
			want := tt.in.DeepCopy()
			tt.want(want)
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("patched pod (-got +want):\n%s", diff)
			}
			// Reinvoked on its own result, the webhook has nothing to add.
			if again, skip := tt.m.Patch(got); len(again) != 0 || skip != webhook.SkipUpToDate {
				t.Errorf("second pass: %+v, %q; want no operations, up_to_date", again, skip)
			}
		})
	}
}

// TestPatchMinimal pins the exact operations: appends, never a
// replacement of an array the pod had, and the label key escaped.
func TestPatchMinimal(t *testing.T) {
	p := pod(ctr("app", env("A", "1")))
	p.Labels = map[string]string{"app": "x"}
	p.Spec.Volumes = []corev1.Volume{}
	ops, _ := webhook.Mutation{FullURI: webhook.FullURIIPv4}.Patch(p)
	got, err := webhook.MarshalPatch(ops)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"op":"add","path":"/metadata/labels/eks.amazonaws.com~1pod-identity","value":"enabled"},` +
		`{"op":"add","path":"/spec/volumes/-","value":{"name":"eks-pod-identity-token","projected":{"sources":[{"serviceAccountToken":{"audience":"pods.eks.amazonaws.com","expirationSeconds":86400,"path":"eks-pod-identity-token"}}]}}},` +
		`{"op":"add","path":"/spec/containers/0/env/-","value":{"name":"AWS_STS_REGIONAL_ENDPOINTS","value":"regional"}},` +
		`{"op":"add","path":"/spec/containers/0/env/-","value":{"name":"AWS_CONTAINER_CREDENTIALS_FULL_URI","value":"http://169.254.170.23/v1/credentials"}},` +
		`{"op":"add","path":"/spec/containers/0/env/-","value":{"name":"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE","value":"/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"}},` +
		`{"op":"add","path":"/spec/containers/0/volumeMounts","value":[{"name":"eks-pod-identity-token","readOnly":true,"mountPath":"/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"}]}]`
	if string(got) != want {
		t.Errorf("patch:\n got %s\nwant %s", got, want)
	}
}
