package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/servertest"
	"github.com/podid/podid/internal/store"
)

// BenchmarkClusterReads measures DescribeCluster and ListClusters through
// the handler (no network, no SDK) on 200 clusters with podid-issued
// signing keys, as podid serve creates them: the read path podid bench
// --scale compares with moto's server.
func BenchmarkClusterReads(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "requests.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	iss, err := satoken.NewIssuer(context.Background(), "any")
	if err != nil {
		b.Fatal(err)
	}
	srv := servertest.New(b, servertest.WithConfig(func(cfg *server.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(f, nil))
		// One key set for all clusters: generating 200 RSA keys would
		// take longer than the measurement.
		cfg.NewClusterIssuer = func(context.Context, string) (store.Issuer, error) { return iss, nil }
	}))
	c := srv.EKS(b)
	const clusters = 200
	for i := range clusters {
		createCluster(b, c, fmt.Sprintf("cluster-%03d", i))
	}
	h := srv.Server.Handler()
	get := func(b *testing.B, path string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: status %d: %s", path, rec.Code, rec.Body)
		}
	}
	b.Run("DescribeCluster", func(b *testing.B) {
		b.ReportAllocs()
		cpu := startCPU(b)
		i := 0
		for b.Loop() {
			get(b, fmt.Sprintf("/clusters/cluster-%03d", i%clusters))
			i++
		}
		cpu.report()
	})
	b.Run("ListClusters", func(b *testing.B) {
		b.ReportAllocs()
		cpu := startCPU(b)
		for b.Loop() {
			get(b, "/clusters")
		}
		cpu.report()
	})
}
