package webhook

import (
	"encoding/json"
	"path"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// What EKS's pod identity webhook adds to a pod, and what podid's adds.
const (
	// LabelKey is set to LabelValue on every mutated pod.
	LabelKey   = "eks.amazonaws.com/pod-identity"
	LabelValue = "enabled"
	// VolumeName is the projected volume holding the pod's token.
	VolumeName = "eks-pod-identity-token"
	// Audience is the token's audience: EKS Auth accepts no other.
	Audience = "pods.eks.amazonaws.com"
	// TokenExpirationSeconds is the projected token's lifetime.
	TokenExpirationSeconds int64 = 86400
	// TokenPath is the token file's name inside the volume.
	TokenPath = "eks-pod-identity-token"
	// MountPath is where every container gets the volume, read-only.
	MountPath = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"
	// TokenFile is AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE's value.
	TokenFile = MountPath + "/" + TokenPath

	// FullURIIPv4 and FullURIIPv6 are the node agent's credentials
	// endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI) on IPv4 and on
	// IPv6-only clusters.
	FullURIIPv4 = "http://169.254.170.23/v1/credentials"
	FullURIIPv6 = "http://[fd00:ec2::23]/v1/credentials"

	// SkipAnnotation set to "true" on a pod opts it out of mutation.
	SkipAnnotation = "podid.dev/skip"
	// SkipContainersAnnotation lists, comma-separated, the containers
	// of a pod to leave alone (EKS's annotation of the same name).
	SkipContainersAnnotation = "eks.amazonaws.com/skip-containers"
)

// The environment variables the webhook sets.
const (
	EnvFullURI          = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	EnvTokenFile        = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
	EnvRegion           = "AWS_REGION"
	EnvDefaultRegion    = "AWS_DEFAULT_REGION"
	EnvRegionalSTS      = "AWS_STS_REGIONAL_ENDPOINTS"
	regionalSTSEndpoint = "regional"
)

// SkipReason says why a pod was admitted unchanged; it is the "reason"
// label of podid_webhook_skips_total.
type SkipReason string

// The reasons a pod is left alone.
const (
	// SkipNone: the pod was mutated.
	SkipNone SkipReason = ""
	// SkipNotPodCreate: the request is not the creation of a pod.
	SkipNotPodCreate SkipReason = "not_pod_create"
	// SkipOptOut: the pod carries SkipAnnotation "true".
	SkipOptOut SkipReason = "opt_out"
	// SkipHostNetwork: the pod uses the node's network (see Mutation).
	SkipHostNetwork SkipReason = "host_network"
	// SkipNoAssociation: the pod's service account has no association
	// in the cluster.
	SkipNoAssociation SkipReason = "no_association"
	// SkipConfigured: the pod already has a volume named VolumeName or a
	// mount at MountPath that the webhook did not add.
	SkipConfigured SkipReason = "already_configured"
	// SkipUpToDate: the webhook mutated the pod before (a reinvocation)
	// and nothing is left to add.
	SkipUpToDate SkipReason = "up_to_date"
	// SkipBadRequest: the body is not an AdmissionReview request (it is
	// answered 400; the API server's failurePolicy decides).
	SkipBadRequest SkipReason = "bad_request"
	// SkipError: the webhook could not process the request; it admits
	// the pod unchanged rather than block it.
	SkipError SkipReason = "error"
)

// Mutation is what the webhook adds to a pod whose service account has
// an association. Its zero value is not useful: set FullURI.
//
// The rules, in order:
//   - a pod annotated SkipAnnotation: "true" is left alone (SkipOptOut);
//   - a host-network pod is left alone (SkipHostNetwork): it shares its
//     node's network namespace, so it reaches the agent's link-local
//     address only if that node has it, which is not known at admission
//     (no node is chosen yet); such pods are node agents with their own
//     credentials, among them podid's agent itself;
//   - a pod with a volume named VolumeName, or a container mounting
//     something at MountPath, has decided for itself and is left alone
//     (SkipConfigured), unless it is the webhook's own earlier work (the
//     label, and the volume exactly as the webhook makes it): then the
//     containers added since (by other webhooks, before a reinvocation)
//     get the mount and the environment, and nothing else changes;
//   - a container that sets AWS_CONTAINER_CREDENTIALS_FULL_URI or
//     AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, is named in
//     SkipContainersAnnotation, or already mounts MountPath, is left
//     alone; every other container and init container gets the mount,
//     the two credential variables, AWS_STS_REGIONAL_ENDPOINTS=regional
//     unless it sets it, and AWS_REGION and AWS_DEFAULT_REGION set to
//     Region unless it sets either (two different regions would be worse
//     than the container's one).
type Mutation struct {
	// FullURI is AWS_CONTAINER_CREDENTIALS_FULL_URI: FullURIIPv4, or
	// FullURIIPv6 on IPv6-only clusters.
	FullURI string
	// Region is the value of AWS_REGION and AWS_DEFAULT_REGION; empty
	// sets neither.
	Region string
}

// Operation is one RFC 6902 JSON Patch operation.
type Operation struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// Precheck applies the rules that need nothing but the pod (opt-out and
// host network); SkipNone means the association decides.
func Precheck(pod *corev1.Pod) SkipReason {
	if v, ok := pod.Annotations[SkipAnnotation]; ok && strings.EqualFold(strings.TrimSpace(v), "true") {
		return SkipOptOut
	}
	if pod.Spec.HostNetwork {
		return SkipHostNetwork
	}
	return SkipNone
}

// Patch returns the minimal JSON Patch that gives pod, whose service
// account has an association, what it lacks of the mutation; or no
// operations and the reason it is left alone. Applying the patch and
// calling Patch again yields no operations (reinvocation is a no-op).
func (m Mutation) Patch(pod *corev1.Pod) ([]Operation, SkipReason) {
	if r := Precheck(pod); r != SkipNone {
		return nil, r
	}
	reinvoked := false
	if hasVolume(pod) || mountsAnywhere(pod) {
		if !m.isOwnWork(pod) {
			return nil, SkipConfigured
		}
		reinvoked = true
	}
	var ops []Operation
	switch {
	case pod.Labels == nil:
		ops = append(ops, Operation{Op: "add", Path: "/metadata/labels", Value: map[string]string{LabelKey: LabelValue}})
	case pod.Labels[LabelKey] != LabelValue:
		ops = append(ops, Operation{Op: "add", Path: "/metadata/labels/" + escapePointer(LabelKey), Value: LabelValue})
	}
	if !reinvoked {
		ops = appendOps(ops, "/spec/volumes", pod.Spec.Volumes == nil, volume())
	}
	skip := containersToSkip(pod)
	ops = m.patchContainers(ops, "/spec/initContainers", pod.Spec.InitContainers, skip)
	ops = m.patchContainers(ops, "/spec/containers", pod.Spec.Containers, skip)
	if len(ops) == 0 {
		return nil, SkipUpToDate
	}
	return ops, SkipNone
}

func (m Mutation) patchContainers(ops []Operation, base string, cs []corev1.Container, skip map[string]bool) []Operation {
	for i := range cs {
		c := &cs[i]
		if skip[c.Name] || setsCredentials(c) || mounts(c) {
			continue
		}
		at := base + "/" + strconv.Itoa(i)
		ops = appendOps(ops, at+"/env", c.Env == nil, m.env(c)...)
		ops = appendOps(ops, at+"/volumeMounts", c.VolumeMounts == nil, corev1.VolumeMount{Name: VolumeName, ReadOnly: true, MountPath: MountPath})
	}
	return ops
}

// appendOps adds values to the array at path: as one new array when
// the array is absent (or null), else each appended with "-".
func appendOps[T any](ops []Operation, path string, absent bool, values ...T) []Operation {
	if absent {
		return append(ops, Operation{Op: "add", Path: path, Value: values})
	}
	for _, v := range values {
		ops = append(ops, Operation{Op: "add", Path: path + "/-", Value: v})
	}
	return ops
}

// env is what container c lacks of the environment, in the order EKS
// writes it.
func (m Mutation) env(c *corev1.Container) []corev1.EnvVar {
	var out []corev1.EnvVar
	if !setsEnv(c, EnvRegionalSTS) {
		out = append(out, corev1.EnvVar{Name: EnvRegionalSTS, Value: regionalSTSEndpoint})
	}
	if m.Region != "" && !setsEnv(c, EnvRegion) && !setsEnv(c, EnvDefaultRegion) {
		out = append(out, corev1.EnvVar{Name: EnvDefaultRegion, Value: m.Region}, corev1.EnvVar{Name: EnvRegion, Value: m.Region})
	}
	return append(out, corev1.EnvVar{Name: EnvFullURI, Value: m.FullURI}, corev1.EnvVar{Name: EnvTokenFile, Value: TokenFile})
}

func volume() corev1.Volume {
	exp := TokenExpirationSeconds
	return corev1.Volume{
		Name: VolumeName,
		VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Audience: Audience, ExpirationSeconds: &exp, Path: TokenPath,
			}}},
		}},
	}
}

// isOwnWork reports whether the pod's volume and label are the
// webhook's: it mutated this pod before.
func (m Mutation) isOwnWork(pod *corev1.Pod) bool {
	if pod.Labels[LabelKey] != LabelValue {
		return false
	}
	for _, v := range pod.Spec.Volumes {
		if v.Name != VolumeName {
			continue
		}
		p := v.Projected
		if p == nil || len(p.Sources) != 1 || p.Sources[0].ServiceAccountToken == nil {
			return false
		}
		t := p.Sources[0].ServiceAccountToken
		return t.Audience == Audience && t.Path == TokenPath
	}
	return false
}

func hasVolume(pod *corev1.Pod) bool {
	return slices.ContainsFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == VolumeName })
}

func mountsAnywhere(pod *corev1.Pod) bool {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if mounts(&cs[i]) {
				return true
			}
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		for _, vm := range pod.Spec.EphemeralContainers[i].VolumeMounts {
			if path.Clean(vm.MountPath) == MountPath {
				return true
			}
		}
	}
	return false
}

func mounts(c *corev1.Container) bool {
	return slices.ContainsFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool { return path.Clean(vm.MountPath) == MountPath })
}

func setsCredentials(c *corev1.Container) bool {
	return setsEnv(c, EnvFullURI) || setsEnv(c, EnvTokenFile)
}

func setsEnv(c *corev1.Container, name string) bool {
	return slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
}

func containersToSkip(pod *corev1.Pod) map[string]bool {
	v, ok := pod.Annotations[SkipContainersAnnotation]
	if !ok {
		return nil
	}
	skip := map[string]bool{}
	for name := range strings.SplitSeq(v, ",") {
		if name = strings.TrimSpace(name); name != "" {
			skip[name] = true
		}
	}
	return skip
}

// escapePointer escapes one JSON Pointer reference token (RFC 6901).
func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// MarshalPatch encodes ops as a JSON Patch document.
func MarshalPatch(ops []Operation) ([]byte, error) {
	return json.Marshal(ops)
}
