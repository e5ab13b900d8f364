package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
)

// Checker answers whether a service account has an association (an
// *Associations). With an error it still answers, from what it has.
type Checker interface {
	Has(ctx context.Context, sa ServiceAccount) (bool, error)
}

// Handler answers AdmissionReview requests for pods (POST, JSON). It
// never denies: a pod it cannot process is admitted unchanged, and the
// failure logged and counted (skip reason "error").
type Handler struct {
	Mutation     Mutation
	Associations Checker
	Logger       *slog.Logger
	Metrics      *Metrics
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reject(w, r, start, http.StatusMethodNotAllowed, errors.New("AdmissionReview requests are POSTed"))
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		h.reject(w, r, start, http.StatusUnsupportedMediaType, errors.New("Content-Type must be application/json"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxReviewBytes))
	var req *admissionv1.AdmissionRequest
	if err == nil {
		req, err = DecodeReview(body)
	}
	if err != nil {
		status := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			status = http.StatusRequestEntityTooLarge
		}
		h.reject(w, r, start, status, err)
		return
	}
	ops, reason := h.review(r.Context(), req)
	out, err := EncodeResponse(string(req.UID), ops)
	if err != nil {
		h.logger().Error("webhook: encoding the patch; admitting unchanged", "err", err, "uid", req.UID)
		reason = SkipError
		out, _ = EncodeResponse(string(req.UID), nil)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
	h.Metrics.admission(reason, time.Since(start))
}

// reject answers a request that is not an AdmissionReview; the API
// server's failurePolicy decides what becomes of the pod.
func (h *Handler) reject(w http.ResponseWriter, r *http.Request, start time.Time, status int, err error) {
	h.logger().Warn("webhook: bad request", "status", status, "err", err, "remote", r.RemoteAddr)
	h.Metrics.admission(SkipBadRequest, time.Since(start))
	http.Error(w, err.Error(), status)
}

// review decides a request: the patch, or why there is none.
func (h *Handler) review(ctx context.Context, req *admissionv1.AdmissionRequest) (ops []Operation, reason SkipReason) {
	log := h.logger().With("uid", req.UID, "namespace", req.Namespace)
	defer func() {
		if p := recover(); p != nil {
			log.Error("webhook: panic while reviewing; admitting unchanged", "panic", fmt.Sprint(p))
			ops, reason = nil, SkipError
		}
	}()
	pod, err := PodToCreate(req)
	if err != nil {
		log.Error("webhook: admitting unchanged", "err", err)
		return nil, SkipError
	}
	if pod == nil {
		return nil, SkipNotPodCreate
	}
	log = log.With("pod", podName(pod, req), "service_account", pod.Spec.ServiceAccountName)
	if r := Precheck(pod); r != SkipNone {
		log.Debug("webhook: pod left alone", "reason", r)
		return nil, r
	}
	sa := ServiceAccount{Namespace: pod.Namespace, Name: pod.Spec.ServiceAccountName}
	has, err := h.Associations.Has(ctx, sa)
	if err != nil {
		log.Warn("webhook: association lookup failed; using the cached answer", "err", err, "has_association", has)
	}
	if !has {
		log.Debug("webhook: pod left alone", "reason", SkipNoAssociation)
		return nil, SkipNoAssociation
	}
	ops, reason = h.Mutation.Patch(pod)
	if reason != SkipNone {
		log.Info("webhook: pod left alone", "reason", reason)
		return nil, reason
	}
	log.Info("webhook: pod mutated", "operations", len(ops))
	return ops, SkipNone
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.Default()
	}
	return h.Logger
}

// podName names a pod in logs: at admission a generated name is not
// chosen yet.
func podName(pod *corev1.Pod, req *admissionv1.AdmissionRequest) string {
	switch {
	case pod.Name != "":
		return pod.Name
	case req.Name != "":
		return req.Name
	}
	return pod.GenerateName + "*"
}
