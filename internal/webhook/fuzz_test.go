package webhook_test

import (
	"bytes"
	"encoding/json"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/podid/podid/internal/webhook"
)

// FuzzDecodeReview feeds the decoder any bytes: it must not panic, and
// whenever a pod gets a patch, the patch must apply to the object exactly
// as the API server sent it (the API server applies it to that JSON).
func FuzzDecodeReview(f *testing.F) {
	f.Add(reviewJSON(f, "u1", "default", podJSON(f, pod(ctr("app")))))
	f.Add(reviewJSON(f, "u2", "ns", []byte(`{"metadata":{"labels":null},"spec":{"volumes":null,"containers":[{"name":"a","env":null,"volumeMounts":[]}],"initContainers":[{"name":"i"}]}}`)))
	f.Add(reviewJSON(f, "u3", "ns", []byte(`{"metadata":{"labels":{"eks.amazonaws.com/pod-identity":"enabled"}},"spec":{"volumes":[{"name":"eks-pod-identity-token","projected":{"sources":[{"serviceAccountToken":{"audience":"pods.eks.amazonaws.com","path":"eks-pod-identity-token"}}]}}],"containers":[{"name":"a"}]}}`)))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x"}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","operation":"CREATE","resource":{"version":"v1","resource":"pods"},"object":[1]}}`))
	f.Add([]byte(`null`))
	m := webhook.Mutation{FullURI: webhook.FullURIIPv4, Region: "us-east-1"}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := webhook.DecodeReview(body)
		if err != nil {
			return
		}
		p, err := webhook.PodToCreate(req)
		if err != nil || p == nil {
			return
		}
		ops, _ := m.Patch(p)
		if _, err := webhook.EncodeResponse(string(req.UID), ops); err != nil {
			t.Fatalf("encoding the response: %v", err)
		}
		if len(ops) == 0 || !hasObjects(req.Object.Raw, "metadata", "spec") {
			return // the API server always sends both
		}
		if _, err := patchJSON(req.Object.Raw, ops); err != nil {
			t.Fatal(err)
		}
	})
}

// hasObjects reports whether doc is an object whose members keys are
// objects.
func hasObjects(doc []byte, keys ...string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(doc, &m) != nil {
		return false
	}
	for _, k := range keys {
		if v := bytes.TrimSpace(m[k]); len(v) == 0 || v[0] != '{' {
			return false
		}
	}
	return true
}

func podJSON(tb testing.TB, p any) []byte {
	tb.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// reviewJSON is an AdmissionReview as the API server sends it for the
// creation of a pod in namespace.
func reviewJSON(tb testing.TB, uid, namespace string, pod []byte) []byte {
	tb.Helper()
	return podJSON(tb, map[string]any{
		"apiVersion": "admission.k8s.io/v1",
		"kind":       "AdmissionReview",
		"request": map[string]any{
			"uid":       uid,
			"kind":      map[string]string{"group": "", "version": "v1", "kind": "Pod"},
			"resource":  map[string]string{"group": "", "version": "v1", "resource": "pods"},
			"namespace": namespace,
			"operation": string(admissionv1.Create),
			"userInfo":  map[string]any{"username": "tester"},
			"object":    json.RawMessage(pod),
		},
	})
}
