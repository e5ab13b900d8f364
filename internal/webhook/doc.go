// Package webhook is podid's mutating admission webhook for pods: it does
// what EKS's built-in pod identity webhook does. A pod whose service
// account has a pod identity association in the cluster gets the label
// eks.amazonaws.com/pod-identity=enabled, the projected token volume
// eks-pod-identity-token, and in each container a read-only mount of it
// and the environment that points AWS SDKs at the node agent (Mutation).
//
// The parts: DecodeReview and PodToCreate read an admission/v1
// AdmissionReview; Mutation.Patch computes the minimal JSON Patch, a
// no-op on reinvocation; Associations caches which service accounts have
// an association, following podid (Podid: the EKS API and the admin
// API's wait); Handler answers reviews and never blocks a pod on its own
// errors; CertFiles and SelfSigned provide the serving certificate;
// Server serves it all over TLS with probes and metrics.
package webhook
