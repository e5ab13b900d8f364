package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/podid/podid/internal/server"
	"github.com/podid/podid/internal/servertest"
)

// benchServer is a server whose request log goes to a file, as podid
// serve's goes to stderr, so the benchmarks include the log's cost.
func benchServer(b *testing.B) *servertest.Server {
	f, err := os.Create(filepath.Join(b.TempDir(), "requests.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return servertest.New(b, servertest.WithConfig(func(cfg *server.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(f, nil))
	}))
}

// BenchmarkDescribeHandler measures the handler alone (no network, no
// SDK): routing, store read, encoding, request ID and logging.
func BenchmarkDescribeHandler(b *testing.B) {
	srv := benchServer(b)
	c := srv.EKS(b)
	createCluster(b, c, "c1")
	a := createAssoc(b, c, "c1", "ns", "sa")
	h := srv.Server.Handler()
	path := "/clusters/c1/pod-identity-associations/" + aws.ToString(a.AssociationId)
	// A cancellable context, as net/http gives every request.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
	cpu.report()
}

// BenchmarkUpdateHandler measures UpdatePodIdentityAssociation through the
// handler as the SDK sends it (with a fresh clientRequestToken), one call
// at a time and from 16 goroutines (durable commits, group-committed).
func BenchmarkUpdateHandler(b *testing.B) {
	srv := benchServer(b)
	c := srv.EKS(b)
	createCluster(b, c, "c1")
	var paths []string
	for i := range 16 {
		a := createAssoc(b, c, "c1", "ns", fmt.Sprint("sa-", i))
		paths = append(paths, "/clusters/c1/pod-identity-associations/"+aws.ToString(a.AssociationId))
	}
	h := srv.Server.Handler()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var tokens atomic.Int64
	// flipped[w]: association w has role2. Each goroutine owns one
	// association at a time, so every update changes its role.
	flipped := make([]bool, len(paths))
	update := func(tb testing.TB, worker int) {
		flipped[worker] = !flipped[worker]
		role := role1
		if flipped[worker] {
			role = role2
		}
		body := fmt.Sprintf(`{"clientRequestToken":"%036d","roleArn":%q}`, tokens.Add(1), role)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodPost, paths[worker], strings.NewReader(body)))
		if rec.Code != http.StatusOK {
			tb.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	b.Run("Serial", func(b *testing.B) {
		b.ReportAllocs()
		cpu := startCPU(b)
		for b.Loop() {
			update(b, 0)
		}
		cpu.report()
	})
	b.Run("Parallel16", func(b *testing.B) {
		b.ReportAllocs()
		var workers atomic.Int64
		cpu := startCPU(b)
		b.SetParallelism(8) // 16 goroutines on 2 CPUs
		b.RunParallel(func(pb *testing.PB) {
			w := int(workers.Add(1)-1) % len(paths)
			for pb.Next() {
				update(b, w)
			}
		})
		cpu.report()
	})
}

// cpuMeter reports the process's CPU time (user+system) per operation,
// which stays meaningful on a machine whose cores are shared with other
// work, unlike ns/op.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) cpuMeter { return cpuMeter{b, processCPU()} }

func (m cpuMeter) report() {
	if m.b.N > 0 {
		m.b.ReportMetric(float64((processCPU()-m.start).Nanoseconds())/float64(m.b.N), "cpu-ns/op")
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
