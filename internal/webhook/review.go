package webhook

import (
	"encoding/json"
	"errors"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kjson "sigs.k8s.io/json"
)

// MaxReviewBytes bounds an AdmissionReview body. The API server refuses
// requests over 3 MiB and etcd objects over 1.5 MiB; a review carries
// the object once on CREATE.
const MaxReviewBytes = 4 << 20

var (
	admissionAPIVersion = admissionv1.SchemeGroupVersion.String()
	podResource         = metav1.GroupVersionResource{Version: "v1", Resource: "pods"}
)

// ErrBadReview is wrapped by DecodeReview's errors: the body is not an
// admission/v1 AdmissionReview with a request.
var ErrBadReview = errors.New("not an admission.k8s.io/v1 AdmissionReview request")

// DecodeReview parses an AdmissionReview request body as the API server
// encodes it (field names case-sensitive, as Kubernetes decodes). It
// accepts only admission.k8s.io/v1 with a request carrying a uid.
func DecodeReview(body []byte) (*admissionv1.AdmissionRequest, error) {
	if len(body) > MaxReviewBytes {
		return nil, fmt.Errorf("%w: body of %d bytes exceeds %d", ErrBadReview, len(body), MaxReviewBytes)
	}
	var ar admissionv1.AdmissionReview
	if err := kjson.UnmarshalCaseSensitivePreserveInts(body, &ar); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadReview, err)
	}
	switch {
	case ar.APIVersion != admissionAPIVersion || ar.Kind != "AdmissionReview":
		return nil, fmt.Errorf("%w: apiVersion %q kind %q", ErrBadReview, ar.APIVersion, ar.Kind)
	case ar.Request == nil:
		return nil, fmt.Errorf("%w: no request", ErrBadReview)
	case ar.Request.UID == "":
		return nil, fmt.Errorf("%w: request without uid", ErrBadReview)
	}
	return ar.Request, nil
}

// PodToCreate returns the pod a request creates, or nil when the request
// is anything else (another resource, a subresource, another operation).
// The pod's namespace is the request's: a pod created through a
// namespaced URL may leave metadata.namespace empty.
func PodToCreate(req *admissionv1.AdmissionRequest) (*corev1.Pod, error) {
	if req.Operation != admissionv1.Create || req.Resource != podResource || req.SubResource != "" {
		return nil, nil
	}
	var pod corev1.Pod
	if err := kjson.UnmarshalCaseSensitivePreserveInts(req.Object.Raw, &pod); err != nil {
		return nil, fmt.Errorf("%w: decoding the pod: %v", ErrBadReview, err)
	}
	pod.Namespace = req.Namespace
	if pod.Spec.ServiceAccountName == "" {
		// The ServiceAccount admission plugin, which runs before
		// webhooks, fills it in; a cluster without it uses "default".
		pod.Spec.ServiceAccountName = "default"
	}
	return &pod, nil
}

// EncodeResponse encodes the AdmissionReview answering request uid:
// allowed, with the patch when there is one.
func EncodeResponse(uid string, ops []Operation) ([]byte, error) {
	resp := &admissionv1.AdmissionResponse{UID: types.UID(uid), Allowed: true}
	if len(ops) > 0 {
		patch, err := MarshalPatch(ops)
		if err != nil {
			return nil, err
		}
		pt := admissionv1.PatchTypeJSONPatch
		resp.Patch, resp.PatchType = patch, &pt
	}
	return json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: admissionAPIVersion, Kind: "AdmissionReview"},
		Response: resp,
	})
}
