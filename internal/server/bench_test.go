package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/podid/podid/internal/servertest"
)

// BenchmarkDescribeHandler measures the handler alone (no network, no
// SDK): routing, store read, encoding, request ID and logging.
func BenchmarkDescribeHandler(b *testing.B) {
	srv := servertest.New(b)
	c := srv.EKS(b)
	createCluster(b, c, "c1")
	a := createAssoc(b, c, "c1", "ns", "sa")
	h := srv.Server.Handler()
	path := "/clusters/c1/pod-identity-associations/" + aws.ToString(a.AssociationId)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
