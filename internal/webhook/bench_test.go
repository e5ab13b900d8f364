package webhook_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/podid/podid/internal/webhook"
)

// BenchmarkReview is the webhook's own work on one admission: decode the
// AdmissionReview, compute the patch, encode the response.
func BenchmarkReview(b *testing.B) {
	p := pod(ctr("app", env("A", "1")), ctr("sidecar"))
	p.Spec.InitContainers = []corev1.Container{ctr("init")}
	body := reviewJSON(b, "u1", "default", podJSON(b, p))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req, err := webhook.DecodeReview(body)
		if err != nil {
			b.Fatal(err)
		}
		pod, err := webhook.PodToCreate(req)
		if err != nil {
			b.Fatal(err)
		}
		ops, _ := v4.Patch(pod)
		if _, err := webhook.EncodeResponse(string(req.UID), ops); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAdmission is one admission through the handler over HTTP,
// with the association check against a real podid serve (one call to
// its wait endpoint per admission).
func BenchmarkAdmission(b *testing.B) {
	f := startPodid(b)
	f.associate(b, "default", "app")
	a := webhook.NewAssociations(webhook.AssociationsConfig{Source: f.podid, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = a.Run(ctx) }()
	<-a.Synced()
	srv := httptest.NewServer(&webhook.Handler{Mutation: v4, Associations: a, Logger: slog.New(slog.DiscardHandler)})
	b.Cleanup(srv.Close)
	body := reviewJSON(b, "u1", "default", podJSON(b, pod(ctr("app"))))
	b.ReportAllocs()
	for b.Loop() {
		resp, err := http.Post(srv.URL+webhook.Path, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatal(resp.Status)
		}
	}
}
